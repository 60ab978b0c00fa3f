-- 002 Phase 2 Vision API & Cloud Storage
--
-- Adds four nullable columns to attachments, the image_analyses table and four
-- indexes. Every statement is idempotent (IF NOT EXISTS), so running it on a
-- database where someone already ran part of it by hand only adds what is missing.

ALTER TABLE attachments ADD COLUMN IF NOT EXISTS storage_key varchar;
ALTER TABLE attachments ADD COLUMN IF NOT EXISTS public_url text;
ALTER TABLE attachments ADD COLUMN IF NOT EXISTS vision_analysis jsonb;
ALTER TABLE attachments ADD COLUMN IF NOT EXISTS analyzed_at timestamptz;

CREATE TABLE IF NOT EXISTS image_analyses (
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

CREATE INDEX IF NOT EXISTS idx_attachments_storage_key ON attachments (storage_key);
CREATE INDEX IF NOT EXISTS idx_attachments_conversation_id ON attachments (conversation_id);
CREATE INDEX IF NOT EXISTS idx_image_analyses_attachment_id ON image_analyses (attachment_id);
CREATE INDEX IF NOT EXISTS idx_image_analyses_agent_type ON image_analyses (agent_type);

COMMENT ON COLUMN attachments.storage_key IS 'R2 object key of the stored file';
COMMENT ON COLUMN attachments.public_url IS 'CDN URL used to display the file';
COMMENT ON COLUMN attachments.vision_analysis IS 'Latest AI vision analysis result (JSON)';
COMMENT ON COLUMN attachments.analyzed_at IS 'When the vision analysis finished';
COMMENT ON TABLE image_analyses IS 'Vision analyses of an attachment, one row per agent';
