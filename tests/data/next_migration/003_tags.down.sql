-- Undo 003, one object per statement (as 002's down file).

DROP TABLE IF EXISTS tags CASCADE;

ALTER TABLE conversations DROP COLUMN IF EXISTS pinned;

DROP INDEX IF EXISTS idx_tags_conversation_id;
