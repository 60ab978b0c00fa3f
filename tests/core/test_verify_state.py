"""What verify says of each migration, against a real embedded PostgreSQL: applied and verified,
failed, or not applied (and whether the wizard itself rolled it back)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import TestDatabase
from tests.core.verify_helpers import MIGRATIONS, checks_of, migrate, verify
from wizard.core import engine, rollback
from wizard.core.connection import connect
from wizard.core.runner import RunOptions
from wizard.core.verify_report import APPLIED_VERIFIED, FAILED, NOT_APPLIED, MigrationState, VerifyReport


def _rollback(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        assert rollback.rollback(conn, MIGRATIONS[1], RunOptions(), lambda e: None)


def _state(report: VerifyReport) -> MigrationState:
    (state,) = report.migrations
    return state


def test_after_the_wizards_own_rollback_002_is_not_applied_with_when_not_run_by_hand(db: TestDatabase) -> None:
    migrate(db)
    _rollback(db)
    rolled_back_at = db.scalar("SELECT rolled_back_at FROM migration_wizard.rollbacks WHERE version = '002'")
    report = verify(db)
    state = _state(report)
    assert state.state == NOT_APPLIED and state.rolled_back_at == rolled_back_at
    stamp = rolled_back_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert state.sentence == f"002_phase2_vision_api: not applied (rolled back by migration-wizard at {stamp})"
    ledger_check = checks_of(report)["ledger"]
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
    migrate(db)
    _rollback(db)
    state = _state(verify(db))
    assert state.state == NOT_APPLIED and state.rolled_back_at is not None


def test_applied_again_after_a_rollback_is_applied_and_verified(db: TestDatabase) -> None:
    migrate(db)
    _rollback(db)
    migrate(db)
    report = verify(db)
    state = _state(report)
    assert report.ok and state.state == APPLIED_VERIFIED and state.rolled_back_at is None
    assert state.detail.startswith("all 8 checks passed; in the ledger since ")
    assert "rolled_back_at" not in report.to_json()["migrations"][0]


def test_a_database_never_migrated_says_not_applied_without_blaming_anyone(db: TestDatabase) -> None:
    report = verify(db)
    state = _state(report)
    assert state.state == NOT_APPLIED and state.rolled_back_at is None
    assert "migrate applies it" in state.detail
    assert (
        "by hand" not in checks_of(report)["ledger"].detail and "not applied yet" in checks_of(report)["ledger"].detail
    )


def test_a_migrated_database_with_a_missing_index_is_failed_naming_the_check(db: TestDatabase) -> None:
    migrate(db)
    db.execute("DROP INDEX idx_attachments_storage_key")
    state = _state(verify(db))
    assert state.state == FAILED
    assert state.detail.startswith("1 of 8 checks failed: “All 4 indexes exist”; in the ledger since")


def test_a_database_migrated_by_hand_is_applied_and_verified_but_not_in_the_ledger(db: TestDatabase) -> None:
    db.execute(MIGRATIONS[1].sql)
    state = _state(verify(db))
    assert state.state == APPLIED_VERIFIED
    assert state.detail == "all 8 checks passed, 1 with a warning; not recorded in the ledger (run by hand?)"


def test_a_database_partly_migrated_by_hand_is_failed_not_not_applied(db: TestDatabase) -> None:
    db.execute("ALTER TABLE attachments ADD COLUMN storage_key varchar")
    state = _state(verify(db))
    assert state.state == FAILED and "not recorded in the ledger" in state.detail
