"""Verify against a real embedded PostgreSQL: what a user sees after (or instead of) migrating."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TestDatabase
from tests.core.verify_helpers import (
    CHECK_IDS,
    IMAGE_ANALYSES_COLUMNS,
    INDEX_DDL,
    INDEXES,
    MIGRATIONS,
    NEW_ATTACHMENT_COLUMNS,
    ORIGINAL_ATTACHMENT_COLUMNS,
    checks_of,
    migrate,
    rows_by,
    statuses_of,
    verify,
)
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations
from wizard.core.verify import run_verify


def test_a_migrated_database_passes_every_check_in_the_declared_order(db: TestDatabase) -> None:
    migrate(db)
    report = verify(db)
    assert report.ok
    assert [c.id for c in report.checks] == CHECK_IDS
    assert statuses_of(report) == dict.fromkeys(CHECK_IDS, "pass")
    checks = checks_of(report)

    columns = rows_by(checks["attachments_columns"], "column")
    assert set(columns) == NEW_ATTACHMENT_COLUMNS | ORIGINAL_ATTACHMENT_COLUMNS
    assert {name for name, row in columns.items() if row["new"]} == NEW_ATTACHMENT_COLUMNS
    assert {name for name, row in columns.items() if not row["new"]} == ORIGINAL_ATTACHMENT_COLUMNS
    assert all(columns[name]["status"] == "pass" for name in NEW_ATTACHMENT_COLUMNS)
    assert columns["analyzed_at"]["type"] == "timestamp with time zone"

    structure = rows_by(checks["image_analyses_structure"], "column")
    assert set(structure) == IMAGE_ANALYSES_COLUMNS
    assert all(row["new"] and row["status"] == "pass" for row in structure.values())
    assert structure["attachment_id"]["nullable"] == "NO"

    assert set(rows_by(checks["indexes"], "index")) == INDEXES
    assert checks["invalid_indexes"].rows == []
    assert checks["ledger"].rows[0]["recorded"] == "yes"
    assert checks["ledger"].rows[0]["checksum_matches"] is True


def test_a_database_before_migration_fails_and_the_ledger_only_warns(db: TestDatabase) -> None:
    report = verify(db)
    assert not report.ok
    statuses = statuses_of(report)
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
    checks = checks_of(report)
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
    report = verify(db)
    assert not report.ok
    statuses = statuses_of(report)
    assert statuses["indexes"] == "fail"
    assert statuses["attachments_columns"] == "pass"
    assert statuses["image_analyses_exists"] == "pass"
    assert statuses["image_analyses_structure"] == "pass"
    assert statuses["image_analyses_foreign_key"] == "pass"
    assert statuses["smoke_test"] == "pass"
    indexes = rows_by(checks_of(report)["indexes"], "index")
    missing = {name for name, row in indexes.items() if row["status"] == "fail" and row["note"] == "missing"}
    assert missing == INDEXES - {"idx_attachments_storage_key"}
    assert indexes["idx_attachments_storage_key"]["status"] == "pass"
    detail = checks_of(report)["indexes"].detail
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
    report = verify(db)
    checks = checks_of(report)
    columns = rows_by(checks["attachments_columns"], "column")
    assert columns["storage_key"]["type"] == "character varying"
    assert columns["storage_key"]["status"] == "pass"
    assert columns["analyzed_at"]["status"] == "warn"
    assert "ALTER TABLE attachments ALTER COLUMN analyzed_at TYPE timestamptz" in columns["analyzed_at"]["note"]
    assert checks["attachments_columns"].status == "warn"
    structure = rows_by(checks["image_analyses_structure"], "column")
    assert structure["created_at"]["status"] == "warn"
    assert "ALTER TABLE image_analyses ALTER COLUMN created_at TYPE timestamptz" in structure["created_at"]["note"]
    assert checks["image_analyses_structure"].status == "warn"
    assert all(row["status"] == "pass" for name, row in structure.items() if name != "created_at")
    # Warnings do not fail the report.
    assert report.ok
    assert "fail" not in statuses_of(report).values()


def test_a_not_null_storage_key_fails_the_attachments_columns_check(db: TestDatabase) -> None:
    migrate(db)
    db.execute(
        "UPDATE attachments SET storage_key = 'uploads/' || id;"
        "ALTER TABLE attachments ALTER COLUMN storage_key SET NOT NULL;"
    )
    report = verify(db)
    assert not report.ok
    check = checks_of(report)["attachments_columns"]
    assert check.status == "fail"
    row = rows_by(check, "column")["storage_key"]
    assert row["status"] == "fail" and row["nullable"] == "NO"
    assert "NOT NULL" in row["note"] and "storage_key" in check.detail
    assert statuses_of(report)["image_analyses_structure"] == "pass"


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
    report = verify(db)
    assert not report.ok
    checks = checks_of(report)
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
    migrate(db)
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
    migrate(db)
    db.execute("DELETE FROM attachments")
    report = verify(db)
    assert report.ok
    smoke = checks_of(report)["smoke_test"]
    assert smoke.status == "pass"
    steps = {r["step"]: r for r in smoke.rows}
    assert steps["create a test row in empty attachments"]["result"] == "pass"
    assert steps["insert into image_analyses"]["result"] == "pass"
    assert db.scalar("SELECT count(*) FROM attachments") == 0
    assert db.scalar("SELECT count(*) FROM image_analyses") == 0


def test_smoke_test_warns_when_it_cannot_create_a_parent_row_and_verify_goes_on(db: TestDatabase) -> None:
    migrate(db)
    db.execute("DELETE FROM attachments; ALTER TABLE attachments ADD COLUMN owner_id uuid NOT NULL;")
    report = verify(db)
    assert [c.id for c in report.checks] == CHECK_IDS
    smoke = checks_of(report)["smoke_test"]
    assert smoke.status == "warn"
    parent = next(r for r in smoke.rows if r["step"] == "create a test row in empty attachments")
    assert parent["result"] == "warn" and "owner_id" in parent["detail"]
    # The foreign key was still tested, and nothing else is affected.
    bogus = next(r for r in smoke.rows if "does not exist" in r["step"])
    assert bogus["result"] == "pass"
    assert statuses_of(report) == {**dict.fromkeys(CHECK_IDS, "pass"), "smoke_test": "warn"}
    assert report.ok
    owner = rows_by(checks_of(report)["attachments_columns"], "column")["owner_id"]
    assert owner["new"] is False and owner["status"] == ""
    assert db.scalar("SELECT count(*) FROM attachments") == 0


def test_an_invalid_index_fails_both_index_checks_and_suggests_reindex(db: TestDatabase) -> None:
    migrate(db)
    db.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_attachments_storage_key'::regclass")
    report = verify(db)
    assert not report.ok
    checks = checks_of(report)
    indexes = checks["indexes"]
    assert indexes.status == "fail"
    rows = rows_by(indexes, "index")
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
    migrate(db)
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\nSELECT 1;\n")
    changed = load_migrations(migrations_copy)
    assert changed[1].checksum != MIGRATIONS[1].checksum
    report = verify(db, changed)
    ledger_check = checks_of(report)["ledger"]
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
    report = verify(db)
    assert report.ok
    assert statuses_of(report) == {**dict.fromkeys(CHECK_IDS, "pass"), "ledger": "warn"}
    ledger_check = checks_of(report)["ledger"]
    assert "not recorded" in ledger_check.detail
    assert ledger_check.rows == [{"version": "002", "recorded": "no"}]


@pytest.mark.parametrize("migrated", [True, False], ids=["migrated", "not-migrated"])
def test_the_json_report_has_a_stable_shape(db: TestDatabase, migrated: bool) -> None:
    if migrated:
        migrate(db)
    report = verify(db)
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
    migrate(db)
    # analyzed_at made by hand as `timestamp NOT NULL`: the tolerated type, but inserts that
    # leave it out (without this default) would fail, exactly like a NOT NULL storage_key.
    db.execute(
        "ALTER TABLE attachments DROP COLUMN analyzed_at;"
        "ALTER TABLE attachments ADD COLUMN analyzed_at timestamp NOT NULL DEFAULT now();"
        "ALTER TABLE attachments ALTER COLUMN analyzed_at DROP DEFAULT;"
    )
    report = verify(db)
    row = rows_by(checks_of(report)["attachments_columns"], "column")["analyzed_at"]
    assert row["nullable"] == "NO"
    assert row["status"] == "fail"
    assert checks_of(report)["attachments_columns"].status == "fail"
    assert not report.ok
