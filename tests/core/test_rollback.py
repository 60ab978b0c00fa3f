"""Rollback against a real embedded PostgreSQL: what would be lost, and undoing 002."""

from __future__ import annotations

import pytest

from tests.conftest import TestDatabase
from wizard.core import engine, ledger, rollback
from wizard.core.connection import connect
from wizard.core.errors import MigrationFailed
from wizard.core.events import Event, MigrationRolledBack, StatementFinished, StatementSkipped
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions
from wizard.core.verify import run_verify

MIGRATIONS = load_migrations()
PHASE2 = MIGRATIONS[1]
NEW_COLUMNS = ("storage_key", "public_url", "vision_analysis", "analyzed_at")
INDEXES = (
    "idx_attachments_storage_key",
    "idx_attachments_conversation_id",
    "idx_image_analyses_attachment_id",
    "idx_image_analyses_agent_type",
)


def _migrate(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, MIGRATIONS, RunOptions(), lambda e: None)


def _impact(db: TestDatabase) -> rollback.RollbackImpact:
    with connect(db.target) as conn:
        return rollback.impact(conn, PHASE2)


def _rollback(db: TestDatabase) -> list[Event]:
    events: list[Event] = []
    with connect(db.target) as conn:
        assert rollback.rollback(conn, PHASE2, RunOptions(), events.append)
    return events


def _table_exists(db: TestDatabase, table: str) -> bool:
    return bool(db.scalar("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",)))


def _attachment_columns(db: TestDatabase) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = 'attachments'"
        ).fetchall()
    return {r[0] for r in rows}


def _indexes(db: TestDatabase) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", (list(INDEXES),)).fetchall()
    return {r[0] for r in rows}


def _ledger_versions(db: TestDatabase) -> set[str]:
    with connect(db.target) as conn:
        return set(ledger.read(conn))


def test_impact_counts_what_would_be_lost_and_rollback_removes_all_of_002(db: TestDatabase) -> None:
    _migrate(db)
    db.execute(
        """
        INSERT INTO image_analyses (attachment_id, agent_type, summary)
        SELECT id, 'design', 'seen' FROM attachments ORDER BY id LIMIT 3;
        UPDATE attachments SET storage_key = 'uploads/' || id
        WHERE id IN (SELECT id FROM attachments ORDER BY id LIMIT 5);
        """
    )
    impact = _impact(db)
    assert impact.recorded and not impact.nothing_to_do
    assert impact.rows_lost == (("image_analyses", 3),)
    assert ("attachments.storage_key", 5) in impact.values_lost
    assert ("attachments.public_url", 0) in impact.values_lost
    assert impact.dependents == () and impact.kept == () and impact.skipped == ()
    assert set(impact.present) == set(PHASE2.expectations.object_keys())

    events = _rollback(db)
    assert not _table_exists(db, "image_analyses")
    assert _attachment_columns(db).isdisjoint(NEW_COLUMNS)
    assert _indexes(db) == set()
    assert _ledger_versions(db) == {"001"}
    with connect(db.target) as conn:
        states = {s.migration.version: s.state for s in engine.status(conn, MIGRATIONS)}
        assert states == {"001": "applied", "002": "pending"}
        assert not run_verify(conn, MIGRATIONS).ok
    done = [e for e in events if isinstance(e, MigrationRolledBack)]
    assert len(done) == 1 and done[0].version == "002" and done[0].kept == ()
    assert len([e for e in events if isinstance(e, StatementFinished)]) == len(PHASE2.down_statements)
    assert not any(isinstance(e, StatementSkipped) for e in events)
    # The application's own rows are untouched.
    assert db.scalar("SELECT count(*) FROM attachments") == 120


def test_an_index_that_existed_before_002_survives_the_rollback(db: TestDatabase) -> None:
    db.execute("CREATE INDEX idx_attachments_conversation_id ON attachments (conversation_id)")
    _migrate(db)
    impact = _impact(db)
    assert impact.kept == ("index:idx_attachments_conversation_id",)
    assert [s.sql for s in impact.skipped] == ["DROP INDEX IF EXISTS idx_attachments_conversation_id"]

    events = _rollback(db)
    assert _indexes(db) == {"idx_attachments_conversation_id"}
    assert not _table_exists(db, "image_analyses")
    skipped = [e for e in events if isinstance(e, StatementSkipped)]
    assert len(skipped) == 1
    assert "DROP INDEX IF EXISTS idx_attachments_conversation_id" in skipped[0].sql
    assert skipped[0].total == len(PHASE2.down_statements)
    done = next(e for e in events if isinstance(e, MigrationRolledBack))
    assert done.kept == ("index:idx_attachments_conversation_id",)


def test_a_column_that_existed_before_002_keeps_its_data_after_rollback(db: TestDatabase) -> None:
    db.execute(
        "ALTER TABLE attachments ADD COLUMN storage_key varchar(500);"
        "UPDATE attachments SET storage_key = 'legacy/' || filename;"
    )
    _migrate(db)
    impact = _impact(db)
    assert "column:attachments.storage_key" in impact.kept
    assert all(name != "attachments.storage_key" for name, _ in impact.values_lost)

    _rollback(db)
    assert _attachment_columns(db) & set(NEW_COLUMNS) == {"storage_key"}
    assert db.scalar("SELECT count(storage_key) FROM attachments") == 120
    assert db.scalar("SELECT storage_key FROM attachments WHERE filename = 'upload-1.png'") == "legacy/upload-1.png"
    # Its index was made by 002, so it goes.
    assert _indexes(db) == set()


def test_a_view_on_image_analyses_is_reported_and_dropped_with_it(db: TestDatabase) -> None:
    _migrate(db)
    db.execute("CREATE VIEW app_recent_analyses AS SELECT id, attachment_id, summary FROM image_analyses")
    impact = _impact(db)
    views = [d for d in impact.dependents if "app_recent_analyses" in d.description]
    assert len(views) == 1
    assert views[0].depends_on == "image_analyses" and views[0].outcome == "dropped"
    assert impact.blocked == ()

    _rollback(db)
    assert not _table_exists(db, "app_recent_analyses")
    assert not _table_exists(db, "image_analyses")


def test_a_view_on_a_new_column_blocks_the_rollback(db: TestDatabase) -> None:
    _migrate(db)
    db.execute("CREATE VIEW app_stored_files AS SELECT id, storage_key FROM attachments")
    impact = _impact(db)
    assert len(impact.blocked) == 1
    blocker = impact.blocked[0]
    assert "app_stored_files" in blocker.description
    assert blocker.depends_on == "attachments.storage_key" and blocker.outcome == "blocks"


def test_a_database_migrated_by_hand_can_still_be_rolled_back(db: TestDatabase) -> None:
    db.execute(PHASE2.sql)
    impact = _impact(db)
    assert not impact.recorded and not impact.nothing_to_do
    assert set(impact.present) == set(PHASE2.expectations.object_keys())
    with connect(db.target) as conn:
        assert rollback.latest_applied(conn, MIGRATIONS) is PHASE2

    _rollback(db)
    assert not _table_exists(db, "image_analyses")
    assert _attachment_columns(db).isdisjoint(NEW_COLUMNS)
    assert _indexes(db) == set()
    assert not _ledger_versions(db)


def test_a_fresh_database_has_nothing_to_roll_back(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        assert rollback.latest_applied(conn, MIGRATIONS) is None
        impact = rollback.impact(conn, PHASE2)
    assert impact.nothing_to_do
    assert not impact.recorded and impact.present == ()
    assert impact.rows_lost == () and impact.values_lost == () and impact.dependents == ()


def test_latest_applied_is_002_once_migrated(db: TestDatabase) -> None:
    _migrate(db)
    with connect(db.target) as conn:
        assert rollback.latest_applied(conn, MIGRATIONS) is PHASE2


def test_a_failing_rollback_leaves_everything_as_it_was(db: TestDatabase) -> None:
    _migrate(db)
    db.execute(
        "INSERT INTO image_analyses (attachment_id, agent_type) SELECT id, 'design' FROM attachments LIMIT 2;"
        "CREATE VIEW app_stored_files AS SELECT id, storage_key FROM attachments;"
    )
    with connect(db.target) as conn, pytest.raises(MigrationFailed) as failure:
        rollback.rollback(conn, PHASE2, RunOptions(), lambda e: None)
    error = failure.value
    assert error.sqlstate == "2BP01" and error.nothing_changed
    assert error.version == "002" and "storage_key" in error.sql
    assert _table_exists(db, "image_analyses")
    assert db.scalar("SELECT count(*) FROM image_analyses") == 2
    assert set(NEW_COLUMNS) <= _attachment_columns(db)
    assert _indexes(db) == set(INDEXES)
    assert _table_exists(db, "app_stored_files")
    assert _ledger_versions(db) == {"001", "002"}


def test_a_view_taken_by_the_cascade_does_not_block_the_rollback(db: TestDatabase) -> None:
    _migrate(db)
    db.execute(
        "CREATE VIEW app_analysed_files AS SELECT a.storage_key, i.summary"
        " FROM image_analyses i JOIN attachments a ON a.id = i.attachment_id"
    )
    impact = _impact(db)
    # The rollback itself goes through: the view is gone with image_analyses before DROP COLUMN runs.
    _rollback(db)
    assert not _table_exists(db, "app_analysed_files")
    assert impact.blocked == ()


def test_every_view_the_cascade_drops_is_reported(db: TestDatabase) -> None:
    _migrate(db)
    db.execute(
        "CREATE VIEW app_analyses AS SELECT id, summary FROM image_analyses;"
        "CREATE VIEW app_analysis_summaries AS SELECT summary FROM app_analyses;"
    )
    impact = _impact(db)
    _rollback(db)
    gone = {"app_analyses", "app_analysis_summaries"}
    assert not any(_table_exists(db, view) for view in gone)
    reported = {d.description.removeprefix("view ") for d in impact.dependents if d.outcome == "dropped"}
    assert gone <= reported


def test_rolling_back_twice_keeps_the_index_the_first_rollback_kept(db: TestDatabase) -> None:
    db.execute("CREATE INDEX idx_attachments_conversation_id ON attachments (conversation_id)")
    _migrate(db)
    _rollback(db)
    assert _indexes(db) == {"idx_attachments_conversation_id"}
    # A second `migration-wizard rollback`, step by step as the CLI does it.
    with connect(db.target) as conn:
        migration = rollback.latest_applied(conn, MIGRATIONS)
        if migration is not None and not rollback.impact(conn, migration).nothing_to_do:
            rollback.rollback(conn, migration, RunOptions(), lambda e: None)
    assert _indexes(db) == {"idx_attachments_conversation_id"}
