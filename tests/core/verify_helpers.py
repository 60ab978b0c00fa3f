"""What the verify tests share: the migrations, the names verify checks, and short ways to
migrate and verify a test database."""

from __future__ import annotations

from typing import Any

from tests.conftest import TestDatabase
from wizard.core import engine
from wizard.core.connection import connect
from wizard.core.migrations import Migration, load_migrations
from wizard.core.runner import RunOptions
from wizard.core.verify import run_verify
from wizard.core.verify_report import CheckResult, VerifyReport

MIGRATIONS = load_migrations()

CHECK_IDS = [
    "attachments_columns",
    "image_analyses_exists",
    "image_analyses_structure",
    "image_analyses_foreign_key",
    "indexes",
    "invalid_indexes",
    "smoke_test",
    "ledger",
]
NEW_ATTACHMENT_COLUMNS = {"storage_key", "public_url", "vision_analysis", "analyzed_at"}
ORIGINAL_ATTACHMENT_COLUMNS = {
    "id",
    "conversation_id",
    "message_id",
    "filename",
    "mime_type",
    "size",
    "url",
    "uploaded_at",
}
IMAGE_ANALYSES_COLUMNS = {
    "id",
    "attachment_id",
    "agent_type",
    "analysis",
    "summary",
    "detected_type",
    "confidence",
    "key_points",
    "metadata",
    "created_at",
}
INDEXES = {
    "idx_attachments_storage_key",
    "idx_attachments_conversation_id",
    "idx_image_analyses_attachment_id",
    "idx_image_analyses_agent_type",
}
# The guide's four CREATE INDEX statements, for databases migrated by hand in a test.
INDEX_DDL = """
CREATE INDEX idx_attachments_storage_key ON attachments (storage_key);
CREATE INDEX idx_attachments_conversation_id ON attachments (conversation_id);
CREATE INDEX idx_image_analyses_attachment_id ON image_analyses (attachment_id);
CREATE INDEX idx_image_analyses_agent_type ON image_analyses (agent_type);
"""


def migrate(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, MIGRATIONS, RunOptions(), lambda e: None)


def verify(db: TestDatabase, migrations: list[Migration] | None = None) -> VerifyReport:
    with connect(db.target) as conn:
        return run_verify(conn, migrations or MIGRATIONS)


def checks_of(report: VerifyReport) -> dict[str, CheckResult]:
    return {c.id: c for c in report.checks}


def statuses_of(report: VerifyReport) -> dict[str, str]:
    return {c.id: c.status for c in report.checks}


def rows_by(check: CheckResult, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in check.rows}
