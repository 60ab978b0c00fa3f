-- Undo 002: the guide's rollback, one object per statement so that the wizard
-- can keep any object that existed before 002 ran (its ledger row lists them).
-- Every statement is idempotent (IF EXISTS).

DROP TABLE IF EXISTS image_analyses CASCADE;

ALTER TABLE attachments DROP COLUMN IF EXISTS storage_key;
ALTER TABLE attachments DROP COLUMN IF EXISTS public_url;
ALTER TABLE attachments DROP COLUMN IF EXISTS vision_analysis;
ALTER TABLE attachments DROP COLUMN IF EXISTS analyzed_at;

DROP INDEX IF EXISTS idx_attachments_storage_key;
DROP INDEX IF EXISTS idx_attachments_conversation_id;
DROP INDEX IF EXISTS idx_image_analyses_attachment_id;
DROP INDEX IF EXISTS idx_image_analyses_agent_type;
