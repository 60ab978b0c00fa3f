"""Every migrate and rollback leaves a Markdown report: private, password-free, before and after."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_runner import run
from tests.conftest import TestDatabase
from wizard.core import paths
from wizard.core.doctor import rule_by_id

SECRET = "ReportSecret42"


def _report_path(output: str) -> Path:
    match = re.search(r"^Report: (.+\.md)$", output, re.MULTILINE)
    assert match, output
    return Path(match.group(1))


def test_migrate_and_rollback_reports_show_what_changed_and_never_the_password(db: TestDatabase) -> None:
    url = db.url.replace("postgres:@", f"postgres:{SECRET}@")
    migrated = run("migrate", "--yes", "--skip-backup", "--database-url", url)
    assert migrated.code == 0, migrated.text
    report = _report_path(migrated.out)
    assert report.is_absolute() and report.parent == paths.reports_dir()
    assert report.stat().st_mode & 0o777 == 0o600 and report.parent.stat().st_mode & 0o777 == 0o700
    text = report.read_text()
    assert f"database {db.name}" in text and "PostgreSQL 18" in text and "migration-wizard: " in text
    assert "skipped with --skip-backup" in text
    assert "`ALTER TABLE attachments ADD COLUMN IF NOT EXISTS storage_key varchar` (line 7): ALTER TABLE" in text
    assert "| storage_key |  |  | character varying | YES | NEW |" in text
    assert "| filename | character varying | NO | character varying | NO |  |" in text
    assert "### image_analyses" in text and "Overall: OK" in text
    rolled = run("rollback", "--yes", "--database-url", url)
    back = _report_path(rolled.out).read_text()
    assert "| storage_key | character varying | YES |  |  | REMOVED |" in back
    assert "DROP TABLE IF EXISTS image_analyses CASCADE" in back
    # Every file the wizard wrote (reports, config), but not the practice server's own data.
    written = [p for p in (*paths.data_dir().rglob("*"), *paths.config_dir().rglob("*")) if p.is_file()]
    written = [p for p in written if "practice" not in p.relative_to(p.anchor).parts]
    assert report in written
    assert [p for p in written if SECRET.encode() in p.read_bytes()] == []


def test_a_failed_migration_is_reported_with_nothing_changed(db: TestDatabase, migrations_copy: Path) -> None:
    sql = migrations_copy / "002_phase2_vision_api.sql"
    sql.write_text(sql.read_text().replace("(conversation_id)", "(no_such_column)"))
    result = run(
        "migrate", "--yes", "--skip-backup", "--database-url", db.url, "--migrations-dir", str(migrations_copy)
    )
    assert result.code == 1
    text = _report_path(result.out).read_text()
    assert "failed: Statement 7 (line 26)" in text and "nothing was changed" in text
    rule = rule_by_id("undefined-table")  # column "no_such_column" does not exist: 42703
    assert "## What went wrong and what to do" in text and f"(rule {rule.id}, confidence high)" in text
    assert f"1. {rule.fix[0]}" in text
    assert "| storage_key |" not in text  # before and after are the same: no new column
