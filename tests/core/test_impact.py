"""The plan's impact of each statement kind, read from a real server: lock, whether it scans or
rewrites, the table's rows and size, the words a person reads, and who uses the tables now."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg

from tests.cli_runner import run
from tests.conftest import DATA, TestDatabase
from wizard.core import impact
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations

KINDS = """
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS pinned boolean;
ALTER TABLE conversations ADD COLUMN archived boolean NOT NULL DEFAULT false;
ALTER TABLE conversations ADD COLUMN ref uuid DEFAULT gen_random_uuid();
ALTER TABLE conversations ADD COLUMN seq serial;
ALTER TABLE conversations ALTER COLUMN title TYPE text;
ALTER TABLE conversations ALTER COLUMN title SET NOT NULL;
ALTER TABLE conversations ADD CONSTRAINT title_short CHECK (length(title) < 500) NOT VALID;
ALTER TABLE conversations ADD CONSTRAINT title_nonempty CHECK (title <> '');
CREATE TABLE IF NOT EXISTS tags (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  label varchar NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tags_conversation_id ON tags (conversation_id);
CREATE INDEX IF NOT EXISTS idx_messages_role ON messages (role);
CREATE INDEX IF NOT EXISTS idx_conversations_title ON conversations (title);
COMMENT ON TABLE tags IS 'labels';
DROP INDEX IF EXISTS idx_nothing;
UPDATE conversations SET pinned = false WHERE pinned IS NULL;
"""


def _with_kinds(migrations: Path) -> Path:
    for path in (DATA / "next_migration").iterdir():
        shutil.copy(path, migrations / path.name)
    (migrations / "003_tags.sql").write_text(KINDS)
    return migrations


def test_each_statement_kind_gets_its_effect_lock_and_words(db: TestDatabase, migrations_copy: Path) -> None:
    migrations = load_migrations(_with_kinds(migrations_copy))
    holder = psycopg.connect(db.url, application_name="report-query")
    holder.execute("SELECT count(*) FROM conversations").fetchone()
    try:
        with connect(db.target) as conn:
            found = impact.plan(conn, migrations[1:], online_rows=1)
    finally:
        holder.close()
    assert found.migrations == ["002_phase2_vision_api", "003_tags"]
    by_sql = {s.sql.splitlines()[0]: s for s in found.statements if s.migration == "003_tags"}

    def effect(prefix: str) -> impact.StatementImpact:
        return next(s for sql, s in by_sql.items() if sql.startswith(prefix))

    assert effect("ALTER TABLE conversations ADD COLUMN IF NOT EXISTS pinned").effect == impact.METADATA
    constant = effect("ALTER TABLE conversations ADD COLUMN archived")
    assert constant.effect == impact.METADATA and constant.impact.startswith("instant: metadata only")
    assert effect("ALTER TABLE conversations ADD COLUMN ref").effect == impact.REWRITE  # volatile default
    assert effect("ALTER TABLE conversations ADD COLUMN seq").effect == impact.REWRITE
    changed = effect("ALTER TABLE conversations ALTER COLUMN title TYPE")
    assert changed.effect == impact.REWRITE and "reads and writes wait" in changed.impact
    assert effect("ALTER TABLE conversations ALTER COLUMN title SET NOT NULL").effect == impact.SCAN
    assert effect("ALTER TABLE conversations ADD CONSTRAINT title_short").effect == impact.METADATA  # NOT VALID
    assert effect("ALTER TABLE conversations ADD CONSTRAINT title_nonempty").effect == impact.SCAN
    table = effect("CREATE TABLE IF NOT EXISTS tags")
    assert table.effect == impact.NEW and "foreign key" in table.impact and table.table is None
    assert effect("CREATE INDEX IF NOT EXISTS idx_tags").effect == impact.NEW  # the table is new
    online = effect("CREATE INDEX IF NOT EXISTS idx_messages_role")
    assert online.effect == impact.ONLINE and "reads and writes continue" in online.impact
    assert "CONCURRENTLY" in online.lock and online.stats is not None and online.stats.rows > 0
    assert online.stats.bytes is not None and online.stats.bytes > 0
    assert effect("COMMENT ON TABLE tags").effect == impact.METADATA
    assert effect("DROP INDEX IF EXISTS").effect == impact.METADATA
    assert effect("UPDATE conversations").effect == impact.OTHER
    assert "idx_messages_role" in found.online and not found.all_or_nothing
    assert any(h.application == "report-query" and "holds AccessShareLock" in h.mode for h in found.sessions)


def test_an_index_kept_in_the_transaction_says_writes_wait(db: TestDatabase) -> None:
    migrations = load_migrations()
    with connect(db.target) as conn:
        found = impact.plan(conn, migrations[1:], online_rows=None)
    index = next(s for s in found.statements if "idx_attachments_storage_key" in s.sql)
    assert index.effect == impact.BUILD
    assert index.impact.startswith("builds inside the transaction")
    assert "reads and writes on attachments" in index.impact
    assert found.all_or_nothing and found.sessions == ()


def test_plan_prints_the_impact_and_its_json_has_every_statement(db: TestDatabase) -> None:
    text = run("--database-url", db.url, "plan", "--online-rows", "1")
    assert text.code == 0, text.text
    assert "No other session holds or waits for a lock on attachments now." in text.out
    assert "002_phase2_vision_api: Phase 2" in text.out
    assert "(14 statements, 12 in one transaction, then 2 index builds online)" in text.out
    assert "impact: builds online after the commit" in text.out and "table: attachments, ~" in text.out
    assert "impact: instant: metadata only" in text.out
    document = run("--database-url", db.url, "plan", "--json", "--no-online")
    assert document.code == 0, document.text
    data = json.loads(document.out)
    assert len(data["statements"]) == 14 and data["online"] == []
    assert {s["effect"] for s in data["statements"]} == {"metadata", "new", "build"}
