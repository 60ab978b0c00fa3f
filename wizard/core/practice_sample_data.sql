-- A few hundred rows of believable data for the practice database (deterministic).

INSERT INTO users (id, email, display_name, created_at)
SELECT md5('user' || g)::uuid, 'user' || g || '@example.com', 'Practice User ' || g,
       timestamp '2026-01-01' + g * interval '1 day'
FROM generate_series(1, 20) g;

INSERT INTO sessions (user_id, token_hash, expires_at)
SELECT md5('user' || g)::uuid, md5('token' || g), timestamp '2027-01-01'
FROM generate_series(1, 20) g;

INSERT INTO agents (id, slug, name, description, system_prompt, model) VALUES
  (md5('agent1')::uuid, 'design', 'Design reviewer', 'Reviews screenshots and mock-ups', 'You review designs.', 'vision-large'),
  (md5('agent2')::uuid, 'code', 'Code helper', 'Explains code', 'You help with code.', 'text-large'),
  (md5('agent3')::uuid, 'research', 'Researcher', 'Finds and summarises sources', 'You research topics.', 'text-large'),
  (md5('agent4')::uuid, 'docs', 'Document reader', 'Reads PDFs and scans', 'You read documents.', 'vision-large'),
  (md5('agent5')::uuid, 'support', 'Support', 'Answers product questions', 'You answer questions.', 'text-small');

INSERT INTO conversations (id, user_id, agent_id, title, created_at, updated_at)
SELECT md5('conv' || g)::uuid, md5('user' || (1 + g % 20))::uuid, md5('agent' || (1 + g % 5))::uuid,
       'Conversation ' || g, timestamp '2026-02-01' + g * interval '3 hours',
       timestamp '2026-02-01' + g * interval '3 hours' + interval '20 minutes'
FROM generate_series(1, 60) g;

INSERT INTO messages (id, conversation_id, role, content, token_count, created_at)
SELECT md5('msg' || g)::uuid, md5('conv' || (1 + g % 60))::uuid,
       CASE WHEN g % 2 = 0 THEN 'user' ELSE 'assistant' END,
       'Practice message number ' || g, 10 + g % 200,
       timestamp '2026-02-01' + g * interval '10 minutes'
FROM generate_series(1, 300) g;

INSERT INTO attachments (id, conversation_id, message_id, filename, mime_type, size, url, uploaded_at)
SELECT md5('att' || g)::uuid, md5('conv' || (1 + g % 60))::uuid, md5('msg' || (1 + (g * 2) % 300))::uuid,
       'upload-' || g || CASE WHEN g % 3 = 0 THEN '.pdf' ELSE '.png' END,
       CASE WHEN g % 3 = 0 THEN 'application/pdf' ELSE 'image/png' END,
       1000 + g * 137, 'https://files.example.com/upload-' || g,
       timestamp '2026-02-01' + g * interval '1 hour'
FROM generate_series(1, 120) g;

INSERT INTO knowledge_bases (id, user_id, name, description)
SELECT md5('kb' || g)::uuid, md5('user' || g)::uuid, 'Knowledge base ' || g, 'Practice notes'
FROM generate_series(1, 5) g;

INSERT INTO kb_documents (id, knowledge_base_id, title, content)
SELECT md5('doc' || g)::uuid, md5('kb' || (1 + g % 5))::uuid, 'Document ' || g, 'Practice document ' || g
FROM generate_series(1, 20) g;

INSERT INTO kb_entries (document_id, chunk_index, content)
SELECT md5('doc' || (1 + g % 20))::uuid, g / 20, 'Chunk ' || g
FROM generate_series(1, 80) g;

INSERT INTO agent_runs (id, conversation_id, agent_id, status, finished_at)
SELECT md5('run' || g)::uuid, md5('conv' || (1 + g % 60))::uuid, md5('agent' || (1 + g % 5))::uuid,
       'done', timestamp '2026-02-02'
FROM generate_series(1, 40) g;

INSERT INTO tool_calls (run_id, tool_name, input, output)
SELECT md5('run' || (1 + g % 40))::uuid, 'search', jsonb_build_object('q', 'query ' || g), '{"ok": true}'::jsonb
FROM generate_series(1, 60) g;

INSERT INTO api_usage (user_id, model, prompt_tokens, completion_tokens)
SELECT md5('user' || (1 + g % 20))::uuid, 'text-large', 100 + g, 50 + g
FROM generate_series(1, 100) g;
