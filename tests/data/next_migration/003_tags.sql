-- 003 Conversation tags: a migration added after Phase 2, with no code change, to show
-- that a new migration brings its own words (tests/test_next_migration.py).

CREATE TABLE IF NOT EXISTS tags (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  label varchar NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE conversations ADD COLUMN IF NOT EXISTS pinned boolean;

CREATE INDEX IF NOT EXISTS idx_tags_conversation_id ON tags (conversation_id);
