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

INSERT INTO conversations (id, user_id, agent_id, title)
SELECT ('aaaaaaaa-0000-4000-8000-00000000000' || g)::uuid,
       (ARRAY['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222',
              '33333333-3333-4333-8333-333333333333'])[1 + g % 3]::uuid,
       1 + g % 2, 'Chat ' || g
FROM generate_series(1, 5) g;

INSERT INTO messages (conversation_id, sender, body)
SELECT ('aaaaaaaa-0000-4000-8000-00000000000' || (1 + g % 5))::uuid, 'user', 'Hello ' || g
FROM generate_series(1, 20) g;

INSERT INTO attachments (conversation_id, filename, mime_type, size, url, owner_id)
SELECT ('aaaaaaaa-0000-4000-8000-00000000000' || (1 + g % 5))::uuid, 'photo-' || g || '.jpg', 'image/jpeg',
       20000 + g, 'https://cdn.example.org/photo-' || g || '.jpg', '11111111-1111-4111-8111-111111111111'
FROM generate_series(1, 12) g;
