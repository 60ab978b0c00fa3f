"""Passwords out of every text meant for a human: messages, screens, reports, JSON, logs.

Two sources of knowledge: the connection string itself (`secrets_in`: every form its password
may take, read by what the user meant, so that it works for a string libpq cannot read), and
patterns for text that arrives without one (`redact`: URLs, key=value strings), as the doctor
gets it. libpq's own parse errors quote the token they stopped at, which may be a piece of the
password: `hide_fragments` takes those out.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote

from wizard.core.paste import MASK, clean_paste

# A URL of another scheme (redis://, https://) in free text: its password ends at the last "@" of its word.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]*:)[^\s'\"]*@", re.IGNORECASE)
# A PostgreSQL URL in free text, up to the ":" after its user name; also with the ":" or a "/" missing.
_PG_USERINFO = re.compile(r"\bpostgres(?:ql)?(?:\+[a-z0-9_]+)?(?::/{1,2}|//)[^:/@\s'\"]*:", re.IGNORECASE)
# libpq's connection settings (libpq 18), for where a bare password=... value ends.
_KEYWORDS = (
    "application_name|channel_binding|client_encoding|connect_timeout|dbname|"
    "fallback_application_name|gssdelegation|gssencmode|gsslib|host|hostaddr|keepalives|"
    "keepalives_count|keepalives_idle|keepalives_interval|krbsrvname|load_balance_hosts|"
    "max_protocol_version|min_protocol_version|oauth_client_id|oauth_client_secret|oauth_issuer|"
    "oauth_scope|options|passfile|password|port|replication|require_auth|requirepeer|"
    "scram_client_key|scram_server_key|service|ssl_max_protocol_version|ssl_min_protocol_version|"
    "sslcert|sslcertmode|sslcompression|sslcrl|sslcrldir|sslkey|sslkeylogfile|sslmode|"
    "sslnegotiation|sslpassword|sslrootcert|sslsni|target_session_attrs|tcp_user_timeout|user"
)
# password=... in a key=value string: a quoted value runs to a quote followed by a space or the end
# (a quote inside it may be unescaped), a bare one to the next ` setting=` or the end of the line
# (the password may hold spaces and "=": "password=a b=c" is taken as one).
_KV_PASSWORD = re.compile(
    r"((?<![?&])\bpassword\s*=\s*)('(?:[^'\\\n]|\\.|'(?!\s|\Z))*'?"
    rf"|[^\s'][^\n]*?(?=\s+(?:{_KEYWORDS})\s*=|\s*$))",
    re.IGNORECASE | re.MULTILINE,
)
_KV_PASSWORD_UNQUOTED = re.compile(
    rf"((?<![?&])\bpassword\s*=\s*)(\S[^\n]*?(?=\s+(?:{_KEYWORDS})\s*=|\s*$))",
    re.IGNORECASE | re.MULTILINE,
)
# ?password=... in a URL's query.
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#\s]*)", re.IGNORECASE)
# A password in SQL (CREATE/ALTER ROLE ... [ENCRYPTED] PASSWORD '...'), as another session's
# query in pg_stat_activity shows it: perhaps cut short before its closing quote.
# A backslash is taken as an escape even where it is not one (standard strings): then a little
# more is hidden, never less.
_SQL_PASSWORD = re.compile(r"(\bPASSWORD\s+)(E?'(?:[^'\\]|\\.|'')*(?:'|\Z))", re.IGNORECASE | re.DOTALL)
# What starts a connection string's user info: a scheme, also mistyped (postgresql:/, postgresql//).
_USERINFO_START = re.compile(r"^\s*(?:[A-Za-z][A-Za-z0-9+.-]*:/+|[A-Za-z][A-Za-z0-9+.-]*//|postgres(?:ql)?:)")
_KEY_VALUE = re.compile(r"^\s*[A-Za-z_]\w*\s*=")
# Shorter pieces of a password would hide ordinary words; the patterns still hide them in URLs.
MIN_SECRET = 4
# The same for the parts libpq may split a password into (_pieces), which are more often words.
MIN_PIECE = 6
# Where libpq ends a part of a URL or of a key=value string.
_SPLITS = re.compile(r"[@/?#&=:,%\s'\"\\]")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove passwords from text meant for a human: URLs, key=value strings, known secrets.

    A PostgreSQL URL's password is everything between the ":" after the user name and the last
    "@" on its line: libpq reads up to the first "@", but the password the user meant may hold
    "@", spaces and quotes, so a little more than the password may be hidden, never less."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, MASK)
    text = _hide_url_passwords(text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    text = hide_sql_passwords(text)
    return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)


def hide_sql_passwords(sql: str) -> str:
    """SQL without the passwords it sets (`ALTER ROLE app PASSWORD '...'`): another session's
    query shown as a lock holder may be one."""
    return _SQL_PASSWORD.sub(lambda m: m.group(1) + MASK, sql)


def _hide_url_passwords(text: str) -> str:
    parts: list[str] = []
    done = 0
    for start, end in _url_password_spans(text):
        parts += [text[done:start], MASK]
        done = end
    return "".join(parts) + text[done:]


def _url_password_spans(text: str) -> list[tuple[int, int]]:
    """Each PostgreSQL URL's password in free text: from the ":" after the user name to the last
    "@" before the end of its line or the next URL."""
    starts = list(_PG_USERINFO.finditer(text))
    spans: list[tuple[int, int]] = []
    for number, start in enumerate(starts):
        if spans and start.start() < spans[-1][1]:
            continue
        line_end = text.find("\n", start.end())
        end = len(text) if line_end < 0 else line_end
        if number + 1 < len(starts):
            end = min(end, starts[number + 1].start())
        at = text.rfind("@", start.end(), end)
        if at >= 0:
            spans.append((start.end(), at))
    return spans


def password_spans(text: str, *, parsed: bool = False) -> list[tuple[int, int]]:
    """Where the password stands in a connection string, read by what the user meant rather than
    by libpq's rules, so that it holds also for a string libpq cannot read: in a URL, from the ":"
    after the user name to the last "@"; `?password=` in its query; `password=` in key=value form.
    For a URL libpq did read (`parsed`), the password ends at the first "@", where libpq ended it."""
    spans = [m.span(2) for m in _QUERY_PASSWORD.finditer(text)]
    spans += [m.span(2) for m in _KV_PASSWORD.finditer(text)]
    # Quotes that do not pair up as libpq pairs them ("password='' secret"): up to the next setting.
    spans += [m.span(2) for m in _KV_PASSWORD_UNQUOTED.finditer(text)]
    start = _USERINFO_START.match(text)
    if start or not _KEY_VALUE.match(text):
        begin = start.end() if start else 0
        at = text.find("@", begin) if parsed else text.rfind("@")
        colon = text.find(":", begin, at) if at > begin else -1
        if colon >= 0:
            spans.append((colon + 1, at))
    return [(s, e) for s, e in spans if e > s]


def secrets_in(text: str, password: str | None = None, *, parsed: bool = False) -> tuple[str, ...]:
    """Every form in which the password of a connection string may be shown: as typed, percent-
    decoded and -encoded, JSON-escaped, and (unless libpq read the string: `parsed`, with the
    `password` it found) the parts libpq may quote alone from a string it cannot read. The text
    may be as pasted (quotes, DATABASE_URL=, psql '...')."""
    text = clean_paste(text).url
    return _forms([text[s:e] for s, e in password_spans(text, parsed=parsed)], password, pieces=not parsed)


def secrets_in_text(text: str) -> tuple[str, ...]:
    """The same for the passwords of every connection string in a text (a pasted error message,
    a log): PostgreSQL URLs, other URLs and key=value strings, so that a password the text
    repeats elsewhere is hidden too."""
    spans = _url_password_spans(text) + [m.span(2) for m in _QUERY_PASSWORD.finditer(text)]
    spans += [m.span(2) for m in _KV_PASSWORD.finditer(text)]
    typed = [text[s:e] for s, e in spans]
    typed += [m.group(0)[len(m.group(1)) : -1] for m in _URL_PASSWORD.finditer(text)]
    # A bare password=... up to the next setting, whole only: its parts may be the words after it.
    wide = [m.group(2) for m in _KV_PASSWORD_UNQUOTED.finditer(text)]
    return tuple(sorted({*_forms(typed, None, pieces=True), *_forms(wide, None, pieces=False)}))


def _forms(typed: list[str], password: str | None, *, pieces: bool) -> tuple[str, ...]:
    typed = [value for value in typed if value]
    typed += [value[1:].removesuffix("'") for value in typed if value.startswith("'")]
    typed += [re.sub(r"\\(.)", r"\1", value) for value in typed if "\\" in value]
    found: set[str] = set()
    for value in (*typed, password or ""):
        found |= {value, unquote(value), quote(value, safe=""), quote(unquote(value), safe="")}
    for value in typed if pieces else ():
        found |= _pieces(value)
    # JSON output escapes quotes, backslashes and (by default) every non-ASCII character.
    found |= {json.dumps(value, ensure_ascii=ascii)[1:-1] for value in found for ascii in (True, False)}
    return tuple(sorted(value for value in found if value))


def _pieces(typed: str) -> set[str]:
    """The parts of a password libpq may show alone, having split the string at a character that
    ends a part of a URL or a key=value pair: what comes before, after and between such characters.
    Only long ones: a short part is likely an ordinary word ("pass" in "password")."""
    cuts = [m.start() for m in _SPLITS.finditer(typed)]
    found = {typed[:cut] for cut in cuts} | {typed[cut + 1 :] for cut in cuts}
    found |= {typed[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(typed)], strict=True)}
    return {piece for piece in found if len(piece.strip()) >= MIN_PIECE}


def hide_fragments(message: str, text: str) -> str:
    """libpq's message about a connection string it could not read, without any part of the
    password: libpq quotes the token it stopped at ("invalid percent-encoded token: "p%zz"",
    "unexpected spaces found in "...""), which may be the password, a piece of it, or the user
    name and the password together. A quoted token that overlaps the password is hidden whole,
    and so is any other run of MIN_SECRET characters from the password."""
    spans = password_spans(text)
    if not spans:
        return message
    pieces = {text[s:e] for s, e in spans}
    pieces |= {unquote(piece) for piece in pieces}

    def overlaps(token: str) -> bool:
        found = [m.start() for m in re.finditer(f"(?={re.escape(token)})", text)] if token else []
        if not found:
            return len(token) >= 3 and any(_shared_run(token, piece) >= 3 for piece in pieces)
        return any(s < at + len(token) and at < e for at in found for s, e in spans)

    message = re.sub(r'"([^"]*)"', lambda m: f'"{MASK}"' if overlaps(m.group(1)) else m.group(0), message)
    return _hide_runs(message, pieces)


def _shared_run(a: str, b: str) -> int:
    """The length of the longest run of characters that a and b share."""
    longest = 0
    for start in range(len(a)):
        size = longest + 1
        while start + size <= len(a) and a[start : start + size] in b:
            longest, size = size, size + 1
    return longest


def _hide_runs(message: str, pieces: set[str]) -> str:
    parts: list[str] = []
    index = 0
    while index < len(message):
        size = 0
        while index + size < len(message) and any(message[index : index + size + 1] in p for p in pieces):
            size += 1
        if size >= MIN_SECRET:
            parts.append(MASK)
            index += size
        else:
            parts.append(message[index])
            index += 1
    return "".join(parts)
