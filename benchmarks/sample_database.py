"""The benchmarks' database: the application's baseline schema (the practice database's),
filled with generated rows (most of the volume in messages, attachments and kb_entries, with
believable text widths) until pg_database_size reaches a target size."""

from __future__ import annotations

import random
from typing import Any

import pglast
import psycopg

from wizard.core.practice import load_application

MB = 1024 * 1024

VOCABULARY = (
    "the a an of to in and for with on that this is it be are was can we you they our your image screenshot "
    "button layout colour contrast font header footer menu page mobile desktop spacing margin padding align "
    "please review feedback looks good but consider making larger smaller lighter darker text label icon "
    "user users customer account login password settings dashboard report chart table column row value data "
    "error warning message loading slow fast request response api model token prompt answer question thanks "
    "could would should maybe also however because therefore example first second next last step version "
    "release deploy build test tests failing passing fixed bug issue ticket document section paragraph summary"
)
WORDS = VOCABULARY.split()


# ---------------------------------------------------------------------------------------------
# The database: the application's baseline schema, filled with generated rows
# ---------------------------------------------------------------------------------------------

# Ids are md5 of a name and a number ('bench-...' never meets the sample data's 'user1', 'conv1', ...).
SETUP = """
INSERT INTO users (id, email, display_name, password_hash, created_at)
SELECT md5('bench-user' || g)::uuid, 'bench' || g || '@example.org', 'Bench User ' || g,
       '$2b$12$' || substr(md5('pw' || g) || md5('salt' || g), 1, 53), now() - random() * interval '700 days'
FROM generate_series(1, %(users)s::int) g;

INSERT INTO sessions (user_id, token_hash, expires_at, created_at)
SELECT md5('bench-user' || (1 + g %% %(users)s::int))::uuid, encode(sha256(('tok' || g)::bytea), 'hex'),
       now() + random() * interval '30 days', now() - random() * interval '30 days'
FROM generate_series(1, 2 * %(users)s::int) g;

INSERT INTO agents (id, slug, name, description, system_prompt, model)
SELECT md5('bench-agent' || g)::uuid, 'bench-agent-' || g, 'Bench agent ' || g,
       substr(%(corpus)s, 1 + (g * 997) %% 100000, 120), substr(%(corpus)s, 1 + (g * 7919) %% 100000, 1500),
       (ARRAY['vision-large', 'text-large', 'text-small'])[1 + g %% 3]
FROM generate_series(1, 12) g;

INSERT INTO conversations (id, user_id, agent_id, title, created_at, updated_at)
SELECT md5('bench-conv' || g)::uuid, md5('bench-user' || (1 + g %% %(users)s::int))::uuid,
       md5('bench-agent' || (1 + g %% 12))::uuid, initcap(substr(%(corpus)s, 1 + (g * 31) %% 100000, 40)),
       now() - random() * interval '365 days', now() - random() * interval '30 days'
FROM generate_series(1, %(conversations)s::int) g;

INSERT INTO knowledge_bases (id, user_id, name, description)
SELECT md5('bench-kb' || g)::uuid, md5('bench-user' || (1 + g %% %(users)s::int))::uuid, 'Knowledge base ' || g,
       substr(%(corpus)s, 1 + (g * 53) %% 100000, 200)
FROM generate_series(1, 200) g;

-- as many documents as users
INSERT INTO kb_documents (id, knowledge_base_id, title, source_url, content)
SELECT md5('bench-doc' || g)::uuid, md5('bench-kb' || (1 + g %% 200))::uuid, 'Document ' || g,
       'https://docs.example.org/' || md5('doc' || g) || '.pdf',
       substr(%(corpus)s, 1 + (random() * 90000)::int, 500 + (random() * 1500)::int)
FROM generate_series(1, %(users)s::int) g;

INSERT INTO agent_runs (id, conversation_id, agent_id, status, started_at, finished_at)
SELECT md5('bench-run' || g)::uuid, md5('bench-conv' || (1 + g %% %(conversations)s::int))::uuid,
       md5('bench-agent' || (1 + g %% 12))::uuid, (ARRAY['done', 'done', 'done', 'failed', 'pending'])[1 + g %% 5],
       now() - interval '1 hour', now()
FROM generate_series(1, %(runs)s::int) g;

INSERT INTO tool_calls (run_id, tool_name, input, output)
SELECT md5('bench-run' || (1 + g %% %(runs)s::int))::uuid, (ARRAY['search', 'fetch', 'ocr', 'resize'])[1 + g %% 4],
       jsonb_build_object('query', substr(%(corpus)s, 1 + (random() * 90000)::int, 60), 'limit', 10),
       jsonb_build_object('ok', true, 'text', substr(%(corpus)s, 1 + (random() * 90000)::int,
                          50 + (random() * 400)::int))
FROM generate_series(1, 2 * %(runs)s::int) g;

INSERT INTO api_usage (user_id, model, prompt_tokens, completion_tokens, created_at)
SELECT md5('bench-user' || (1 + g %% %(users)s::int))::uuid,
       (ARRAY['vision-large', 'text-large', 'text-small'])[1 + g %% 3], (random() * 4000)::int,
       (random() * 1000)::int, now() - random() * interval '365 days'
FROM generate_series(1, 5 * %(runs)s::int) g;
"""

# One step of filling: messages (chat text, mostly short, a few long), their attachments
# (file names and long URLs) and knowledge-base chunks. %(first)s::int..%(last)s::int number the messages.
STEP = """
INSERT INTO messages (id, conversation_id, role, content, token_count, created_at)
SELECT md5('bench-msg' || g)::uuid, md5('bench-conv' || (1 + g %% %(conversations)s::int))::uuid,
       CASE WHEN g %% 2 = 0 THEN 'user' ELSE 'assistant' END, t.content, length(t.content) / 4,
       now() - random() * interval '365 days'
FROM generate_series(%(first)s::int, %(last)s::int) g,
     LATERAL (SELECT substr(%(corpus)s, 1 + (random() * 100000)::int, 20 + (random() ^ 2 * 3000)::int + g * 0)
              AS content) t;

INSERT INTO attachments (conversation_id, message_id, filename, mime_type, size, url, uploaded_at)
SELECT md5('bench-conv' || (1 + m %% %(conversations)s::int))::uuid, md5('bench-msg' || m)::uuid, f.name,
       CASE WHEN f.name LIKE '%%.pdf' THEN 'application/pdf' ELSE 'image/' || split_part(f.name, '.', 2) END,
       1000 + (random() * 5000000)::int,
       'https://files.example.org/uploads/' || md5('a' || g) || '/' || md5('b' || g) || '/' || f.name
         || '?X-Signature=' || encode(sha256(('s' || g)::bytea), 'hex'),
       now() - random() * interval '365 days'
FROM generate_series(%(first)s::int, %(last)s::int, 3) g,
     LATERAL (SELECT %(first)s::int + (random() * (%(last)s::int - %(first)s::int))::int + g * 0 AS m) pick,
     LATERAL (SELECT (ARRAY['Screenshot ', 'IMG_', 'scan-', 'mockup_v'])[1 + g %% 4] || g
                     || (ARRAY['.png', '.jpg', '.pdf', '.webp'])[1 + (g / 4) %% 4] AS name) f;

INSERT INTO kb_entries (document_id, chunk_index, content, embedding_ref)
SELECT md5('bench-doc' || (1 + g %% %(users)s::int))::uuid, g %% 50,
       substr(%(corpus)s, 1 + (random() * 99000)::int, 400 + (random() * 800)::int + g * 0),
       'vec_' || md5('e' || g)
FROM generate_series(%(first)s::int, %(last)s::int, 5) g;
"""
STEP_MESSAGES = 8000


def corpus(seed: int = 42, size: int = 110_000) -> str:
    """Text that reads (and compresses) like chat: words and sentences from a small vocabulary."""
    rng = random.Random(seed)
    out: list[str] = []
    length = 0
    while length < size:
        words = rng.choices(WORDS, k=rng.randint(5, 25))
        sentence = " ".join(words).capitalize() + rng.choice([". ", "? ", "! ", ".\n\n"])
        out.append(sentence)
        length += len(sentence)
    return "".join(out)


def fill(uri: str, target_mb: float) -> dict[str, int]:
    """The application's schema with generated rows, until pg_database_size reaches target_mb."""
    text = corpus()
    # the small tables grow with the target too (at 188 MB: 2000 users, 20000 conversations, 10000 runs)
    scale = max(0.05, target_mb / 188)
    counts = {"users": int(2000 * scale), "conversations": int(20000 * scale), "runs": int(10000 * scale)}
    with psycopg.connect(uri, autocommit=True) as conn:
        load_application(conn)
        conn.execute("SELECT setseed(0.42)")
        for statement in statements(SETUP):
            conn.execute(statement, {"corpus": text, **counts})
        first = 1
        while True:
            size = scalar(conn, "SELECT pg_database_size(current_database())") / MB
            if size >= target_mb:
                break
            # smaller steps near the end, so the size lands close to the target
            step = max(500, min(STEP_MESSAGES, int(STEP_MESSAGES * (target_mb - size) / 10)))
            last = first + step - 1
            with conn.transaction():
                for statement in statements(STEP):
                    conn.execute(statement, {"corpus": text, **counts, "first": first, "last": last})
            first = last + 1
        conn.execute("VACUUM ANALYZE")
        return row_counts(conn)


def scalar(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1"
    ).fetchall()]  # fmt: skip
    return {t: int(scalar(conn, f"SELECT count(*) FROM {t}")) for t in tables}


def database_mb(uri: str) -> float:
    with psycopg.connect(uri, autocommit=True) as conn:
        return float(scalar(conn, "SELECT pg_database_size(current_database())")) / MB


def statements(script: str) -> list[str]:
    """A script's statements, one per execute (a query with parameters holds only one)."""
    return list(pglast.split(script, with_parser=False))  # the scanner: %(name)s is no SQL
