"""Reading a DATABASE_URL, describing its target without the password, and connecting.

URLs are parsed by psycopg's conninfo parser (libpq's rules); this module only adds
the checks and explanations a non-expert needs, and the Neon-specific adjustments.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from wizard.core.doctor import diagnose, from_rule
from wizard.core.errors import ConnectError, InputError

APPLICATION_NAME = "migration-wizard"
DEFAULT_CONNECT_TIMEOUT = 15.0
SLOW_CONNECT_AFTER = 2.0
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MASK = "****"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]*:)[^\s'\"]*@", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove passwords from text meant for a human: URLs, key=value strings, known secrets."""
    for secret in sorted(secrets, key=len, reverse=True):
        # Very short secrets would mangle ordinary words; the patterns below still catch them in URLs.
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
    return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)


@dataclass(frozen=True)
class Target:
    """A database to work on. `conninfo` holds the password: never show it, use describe()."""

    conninfo: str = field(repr=False)
    host: str
    port: str
    database: str
    user: str
    practice: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/") or (len(self.host) > 1 and self.host[1] == ":")

    @property
    def is_neon(self) -> bool:
        return self.host.endswith(".neon.tech")

    @property
    def is_pooler(self) -> bool:
        return "-pooler." in self.host

    @property
    def direct_host(self) -> str:
        """The host without Neon's `-pooler` suffix: the endpoint to change a schema through."""
        return self.host.replace("-pooler.", ".", 1)

    @property
    def pooler_advice(self) -> str:
        """Why a migration should use the direct host: one wording for every screen and command."""
        if not self.is_pooler:
            return ""
        return (
            f'{self.host} is Neon\'s pooled endpoint ("-pooler"): it shares server connections between'
            " clients, which suits the app but not schema changes. The wizard works through it (one"
            f" transaction, transaction-scoped locks), but the direct host {self.direct_host} is the safer choice."
        )

    def describe(self) -> str:
        if self.practice:
            return f"practice database (embedded PostgreSQL), database {self.database}, user {self.user}"
        where = f"local socket {self.host}" if self.is_socket else f"host {self.host}"
        if self.port and self.port != "5432":
            where += f":{self.port}"
        return f"{where}, database {self.database}, user {self.user}"

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def _secrets_of(raw: str, password: str | None) -> tuple[str, ...]:
    found: set[str] = set()
    if password:
        found |= {password, quote(password, safe="")}
    # The password as typed, up to the last "@": covers one that libpq split at a stray "@".
    match = re.match(r"^[^:/]+://[^:/@]*:(.*)@", raw)
    if match and match.group(1):
        found.add(match.group(1))
    return tuple(found)


def parse_url(raw: str, *, practice: bool = False) -> Target:
    """Parse a DATABASE_URL (or a key=value conninfo string) into a Target, or raise InputError."""
    text = raw.strip()
    if not text:
        raise InputError(
            "No database URL was given.",
            fix=("Pass --database-url, set the DATABASE_URL environment variable, or use --practice.",),
        )
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() not in ("postgres", "postgresql"):
        name = scheme.group(1)
        hint = (
            f"Remove '+{name.split('+', 1)[1]}': that is a SQLAlchemy driver name, not part of a PostgreSQL URL."
            if name.lower().startswith(("postgres+", "postgresql+"))
            else "A PostgreSQL URL starts with postgresql:// (copy it from your provider's console)."
        )
        raise InputError(f"The URL starts with '{name}://', which is not a PostgreSQL URL.", fix=(hint,))
    if not scheme and "=" not in text:
        raise InputError(
            "That is not a database URL: it should start with postgresql://.",
            fix=("Copy the URL again from your provider's console (Neon: Dashboard > Connect).",),
        )
    try:
        params: dict[str, Any] = conninfo_to_dict(text)
    except psycopg.ProgrammingError as exc:
        problem = redact(str(exc).strip().splitlines()[0], (text,))
        fix = ["Copy the URL again from your provider's console (Neon: Dashboard > Connect)."]
        if "@" in text and text.count("@") > 1:
            fix.insert(0, _percent_encoding_hint())
        raise InputError(f"The database URL could not be read: {problem}.", fix=tuple(fix)) from None
    password = params.get("password")
    secrets = _secrets_of(text, password)
    host = str(params.get("host") or "")
    dbname = str(params.get("dbname") or "")
    if "@" in host or "@" in dbname or (scheme and password is None and "/" in dbname):
        found = from_rule("password-encoding")
        raise InputError(
            "The password in the URL seems to contain a character (@ / # ?) that must be percent-encoded.",
            fix=found.fix,
            diagnosis=found,
        )
    if scheme and not params.get("dbname"):
        raise InputError(
            "The URL has no database name.",
            fix=("Add it after the host, for example postgresql://user:password@host/neondb.",),
        )
    sslmode = params.get("sslmode")
    if sslmode is not None and sslmode not in SSLMODES:
        found = from_rule("sslmode-invalid")
        raise InputError(
            f"The URL asks for sslmode={sslmode}, which is not a valid mode.", fix=found.fix, diagnosis=found
        )
    notes: list[str] = []
    if host.endswith(".neon.tech") and sslmode is None:
        params["sslmode"] = "require"
        notes.append("Neon accepts only encrypted connections: added sslmode=require.")
    return Target(
        conninfo=make_conninfo("", **params),
        host=host or "localhost",
        port=str(params.get("port") or "5432"),
        database=str(params.get("dbname") or params.get("user") or ""),
        user=str(params.get("user") or ""),
        practice=practice,
        secrets=secrets,
        notes=tuple(notes),
    )


def _percent_encoding_hint() -> str:
    return (
        "Percent-encode special characters in the password: @ as %40, / as %2F, # as %23, ? as %3F, "
        ": as %3A (or set the password again in the provider's console)."
    )


def connect(
    target: Target,
    *,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    on_slow: Callable[[], None] | None = None,
    slow_after: float = SLOW_CONNECT_AFTER,
) -> psycopg.Connection[tuple[Any, ...]]:
    """Open an autocommit connection; the caller opens transactions explicitly.

    Server-side prepared statements are off: a transaction-mode pooler (Neon's
    `-pooler` hosts) would hand the next query to another server connection.
    """
    timer = threading.Timer(slow_after, on_slow) if on_slow else None
    if timer:
        timer.daemon = True
        timer.start()
    extra: dict[str, Any] = {}
    if "application_name" not in conninfo_to_dict(target.conninfo):
        extra["application_name"] = APPLICATION_NAME
    try:
        return psycopg.connect(
            target.conninfo,
            connect_timeout=max(1, round(timeout)),
            autocommit=True,
            prepare_threshold=None,
            **extra,
        )
    except psycopg.Error as exc:
        raw = target.redact(str(exc).strip())
        found = diagnose(raw, sqlstate=getattr(exc, "sqlstate", None))
        sentence = f"Cannot connect to {target.describe()}: {found.title}."
        raise ConnectError(sentence, fix=found.fix, detail=raw, diagnosis=found) from None
    finally:
        if timer:
            timer.cancel()


def server_version(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_setting('server_version')").fetchone()
    return str(row[0]) if row else "unknown"


_PSQL_WRAPPER = re.compile(r"^psql\s+(['\"])(.*)\1\s*$", re.DOTALL)
_ASSIGNMENT = re.compile(r"^(?:export\s+|set\s+|\$env:)?DATABASE_URL\s*=\s*", re.IGNORECASE)


def clean_pasted(raw: str) -> str:
    """What the user meant to paste: without surrounding whitespace and quotes, a leading
    `DATABASE_URL=` / `export DATABASE_URL=` (or Windows' `set`/`$env:`), or the
    `psql '...'` wrapper that the Neon console copies."""
    text = raw.strip()
    text = _ASSIGNMENT.sub("", text).strip()
    wrapped = _PSQL_WRAPPER.match(text)
    if wrapped:
        text = wrapped.group(2).strip()
    elif text.startswith("psql "):
        text = text[5:].strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    return text


def encoded_password_url(raw: str) -> str | None:
    """The URL with its password percent-encoded, when the password holds a character
    (@ / # ? :) that breaks the URL; None when the URL needs no such fix.

    libpq splits the user part at the first '@' and the path at the first '/', so the
    password is taken as everything between the first ':' after the scheme and the
    last '@' before the host."""
    match = re.match(r"^(postgres(?:ql)?://)([^:/@]*):(.*)@([^@]*)$", raw.strip(), re.IGNORECASE)
    if not match:
        return None
    scheme, user, password, rest = match.groups()
    if not any(ch in password for ch in "@/#?:") or "%" in password:
        return None
    return f"{scheme}{user}:{quote(password, safe='')}@{rest}"


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
        fragment = text.find("#")
        base, tail = (text, "") if fragment < 0 else (text[:fragment], text[fragment:])
        return base + ("&" if "?" in base else "?") + "sslmode=require" + tail
    found = _KEYWORD_SSLMODE.search(text)
    if found:
        if found.group(0).split("=", 1)[1].strip().strip("'").lower() in _REQUIRED_MODES:
            return None
        return text[: found.start()] + "sslmode=require" + text[found.end() :]
    return text + " sslmode=require"
