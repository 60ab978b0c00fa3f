"""Which answer comes first for pg_hba.conf's refusal of an unencrypted connection
(`no pg_hba.conf entry for host ..., no encryption`, or `SSL off` before PostgreSQL 14).

The refusal fits two causes: the server accepts this address, user and database only over
TLS (its lines are `hostssl`), or it has no line for them at all. The text tells which is
more likely by what tried to connect:

- A libpq client (psql, pg_dump, pg_restore, psycopg: "connection to server at ... failed:")
  asks for TLS first by default (sslmode=prefer) and falls back to a plain connection only
  when the server has no TLS. Where TLS was on offer, a server wanting it would have let the
  first attempt in, and a server with no line at all refuses that attempt too ("SSL
  encryption", shown first: doctor.py answers no-pg-hba then). So one plain attempt alone
  means the server has no TLS, and no line for this client: no-pg-hba first.
- Unless the text shows TLS turned off (sslmode=disable or allow, ssl=false), a client that
  connects without TLS unless told to (node-postgres, older pgJDBC, Vert.x), or a managed
  host that requires TLS (Amazon RDS, Azure, Neon, Supabase, DigitalOcean, Heroku, Render,
  Aiven, Google Cloud SQL): then the server wanting TLS comes first, as for any text that
  does not show the client.
"""

from __future__ import annotations

import re

REFUSED_PLAIN = re.compile(
    r"(?:no pg_hba\.conf entry|pg_hba\.conf rejects (?:replication )?connection) .*(?:no encryption|SSL off)"
    r"|\b(?:no encryption|SSL off)\b[^\n]*\bpg_hba\.conf\b",  # the words in another order (a catalog's, mojibake)
    re.IGNORECASE,
)
# A libpq client: libpq's report of an attempt (in English), a libpq tool's prefix, psycopg2, or psycopg's
# own "connection failed:" before libpq's words (in whatever language libpq speaks).
_LIBPQ = re.compile(
    r"connection to server (?:at|on socket) |\b(?:psql|pg_dump|pg_dumpall|pg_restore)(?:\.exe)?: |\bpsycopg2?\b"
    r"|could not connect to server: |^connection failed: ",
    re.IGNORECASE | re.MULTILINE,
)
# (In a URL, a shell's variable, or a program's settings: 'sslmode': 'disable', sslmode => "allow".)
_TLS_OFF = re.compile(
    r"\bssl[_ ]?mode['\"]?\s*(?:=>?|:)\s*['\"]?(?:disable|allow)\b|\bssl['\"]?\s*(?:=>?|:)\s*['\"]?(?:false|0|off)\b"
    r"|\bsslmode%3D(?:disable|allow)\b",
    re.IGNORECASE,
)
_PLAIN_BY_DEFAULT = re.compile(
    r"node_modules[/\\]pg\b|\bpg-protocol\b|\bParser\.parseErrorMessage\b|\borg\.postgresql\.|\bPSQLException\b"
    r"|\bio\.vertx\.pgclient\b",
    re.IGNORECASE,
)
_TLS_ONLY_HOST = re.compile(
    r"\.rds\.amazonaws\.com\b|\.compute(?:-\d)?\.amazonaws\.com\b|\.azure\.com\b|\.neon\.tech\b|\.supabase\.(?:co|com)\b"
    r"|\.ondigitalocean\.com\b|\.render\.com\b|\.aivencloud\.com\b|\bcloudsql\b|\.rlwy\.net\b|\.railway\.app\b"
    r"|\.timescale\.com\b|\.crunchybridge\.com\b"
    r"|\bheroku\b|\bapp\[(?:web|worker|release)\.\d+\]",  # Heroku's log lines: app[web.1]
    re.IGNORECASE,
)


def unlisted_first(text: str) -> bool:
    """Whether, for a refused plain connection, "no line for this client" comes before "the
    server wants TLS" (see the module's docstring)."""
    if not _LIBPQ.search(text) or _TLS_OFF.search(text) or _PLAIN_BY_DEFAULT.search(text):
        return False
    return not _TLS_ONLY_HOST.search(text)
