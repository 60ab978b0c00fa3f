-- An AI-agent chat application's schema written independently of migrations/001_baseline.sql,
-- the way a real user's database (made by their ORM) might look: other types and lengths,
-- an extra NOT NULL column on attachments, a view, and a few rows.

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL UNIQUE,
  name text,
  plan varchar(20) NOT NULL DEFAULT 'free',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
  id serial PRIMARY KEY,
  code varchar(40) NOT NULL UNIQUE,
  label text NOT NULL
);

CREATE TABLE conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users(id),
  agent_id integer REFERENCES agents(id),
  title text,
  archived boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  sender varchar(16) NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE attachments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid REFERENCES conversations(id),
  message_id uuid REFERENCES messages(id),
  filename varchar(500) NOT NULL,
  mime_type varchar(255) NOT NULL,
  size integer NOT NULL,
  url text NOT NULL,
  uploaded_at timestamp NOT NULL DEFAULT now(),
  owner_id uuid NOT NULL REFERENCES users(id)
);

CREATE TABLE api_keys (
  id bigserial PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id),
  prefix char(8) NOT NULL,
  hashed text NOT NULL,
  revoked_at timestamptz
);

CREATE VIEW recent_attachments AS
  SELECT id, filename, uploaded_at FROM attachments WHERE uploaded_at > now() - interval '30 days';

INSERT INTO users (id, email, name) VALUES
  ('11111111-1111-4111-8111-111111111111', 'ana@example.org', 'Ana'),
  ('22222222-2222-4222-8222-222222222222', 'ben@example.org', 'Ben'),
  ('33333333-3333-4333-8333-333333333333', 'chloe@example.org', 'Chloé');

INSERT INTO agents (code, label) VALUES ('vision', 'Vision'), ('writer', 'Writer');

INSERT INTO api_keys (user_id, prefix, hashed) VALUES
  ('11111111-1111-4111-8111-111111111111', 'sk_ana01', 'scrypt$c2FsdA$aGFzaGVkLWtleS0x'),
  ('22222222-2222-4222-8222-222222222222', 'sk_ben01', 'scrypt$c2FsdA$aGFzaGVkLWtleS0y');

INSERT INTO conversations (id, user_id, agent_id, title, created_at)
SELECT ('aaaaaaaa-0000-4000-8000-00000000000' || g)::uuid,
       (ARRAY['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222',
              '33333333-3333-4333-8333-333333333333'])[1 + g % 3]::uuid,
       1 + g % 2, 'Chat ' || g, now() - (6 - g) * interval '1 day'
FROM generate_series(1, 5) g;

INSERT INTO messages (id, conversation_id, sender, body, created_at)
SELECT ('bbbbbbbb-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid,
       ('aaaaaaaa-0000-4000-8000-00000000000' || (1 + g % 5))::uuid,
       CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END,
       CASE WHEN g % 2 = 1 THEN 'Here is the picture ' || g ELSE 'I see a chart in picture ' || (g - 1) END,
       now() - (21 - g) * interval '1 hour'
FROM generate_series(1, 20) g;

-- Most files hang on the user's message; two were dropped on the conversation itself.
INSERT INTO attachments (conversation_id, message_id, filename, mime_type, size, url, uploaded_at, owner_id)
SELECT m.conversation_id, CASE WHEN g <= 10 THEN m.id END,
       'upload-' || g || (ARRAY['.jpg', '.png', '.pdf'])[1 + g % 3],
       (ARRAY['image/jpeg', 'image/png', 'application/pdf'])[1 + g % 3],
       20000 + 1373 * g, 'https://cdn.example.org/u/' || c.user_id || '/upload-' || g,
       m.created_at, c.user_id
FROM generate_series(1, 12) g
JOIN messages m ON m.id = ('bbbbbbbb-0000-4000-8000-' || lpad((1 + (2 * g - 2) % 20)::text, 12, '0'))::uuid
JOIN conversations c ON c.id = m.conversation_id;
