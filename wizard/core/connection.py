"""Reading a DATABASE_URL, describing its target without the password, and connecting.

URLs are parsed by psycopg's conninfo parser (libpq's rules); this module only adds
the checks and explanations a non-expert needs, and the Neon-specific adjustments.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from wizard.core import paste
from wizard.core.defaults import APPLICATION_NAME, DEFAULT_CONNECT_TIMEOUT
from wizard.core.errors import ConnectError, InputError
from wizard.core.redaction import hide_fragments, redact, secrets_in

if TYPE_CHECKING:
    from wizard.core.doctor import Diagnosis

__all__ = ["Target", "connect", "parse_url", "redact", "server_version"]

SLOW_CONNECT_AFTER = 2.0
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
WEAK_SSLMODES = ("disable", "allow", "prefer")
ENCRYPTED_SSLMODES = ("require", "verify-ca", "verify-full")
MASK = paste.MASK

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


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
    # The connection string as given, cleaned of what was pasted around it (password included).
    url: str = field(default="", repr=False)
    # What the cleaning removed (paste.clean_paste): fixed words, never the URL.
    cleaned: tuple[str, ...] = ()
    # The sslmode in effect: the URL's (or PGSSLMODE's), or the one the wizard added; "" for libpq's default.
    sslmode: str = ""
    # A host on another computer (not a socket, localhost or a loopback address).
    remote: bool = False
    # What to know before connecting: an unencrypted connection to a remote host the URL asked for.
    warnings: tuple[str, ...] = ()

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/") or bool(re.match(r"^[A-Za-z]:[\\/]", self.host))

    @property
    def encrypted(self) -> bool:
        return self.sslmode in ENCRYPTED_SSLMODES

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
    def direct_url(self) -> str:
        """The URL as given with the direct host in place of the `-pooler` one; '' when not a
        pooler host. It holds the password: pass it through redact() before showing it."""
        return (paste.direct_host_url(self.url, self.host) or "") if self.is_pooler else ""

    @property
    def cleaned_note(self) -> str:
        """'cleaned the pasted URL: removed ...', or '' when the URL came as it is."""
        return paste.cleaned_note(self.cleaned)

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
        said = f"{where}, database {self.database}, user {self.user}"
        if self.encrypted:
            return f"{said}, encrypted (TLS)"
        if self.remote:
            return f"{said}, {'unencrypted' if self.sslmode == 'disable' else 'may be unencrypted'}"
        return said

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def parse_url(raw: str, *, practice: bool = False) -> Target:
    """Parse a DATABASE_URL (or a key=value conninfo string) into a Target, or raise InputError.

    The text is cleaned first (paste.clean_paste): quotes, `DATABASE_URL=`, the `psql '...'`
    wrapper and whitespace around it go; Target.cleaned says what was removed."""
    cleaned = paste.clean_paste(raw)
    text = cleaned.url
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
    if re.match(r"^psql(?:\s|$)", text):
        raise InputError(
            "That is a psql command line, not a database URL.",
            fix=(
                "Copy the connection string itself (postgresql://...) from your provider's console"
                " (Neon: Dashboard > Connect); the psql '...' snippet with the URL in quotes works too.",
            ),
        )
    if not scheme and "=" not in text:
        raise InputError(
            "That is not a database URL: it should start with postgresql://.",
            fix=("Copy the URL again from your provider's console (Neon: Dashboard > Connect).",),
        )
    try:
        params: dict[str, Any] = conninfo_to_dict(text)
    except (psycopg.ProgrammingError, UnicodeDecodeError) as exc:
        _refuse_unencoded_password(text)
        fix = ["Copy the URL again from your provider's console (Neon: Dashboard > Connect)."]
        if isinstance(exc, UnicodeDecodeError):  # a %XX code libpq read, but that is not UTF-8 (%A0)
            problem = "a percent-encoded part of it (%XX) stands for no character (not UTF-8)"
            fix.insert(0, "If the password holds a % sign, write it as %25.")
        else:
            # libpq quotes the part it could not read, which may be (part of) the password.
            problem = redact(hide_fragments(str(exc).strip().splitlines()[0], text), (text, *secrets_in(text)))
        if "@" in text and text.count("@") > 1:
            fix.insert(0, _percent_encoding_hint())
        raise InputError(f"The database URL could not be read: {problem}.", fix=tuple(fix)) from None
    password = params.get("password")
    secrets = secrets_in(text, password, parsed=True)
    host = str(params.get("host") or "")
    dbname = str(params.get("dbname") or "")
    # libpq ended the password at its first "@" or "/": the rest of it went into another field.
    misread = any("@" in str(params.get(key) or "") for key in ("host", "port", "dbname", "user"))
    if misread or (scheme and password is None and "/" in dbname):
        _refuse_unencoded_password(text)
        found = _rule("password-encoding")
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
        found = _rule("sslmode-invalid")
        raise InputError(
            f"The URL asks for sslmode={sslmode}, which is not a valid mode.", fix=found.fix, diagnosis=found
        )
    notes: list[str] = []
    warnings: list[str] = []
    remote = _remote_hosts(params)
    name = ", ".join(remote)
    # PGSSLMODE in the environment is the user's own choice too; libpq uses it when the URL has none.
    chosen = sslmode or os.environ.get("PGSSLMODE") or None
    said = f"sslmode={chosen}" if sslmode else f"PGSSLMODE={chosen}"
    if chosen is None and host.endswith(".neon.tech"):
        params["sslmode"] = chosen = "require"
        notes.append("Neon accepts only encrypted connections: added sslmode=require.")
    elif chosen is None and remote and params.get("sslrootcert") == "system":
        chosen = "verify-full"  # what libpq does for sslrootcert=system without an sslmode
    elif chosen is None and remote:
        params["sslmode"] = chosen = "require"
        notes.append(f"{name} is not on this computer: added sslmode=require, so the connection is encrypted.")
    elif remote and chosen in WEAK_SSLMODES:
        warnings.append(
            f"{said} for {name}, which is not on this computer: the password and the data "
            + (
                "cross the network unencrypted."
                if chosen == "disable"
                else "cross the network unencrypted if the server does not offer TLS, and nothing says so."
            )
            + " Remove sslmode from the URL (the wizard then requires encryption) unless you trust that network."
        )
    return Target(
        conninfo=make_conninfo("", **params),
        host=host or "localhost",
        port=str(params.get("port") or "5432"),
        database=str(params.get("dbname") or params.get("user") or ""),
        user=str(params.get("user") or ""),
        practice=practice,
        secrets=secrets,
        notes=tuple(notes),
        url=text,
        cleaned=cleaned.removed,
        sslmode=str(chosen or ""),
        remote=bool(remote),
        warnings=tuple(warnings),
    )


def _rule(rule_id: str) -> Diagnosis:
    """A doctor rule's answer (the doctor is imported on a bad URL only: the commands start sooner)."""
    from wizard.core.doctor import from_rule

    return from_rule(rule_id)


def is_local_host(host: str) -> bool:
    """A Unix socket (a path, or empty: libpq's default), `localhost`, or a loopback address."""
    host = host.strip()
    if not host or host.startswith(("/", "@")) or re.match(r"^[A-Za-z]:[\\/]", host):
        return True
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _remote_hosts(params: dict[str, Any]) -> list[str]:
    """The hosts of the connection string that are on another computer. A host name counts by
    its name: `hostaddr` (the address to use for it) only saves the name lookup, and the name
    says which server is meant."""
    hosts = str(params.get("host") or os.environ.get("PGHOST") or "").split(",")
    addresses = str(params.get("hostaddr") or os.environ.get("PGHOSTADDR") or "").split(",")
    count = max(len(hosts), len(addresses))
    hosts += [""] * (count - len(hosts))
    addresses += [""] * (count - len(addresses))
    named = (name.strip() or address.strip() for name, address in zip(hosts, addresses, strict=True))
    return list(dict.fromkeys(name for name in named if not is_local_host(name)))


def _refuse_unencoded_password(text: str) -> None:
    """When libpq misread the URL and percent-encoding its password makes it readable, say
    exactly that: which characters, written how, and the URL it gives (password hidden)."""
    offer = paste.encode_password(text)
    if offer is None:
        return
    try:
        params = conninfo_to_dict(offer.url)
    except (psycopg.ProgrammingError, UnicodeDecodeError):
        return
    if params.get("password") is None or "@" in str(params.get("host") or ""):
        return
    found = _rule("password-encoding")
    raise InputError(
        f"The password in the URL contains {offer.named}, which must be percent-encoded.",
        fix=(f"In the password, {offer.how}: {offer.masked} (password hidden here).", *found.fix[1:]),
        diagnosis=found,
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
    try:
        return open_raw(target, timeout)
    except psycopg.Error as exc:
        raise explained(target, exc) from None
    finally:
        if timer:
            timer.cancel()


def open_raw(target: Target, timeout: float) -> psycopg.Connection[tuple[Any, ...]]:
    """connect() without its explanations: psycopg's own error, if any."""
    extra: dict[str, Any] = {}
    if "application_name" not in conninfo_to_dict(target.conninfo):
        extra["application_name"] = APPLICATION_NAME
    return psycopg.connect(
        target.conninfo,
        connect_timeout=max(1, round(timeout)),
        autocommit=True,
        prepare_threshold=None,
        **extra,
    )


def explained(target: Target, exc: psycopg.Error) -> ConnectError:
    """Why connecting failed, in plain words, without the password."""
    from wizard.core.doctor import diagnose  # imported on a failure only: the commands start sooner

    raw = target.redact(str(exc).strip())
    # The URL's sslmode, where it turned TLS off: libpq's message does not say so, and a
    # refused plain connection means something else with TLS on offer (hba_refusal.py).
    said = f"{raw}\n(connected with sslmode={target.sslmode})" if target.sslmode in ("disable", "allow") else raw
    found = diagnose(said, sqlstate=getattr(exc, "sqlstate", None))
    sentence = f"Cannot connect to {target.describe()}: {found.headline}."
    return ConnectError(sentence, fix=found.fix, detail=raw, diagnosis=found)


def server_version(conn: psycopg.Connection[Any]) -> str:
    """The server's version string, as the server announced it at start-up (no round trip)."""
    announced = conn.info.parameter_status("server_version")
    if announced:
        return announced
    row = conn.execute("SELECT current_setting('server_version')").fetchone()
    return str(row[0]) if row else "unknown"
