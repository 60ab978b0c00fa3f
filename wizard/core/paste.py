"""What people paste where a database URL belongs, and the mended URLs the wizard offers.

Every entry point (--database-url, DATABASE_URL, `profile save`, the Connect screen) reads
the URL through `connection.parse_url`, which cleans it here first; the Connect screen also
calls `clean_paste` as the user types, to show the URL it will use. Only the text *around*
the URL is touched: the URL itself is read by libpq's rules (psycopg.conninfo).

Nothing this module says contains the pasted text: what it reports are fixed words and,
for an assignment, the variable's name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

WHITESPACE = "the whitespace around it"
QUOTES = "the surrounding quotes"
BRACKETS = "the surrounding brackets"
LINE_BREAKS = "the line breaks inside it"
PSQL = '"psql"'
PROMPT = 'the "$" prompt'
MASK = "****"

# Zero-width characters and the byte-order mark come along from web pages and some editors;
# str.strip() does not remove them, and libpq would read them as part of the host or password.
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"
_PAIRS = {'"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019", "<": ">"}
_URLISH = r"(?=[\"'`\u201c\u2018<]*\s*(?:psql\b|[A-Za-z][A-Za-z0-9+.-]*://))"
# `DATABASE_URL=`, `export DATABASE_URL=`, Windows' `set X=` and PowerShell's `$env:X =`, from a
# .env file or a shell line: only when a URL or a psql snippet follows, so that a key=value
# connection string (host=... dbname=...) is never touched.
_ASSIGNMENT = re.compile(r"^((?:export\s+|set\s+|\$env:)?)([A-Za-z_][A-Za-z0-9_]*)\s*=\s*" + _URLISH, re.IGNORECASE)
# Neon's console copies `psql 'postgresql://...'`; `psql -d URL` and `psql --dbname=URL` say the same,
# and psql takes a quoted key=value string there too.
_PSQL = re.compile(r"^psql\s+(?:(?:-d|--dbname)(?:\s*=\s*|\s+))?(?:" + _URLISH + r"|(?=[\"']\s*[a-z_]+\s*=))")
_PROMPT = re.compile(r"^\$\s+(?=psql\b|export\b|[A-Za-z_][A-Za-z0-9_]*\s*=)")
_SCHEME_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LINE_BREAK = re.compile(r"\s*[\r\n]+\s*")


@dataclass(frozen=True)
class Cleaned:
    """The URL the user meant, and what was removed around it (fixed words, never the URL)."""

    url: str = field(repr=False)
    removed: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return cleaned_note(self.removed)


def cleaned_note(removed: Sequence[str]) -> str:
    """'cleaned the pasted URL: removed the surrounding quotes and "psql"'; '' when nothing was."""
    if not removed:
        return ""
    items = list(removed)
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"cleaned the pasted URL: removed {listed}"


def clean_paste(raw: str) -> Cleaned:
    """What the user meant to paste: without whitespace and invisible characters around it,
    surrounding quotes (straight, typographic, backticks) or angle brackets, a leading
    `DATABASE_URL=` / `export DATABASE_URL=` (any variable name), the `psql '...'` wrapper
    that the Neon console copies, or a `$ ` prompt; layers in any order and nesting, as in
    `DATABASE_URL="psql 'postgresql://...'"`. Line breaks inside a URL (a long URL that
    wrapped while being copied) are removed too: a URL never contains one."""
    removed: list[str] = []

    def say(what: str) -> None:
        if what not in removed:
            removed.append(what)

    text = raw
    while True:
        before = text
        stripped = text.strip().strip(_INVISIBLE).strip()
        if stripped != text:
            say(WHITESPACE)
            text = stripped
        if prompt := _PROMPT.match(text):
            say(PROMPT)
            text = text[prompt.end() :]
        elif assignment := _ASSIGNMENT.match(text):
            keyword = " ".join(assignment.group(1).split())
            say(f'"{keyword}{" " if keyword and not keyword.endswith(":") else ""}{assignment.group(2)}="')
            text = text[assignment.end() :]
        elif psql := _PSQL.match(text):
            say(PSQL)
            text = text[psql.end() :]
        elif len(text) >= 2 and _PAIRS.get(text[0]) == text[-1]:
            say(BRACKETS if text[0] == "<" else QUOTES)
            text = text[1:-1]
        if text == before:
            break
    if _SCHEME_URL.match(text) and _LINE_BREAK.search(text):
        say(LINE_BREAKS)
        text = _LINE_BREAK.sub("", text)
    return Cleaned(text, tuple(removed))


# libpq reads the user part up to the first "@" and the host up to the first "/", so the
# password the user meant is everything between the first ":" after the scheme and the last "@".
_USERINFO = re.compile(r"^(postgres(?:ql)?://)([^:/@]*):(.*)@([^@]*)$", re.IGNORECASE | re.DOTALL)
# What breaks a URL's password (or may, with other tools): a % that starts no %XX code counts,
# one that does is taken as already encoded.
_UNSAFE = re.compile(r"%(?![0-9A-Fa-f]{2})|[@/#?: ]")


@dataclass(frozen=True)
class EncodedPassword:
    """The percent-encoding the wizard offers for a password with @ / # ? : % or a space."""

    url: str = field(repr=False)  # the URL with the password encoded: it holds the password
    masked: str  # the same URL with the password shown as ****
    characters: tuple[str, ...]  # the characters that needed encoding, in the order found

    @property
    def how(self) -> str:
        """'write @ as %40 and / as %2F'."""
        parts = ["each space as %20" if c == " " else f"{c} as {quote(c, safe='')}" for c in self.characters]
        return "write " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])

    @property
    def named(self) -> str:
        """'"@" and "/"', for a sentence."""
        names = ["a space" if c == " " else f'"{c}"' for c in self.characters]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def encode_password(raw: str) -> EncodedPassword | None:
    """The URL with its password percent-encoded, when the password holds a character that
    breaks a URL (or may); None when there is nothing to encode."""
    match = _USERINFO.match(raw.strip())
    if not match:
        return None
    scheme, user, password, rest = match.groups()
    found = list(dict.fromkeys(m.group(0) for m in _UNSAFE.finditer(password)))
    if not found:
        return None
    encoded = _UNSAFE.sub(lambda m: quote(m.group(0), safe=""), password)
    return EncodedPassword(f"{scheme}{user}:{encoded}@{rest}", f"{scheme}{user}:{MASK}@{rest}", tuple(found))


def direct_host_url(raw: str, host: str) -> str | None:
    """The connection string with Neon's direct host in place of its `-pooler` host, the
    rest exactly as typed; None when `host` is not a pooler host or is not in the text."""
    if "-pooler." not in host:
        return None
    # After the user part, so that a password that happens to hold the name is left alone.
    start = raw.find(host, raw.find("@") + 1)
    if start < 0:
        start = raw.find(host)
    if start < 0:
        return None
    return raw[:start] + host.replace("-pooler.", ".", 1) + raw[start + len(host) :]


_URL_SSLMODE = re.compile(r"([?&])sslmode=[^&#]*", re.IGNORECASE)
_KEYWORD_SSLMODE = re.compile(r"\bsslmode\s*=\s*\S*")
_REQUIRED_MODES = ("require", "verify-ca", "verify-full")


def sslmode_require_url(raw: str) -> str | None:
    """The connection string with sslmode=require in place of a missing, weaker or misspelled
    one; None when it already asks for encryption. The rest is left exactly as typed."""
    text = raw.strip()
    if not text:
        return None
    if re.match(r"^postgres(?:ql)?://", text, re.IGNORECASE):
        found = _URL_SSLMODE.search(text)
        if found:
            if found.group(0)[len("?sslmode=") :].lower() in _REQUIRED_MODES:
                return None
            return text[: found.start()] + found.group(1) + "sslmode=require" + text[found.end() :]
        fragment = text.find("#", text.rfind("@") + 1)
        base, tail = (text, "") if fragment < 0 else (text[:fragment], text[fragment:])
        # A "?" in the password (libpq reads it as part of the password) starts no query.
        has_query = "?" in base[base.rfind("@") + 1 :]
        return base + ("&" if has_query else "?") + "sslmode=require" + tail
    found = _KEYWORD_SSLMODE.search(text)
    if found:
        if found.group(0).split("=", 1)[1].strip().strip("'").lower() in _REQUIRED_MODES:
            return None
        return text[: found.start()] + "sslmode=require" + text[found.end() :]
    return text + " sslmode=require"
