"""Verify against a real embedded PostgreSQL: what a user sees after (or instead of) migrating."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import TestDatabase
from wizard.core import engine, rollback
from wizard.core.connection import connect
from wizard.core.migrations import Migration, load_migrations
from wizard.core.runner import RunOptions
from wizard.core.verify import run_verify
from wizard.core.verify_report import APPLIED_VERIFIED, FAILED, NOT_APPLIED, CheckResult, MigrationState, VerifyReport

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


def _migrate(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, MIGRATIONS, RunOptions(), lambda e: None)


def _verify(db: TestDatabase, migrations: list[Migration] | None = None) -> VerifyReport:
    with connect(db.target) as conn:
        return run_verify(conn, migrations or MIGRATIONS)


def _checks(report: VerifyReport) -> dict[str, CheckResult]:
    return {c.id: c for c in report.checks}


def _statuses(report: VerifyReport) -> dict[str, str]:
    return {c.id: c.status for c in report.checks}


def _rows_by(check: CheckResult, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in check.rows}


def test_a_migrated_database_passes_every_check_in_the_declared_order(db: TestDatabase) -> None:
    _migrate(db)
    report = _verify(db)
    assert report.ok
    assert [c.id for c in report.checks] == CHECK_IDS
    assert _statuses(report) == dict.fromkeys(CHECK_IDS, "pass")
    checks = _checks(report)

    columns = _rows_by(checks["attachments_columns"], "column")
    assert set(columns) == NEW_ATTACHMENT_COLUMNS | ORIGINAL_ATTACHMENT_COLUMNS
    assert {name for name, row in columns.items() if row["new"]} == NEW_ATTACHMENT_COLUMNS
    assert {name for name, row in columns.items() if not row["new"]} == ORIGINAL_ATTACHMENT_COLUMNS
    assert all(columns[name]["status"] == "pass" for name in NEW_ATTACHMENT_COLUMNS)
    assert columns["analyzed_at"]["type"] == "timestamp with time zone"

    structure = _rows_by(checks["image_analyses_structure"], "column")
    assert set(structure) == IMAGE_ANALYSES_COLUMNS
    assert all(row["new"] and row["status"] == "pass" for row in structure.values())
    assert structure["attachment_id"]["nullable"] == "NO"

    assert set(_rows_by(checks["indexes"], "index")) == INDEXES
    assert checks["invalid_indexes"].rows == []
    assert checks["ledger"].rows[0]["recorded"] == "yes"
    assert checks["ledger"].rows[0]["checksum_matches"] is True


def test_a_database_before_migration_fails_and_the_ledger_only_warns(db: TestDatabase) -> None:
    report = _verify(db)
    assert not report.ok
    statuses = _statuses(report)
    for failing in (
        "attachments_columns",
        "image_analyses_exists",
        "image_analyses_structure",
        "indexes",
        "smoke_test",
    ):
        assert statuses[failing] == "fail", failing
    assert statuses["image_analyses_foreign_key"] == "fail"
    assert statuses["invalid_indexes"] == "pass"
    assert statuses["ledger"] == "warn"
    checks = _checks(report)
    missing = {r["column"] for r in checks["attachments_columns"].rows if r["note"] == "missing"}
    assert missing == NEW_ATTACHMENT_COLUMNS
    assert "image_analyses does not exist" in checks["image_analyses_exists"].detail
    assert {r["index"] for r in checks["indexes"].rows if r["note"] == "missing"} == INDEXES


def test_half_migrated_database_names_exactly_the_missing_indexes(db: TestDatabase) -> None:
    # Someone ran the guide's ALTER TABLEs, its CREATE TABLE and only the first index.
    db.execute(
        """
        ALTER TABLE attachments ADD COLUMN storage_key varchar;
        ALTER TABLE attachments ADD COLUMN public_url text;
        ALTER TABLE attachments ADD COLUMN vision_analysis jsonb;
        ALTER TABLE attachments ADD COLUMN analyzed_at timestamptz;
        CREATE TABLE image_analyses (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          attachment_id uuid NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
          agent_type varchar NOT NULL,
          analysis text,
          summary text,
          detected_type varchar,
          confidence numeric,
          key_points jsonb,
          metadata jsonb,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX idx_attachments_storage_key ON attachments (storage_key);
        """
    )
    report = _verify(db)
    assert not report.ok
    statuses = _statuses(report)
    assert statuses["indexes"] == "fail"
    assert statuses["attachments_columns"] == "pass"
    assert statuses["image_analyses_exists"] == "pass"
    assert statuses["image_analyses_structure"] == "pass"
    assert statuses["image_analyses_foreign_key"] == "pass"
    assert statuses["smoke_test"] == "pass"
    indexes = _rows_by(_checks(report)["indexes"], "index")
    missing = {name for name, row in indexes.items() if row["status"] == "fail" and row["note"] == "missing"}
    assert missing == INDEXES - {"idx_attachments_storage_key"}
    assert indexes["idx_attachments_storage_key"]["status"] == "pass"
    detail = _checks(report)["indexes"].detail
    assert all(name in detail for name in missing) and "idx_attachments_storage_key" not in detail


def test_varchar_500_passes_and_timestamp_without_time_zone_warns_with_the_fix(db: TestDatabase) -> None:
    db.execute(
        """
        ALTER TABLE attachments ADD COLUMN storage_key varchar(500);
        ALTER TABLE attachments ADD COLUMN public_url text;
        ALTER TABLE attachments ADD COLUMN vision_analysis jsonb;
        ALTER TABLE attachments ADD COLUMN analyzed_at timestamp;
        CREATE TABLE image_analyses (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          attachment_id uuid NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
          agent_type varchar NOT NULL,
          analysis text,
          summary text,
          detected_type varchar,
          confidence numeric,
          key_points jsonb,
          metadata jsonb,
          created_at timestamp NOT NULL DEFAULT now()
        );
        """
        + INDEX_DDL
    )
    report = _verify(db)
    checks = _checks(report)
    columns = _rows_by(checks["attachments_columns"], "column")
    assert columns["storage_key"]["type"] == "character varying"
    assert columns["storage_key"]["status"] == "pass"
    assert columns["analyzed_at"]["status"] == "warn"
    assert "ALTER TABLE attachments ALTER COLUMN analyzed_at TYPE timestamptz" in columns["analyzed_at"]["note"]
    assert checks["attachments_columns"].status == "warn"
    structure = _rows_by(checks["image_analyses_structure"], "column")
    assert structure["created_at"]["status"] == "warn"
    assert "ALTER TABLE image_analyses ALTER COLUMN created_at TYPE timestamptz" in structure["created_at"]["note"]
    assert checks["image_analyses_structure"].status == "warn"
    assert all(row["status"] == "pass" for name, row in structure.items() if name != "created_at")
    # Warnings do not fail the report.
    assert report.ok
    assert "fail" not in _statuses(report).values()


def test_a_not_null_storage_key_fails_the_attachments_columns_check(db: TestDatabase) -> None:
    _migrate(db)
    db.execute(
        "UPDATE attachments SET storage_key = 'uploads/' || id;"
        "ALTER TABLE attachments ALTER COLUMN storage_key SET NOT NULL;"
    )
    report = _verify(db)
    assert not report.ok
    check = _checks(report)["attachments_columns"]
    assert check.status == "fail"
    row = _rows_by(check, "column")["storage_key"]
    assert row["status"] == "fail" and row["nullable"] == "NO"
    assert "NOT NULL" in row["note"] and "storage_key" in check.detail
    assert _statuses(report)["image_analyses_structure"] == "pass"


def test_a_missing_foreign_key_fails_and_the_smoke_test_catches_the_bogus_insert(db: TestDatabase) -> None:
    db.execute(
        """
        ALTER TABLE attachments ADD COLUMN storage_key varchar;
        ALTER TABLE attachments ADD COLUMN public_url text;
        ALTER TABLE attachments ADD COLUMN vision_analysis jsonb;
        ALTER TABLE attachments ADD COLUMN analyzed_at timestamptz;
        CREATE TABLE image_analyses (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          attachment_id uuid NOT NULL,
          agent_type varchar NOT NULL,
          analysis text,
          summary text,
          detected_type varchar,
          confidence numeric,
          key_points jsonb,
          metadata jsonb,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        """
        + INDEX_DDL
    )
    report = _verify(db)
    assert not report.ok
    checks = _checks(report)
    fk = checks["image_analyses_foreign_key"]
    assert fk.status == "fail"
    assert "no foreign key from attachment_id to attachments(id)" in fk.detail
    assert fk.rows == [{"columns": "attachment_id", "references": "attachments(id)", "on_delete": "", "status": "fail"}]
    smoke = checks["smoke_test"]
    assert smoke.status == "fail"
    bogus = next(r for r in smoke.rows if "does not exist" in r["step"])
    assert bogus["result"] == "fail" and "accepted" in bogus["detail"]
    # The accepted bogus row was rolled back with everything else.
    assert db.scalar("SELECT count(*) FROM image_analyses") == 0


def test_verify_leaves_nothing_behind_even_when_run_three_times(db: TestDatabase) -> None:
    _migrate(db)
    attachments = db.scalar("SELECT count(*) FROM attachments")
    assert attachments > 0
    with connect(db.target) as conn:
        for _ in range(3):
            assert run_verify(conn, MIGRATIONS).ok
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        # Seen from another session while the verifying one is still connected.
        assert (
            db.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%%'"
            )
            == 0
        )
    assert db.scalar("SELECT count(*) FROM image_analyses") == 0
    assert db.scalar("SELECT count(*) FROM attachments") == attachments
    assert db.scalar("SELECT count(*) FROM attachments WHERE filename LIKE 'migration-wizard-smoke-test%%'") == 0


def test_smoke_test_on_an_empty_attachments_table_creates_and_rolls_back_its_own_parent(db: TestDatabase) -> None:
    _migrate(db)
    db.execute("DELETE FROM attachments")
    report = _verify(db)
    assert report.ok
    smoke = _checks(report)["smoke_test"]
    assert smoke.status == "pass"
    steps = {r["step"]: r for r in smoke.rows}
    assert steps["create a test row in empty attachments"]["result"] == "pass"
    assert steps["insert into image_analyses"]["result"] == "pass"
    assert db.scalar("SELECT count(*) FROM attachments") == 0
    assert db.scalar("SELECT count(*) FROM image_analyses") == 0


def test_smoke_test_warns_when_it_cannot_create_a_parent_row_and_verify_goes_on(db: TestDatabase) -> None:
    _migrate(db)
    db.execute("DELETE FROM attachments; ALTER TABLE attachments ADD COLUMN owner_id uuid NOT NULL;")
    report = _verify(db)
    assert [c.id for c in report.checks] == CHECK_IDS
    smoke = _checks(report)["smoke_test"]
    assert smoke.status == "warn"
    parent = next(r for r in smoke.rows if r["step"] == "create a test row in empty attachments")
    assert parent["result"] == "warn" and "owner_id" in parent["detail"]
    # The foreign key was still tested, and nothing else is affected.
    bogus = next(r for r in smoke.rows if "does not exist" in r["step"])
    assert bogus["result"] == "pass"
    assert _statuses(report) == {**dict.fromkeys(CHECK_IDS, "pass"), "smoke_test": "warn"}
    assert report.ok
    owner = _rows_by(_checks(report)["attachments_columns"], "column")["owner_id"]
    assert owner["new"] is False and owner["status"] == ""
    assert db.scalar("SELECT count(*) FROM attachments") == 0


def test_an_invalid_index_fails_both_index_checks_and_suggests_reindex(db: TestDatabase) -> None:
    _migrate(db)
    db.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_attachments_storage_key'::regclass")
    report = _verify(db)
    assert not report.ok
    checks = _checks(report)
    indexes = checks["indexes"]
    assert indexes.status == "fail"
    rows = _rows_by(indexes, "index")
    assert rows["idx_attachments_storage_key"]["status"] == "fail"
    assert "INVALID" in rows["idx_attachments_storage_key"]["note"]
    assert all(row["status"] == "pass" for name, row in rows.items() if name != "idx_attachments_storage_key")
    invalid = checks["invalid_indexes"]
    assert invalid.status == "fail"
    assert invalid.rows == [
        {
            "index": "idx_attachments_storage_key",
            "table": "attachments",
            "fix": "REINDEX INDEX idx_attachments_storage_key;",
        }
    ]
    assert "idx_attachments_storage_key" in invalid.detail


def test_a_migration_file_changed_after_it_was_applied_warns_of_checksum_drift(
    db: TestDatabase, migrations_copy: Path
) -> None:
    _migrate(db)
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\nSELECT 1;\n")
    changed = load_migrations(migrations_copy)
    assert changed[1].checksum != MIGRATIONS[1].checksum
    report = _verify(db, changed)
    ledger_check = _checks(report)["ledger"]
    assert ledger_check.status == "fail"
    assert "checksum drift" in ledger_check.detail
    assert ledger_check.rows[0]["checksum_matches"] is False
    # A changed file fails verify (CI notices), and the migration is said to be modified.
    assert not report.ok
    (state,) = report.migrations
    assert state.state == "modified"
    assert "not the one applied" in state.detail


def test_a_database_migrated_by_hand_warns_that_002_is_not_recorded(db: TestDatabase) -> None:
    db.execute(MIGRATIONS[1].sql)
    report = _verify(db)
    assert report.ok
    assert _statuses(report) == {**dict.fromkeys(CHECK_IDS, "pass"), "ledger": "warn"}
    ledger_check = _checks(report)["ledger"]
    assert "not recorded" in ledger_check.detail
    assert ledger_check.rows == [{"version": "002", "recorded": "no"}]


@pytest.mark.parametrize("migrated", [True, False], ids=["migrated", "not-migrated"])
def test_the_json_report_has_a_stable_shape(db: TestDatabase, migrated: bool) -> None:
    if migrated:
        _migrate(db)
    report = _verify(db)
    data = report.to_json()
    assert set(data) == {"ok", "migrations", "checks"}
    assert data["ok"] is report.ok and isinstance(data["ok"], bool)
    assert data["migrations"] == [
        {
            "version": "002",
            "name": "phase2_vision_api",
            "state": "applied_verified" if migrated else "not_applied",
            "detail": report.migrations[0].detail,
        }
    ]
    assert [c["id"] for c in data["checks"]] == CHECK_IDS
    for check in data["checks"]:
        assert set(check) == {"id", "title", "status", "detail", "rows"}
        assert check["status"] in ("pass", "warn", "fail")
        assert isinstance(check["title"], str) and check["title"]
        assert isinstance(check["detail"], str)
        assert isinstance(check["rows"], list) and all(isinstance(r, dict) for r in check["rows"])
    assert json.loads(json.dumps(data, default=str))["checks"][0]["id"] == "attachments_columns"


def test_a_tolerated_timestamp_type_does_not_hide_a_wrong_not_null(db: TestDatabase) -> None:
    _migrate(db)
    # analyzed_at made by hand as `timestamp NOT NULL`: the tolerated type, but inserts that
    # leave it out (without this default) would fail, exactly like a NOT NULL storage_key.
    db.execute(
        "ALTER TABLE attachments DROP COLUMN analyzed_at;"
        "ALTER TABLE attachments ADD COLUMN analyzed_at timestamp NOT NULL DEFAULT now();"
        "ALTER TABLE attachments ALTER COLUMN analyzed_at DROP DEFAULT;"
    )
    report = _verify(db)
    row = _rows_by(_checks(report)["attachments_columns"], "column")["analyzed_at"]
    assert row["nullable"] == "NO"
    assert row["status"] == "fail"
    assert _checks(report)["attachments_columns"].status == "fail"
    assert not report.ok


# What verify says of each migration: applied and verified, failed, or not applied.


def _rollback(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        assert rollback.rollback(conn, MIGRATIONS[1], RunOptions(), lambda e: None)


def _state(report: VerifyReport) -> MigrationState:
    (state,) = report.migrations
    return state


def test_after_the_wizards_own_rollback_002_is_not_applied_with_when_not_run_by_hand(db: TestDatabase) -> None:
    _migrate(db)
    _rollback(db)
    rolled_back_at = db.scalar("SELECT rolled_back_at FROM migration_wizard.rollbacks WHERE version = '002'")
    report = _verify(db)
    state = _state(report)
    assert state.state == NOT_APPLIED and state.rolled_back_at == rolled_back_at
    stamp = rolled_back_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert state.sentence == f"002_phase2_vision_api: not applied (rolled back by migration-wizard at {stamp})"
    ledger_check = _checks(report)["ledger"]
    assert ledger_check.status == "warn"
    assert f"rolled it back at {stamp}" in ledger_check.detail and "by hand" not in ledger_check.detail
    assert ledger_check.rows == [{"version": "002", "recorded": "no", "rolled_back_at": stamp}]
    data = report.to_json()["migrations"][0]
    assert data["state"] == "not_applied"
    assert datetime.fromisoformat(data["rolled_back_at"]) == rolled_back_at.replace(microsecond=0)
    assert not report.ok
    with connect(db.target) as conn:  # status still calls it pending: migrate applies it again
        assert [s.state for s in engine.status(conn, MIGRATIONS)] == ["applied", "pending"]


def test_a_rollback_that_kept_an_older_index_still_leaves_002_not_applied(db: TestDatabase) -> None:
    db.execute("CREATE INDEX idx_attachments_conversation_id ON attachments (conversation_id)")
    _migrate(db)
    _rollback(db)
    state = _state(_verify(db))
    assert state.state == NOT_APPLIED and state.rolled_back_at is not None


def test_applied_again_after_a_rollback_is_applied_and_verified(db: TestDatabase) -> None:
    _migrate(db)
    _rollback(db)
    _migrate(db)
    report = _verify(db)
    state = _state(report)
    assert report.ok and state.state == APPLIED_VERIFIED and state.rolled_back_at is None
    assert state.detail.startswith("all 8 checks passed; in the ledger since ")
    assert "rolled_back_at" not in report.to_json()["migrations"][0]


def test_a_database_never_migrated_says_not_applied_without_blaming_anyone(db: TestDatabase) -> None:
    report = _verify(db)
    state = _state(report)
    assert state.state == NOT_APPLIED and state.rolled_back_at is None
    assert "migrate applies it" in state.detail
    assert "by hand" not in _checks(report)["ledger"].detail and "not applied yet" in _checks(report)["ledger"].detail


def test_a_migrated_database_with_a_missing_index_is_failed_naming_the_check(db: TestDatabase) -> None:
    _migrate(db)
    db.execute("DROP INDEX idx_attachments_storage_key")
    state = _state(_verify(db))
    assert state.state == FAILED
    assert state.detail.startswith("1 of 8 checks failed: “All 4 indexes exist”; in the ledger since")


def test_a_database_migrated_by_hand_is_applied_and_verified_but_not_in_the_ledger(db: TestDatabase) -> None:
    db.execute(MIGRATIONS[1].sql)
    state = _state(_verify(db))
    assert state.state == APPLIED_VERIFIED
    assert state.detail == "all 8 checks passed, 1 with a warning; not recorded in the ledger (run by hand?)"


def test_a_database_partly_migrated_by_hand_is_failed_not_not_applied(db: TestDatabase) -> None:
    db.execute("ALTER TABLE attachments ADD COLUMN storage_key varchar")
    state = _state(_verify(db))
    assert state.state == FAILED and "not recorded in the ledger" in state.detail
