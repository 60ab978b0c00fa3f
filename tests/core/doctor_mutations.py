"""Helpers for the corpus test: the corpus itself, mutations of real messages (other hosts,
users, ports, versions, names), and server messages translated by PostgreSQL's own catalogs
(14 to 18, as pinned in tools/catalogs/: nothing here reads what is installed)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tools.server_translations import load_pinned

CORPUS = Path(__file__).resolve().parent.parent / "data" / "error_corpus.toml"


@dataclass(frozen=True)
class Case:
    rule: str
    text: str
    source: str
    sqlstate: str | None = None

    @property
    def reproduced(self) -> bool:
        return self.source.startswith("reproduced here:")

    def label(self) -> str:
        first = self.text.strip().splitlines()[0]
        return f"{self.rule}: {first[:70]}"


def load_corpus() -> list[Case]:
    with CORPUS.open("rb") as handle:
        data = tomllib.load(handle)
    return [Case(c["rule"], c["text"], c["source"], c.get("sqlstate")) for c in data["case"]]


# Each replacement keeps the shape of the message and changes what differs between users.
_MUTATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        # any quoted name first (tables, constraints, types; not libpq's own keywords, such as the
        # "port" of 'for connection option "port"', nor the type German's "numeric field overflow"
        # quotes as a name: "Feldüberlauf bei Typ »numeric«", nor a tool Windows could not find: 'Der
        # Befehl "psql" ...'); the lines below then set some on purpose
        (r"(?<!connection option \")(?<=[\"»])(?!numeric«|(?:psql|pg_dump|pg_restore|pg_dumpall)[\"«])"
         r"[a-z_][a-z0-9_]*(?=[\"«])", "renamed_obj"),
        # host names, without touching the part before an '@' (a piece of a password)
        (r"(?<=[@\"'(])(?:ep-[a-z0-9-]+\.[a-z0-9.-]+\.neon\.tech|no-such-host\.invalid|db\.example\.com|db\.internal)",
         "pg-17.eu-west.internal.example.org"),
        (r"ep-[a-z]+-[a-z]+-\d{6}", "ep-silent-meadow-987654"),
        (r"\b(?:127\.0\.0\.1|10\.\d+\.\d+\.\d+|203\.0\.113\.\d+|3\.18\.12\.115|52\.\d+\.\d+\.\d+)\b", "192.0.2.77"),
        (r"(?<=port )\d+\b", "6543"),
        (r"(?<=port: ')\d+(?=')", "6543"),
        (r"(?<=\.s\.PGSQL\.)\d+", "5433"),
        (r"/tmp/pytest-of-[^\"\s]*/(?=\.s\.PGSQL)", "/var/run/postgresql/"),
        (r"(?<=user )\"[^\"]+\"", '"report_writer"'),
        (r"(?<=user )'[^']+'", "'report_writer'"),
        (r"(?<=role )\"[^\"]+\"", '"reporting"'),
        (r"(?<=database )\"[^\"]+\"", '"analytics_prod"'),
        (r"(?<=relation )\"[^\"]+\"", '"image_analyses"'),
        (r"(?<=column )\"[^\"]+\"", '"analysis_json"'),
        (r"(?<=table )(?:attachments|t|child|\"c\"|\"t\")\b", "image_analyses"),
        (r"\b18\.4\b", "17.2"),
        (r"\b15\.20\b", "16.6"),
        (r"\(Debian [^)]*\)", "(Homebrew)"),
        (r"PostgreSQL 18\b", "PostgreSQL 17"),
        (r"\bneondb\b", "shopdb"),
        (r"\b(?:Process|process|relation|database) \d+", "process 31337"),
    )
)  # fmt: skip


def mutate(text: str) -> str:
    for pattern, replacement in _MUTATIONS:
        text = pattern.sub(replacement, text)
    return text


# Server messages (msgid, arguments, SQLSTATE, rule) to translate with every pinned catalog;
# tools/server_translations.py pins these msgids (its CORPUS_MESSAGES lists the same ones).
SERVER_MESSAGES: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ('password authentication failed for user "%s"', ("app",), "28P01", "password-failed"),
    ('database "%s" does not exist', ("neondb",), "3D000", "database-missing"),
    ('relation "%s" does not exist', ("attachments",), "42P01", "undefined-table"),
    ('column "%s" of relation "%s" already exists', ("storage_key", "attachments"), "42701", "already-exists"),
    ("permission denied for table %s", ("attachments",), "42501", "permission-denied"),
    ("cannot execute %s in a read-only transaction", ("CREATE TABLE",), "25006", "read-only"),
    ("canceling statement due to lock timeout", (), "55P03", "lock-timeout"),
    ("deadlock detected", (), "40P01", "deadlock"),
    ('duplicate key value violates unique constraint "%s"', ("attachments_pkey",), "23505", "unique-violation"),
    ('insert or update on table "%s" violates foreign key constraint "%s"', ("a", "a_fk"), "23503",
     "foreign-key-violation"),
    ('invalid input syntax for type %s: "%s"', ("uuid", "abc"), "22P02", "invalid-input"),
    ("numeric field overflow", (), "22003", "numeric-overflow"),
    ("current transaction is aborted, commands ignored until end of transaction block", (), "25P02",
     "transaction-aborted"),
    ("%s cannot run inside a transaction block", ("CREATE INDEX CONCURRENTLY",), "25001", "cic-in-transaction"),
    ("sorry, too many clients already", (), "53300", "too-many-connections"),
    ("terminating connection due to administrator command", (), "57P01", "admin-shutdown"),
    ("the database system is starting up", (), "57P03", "server-starting"),
    ("canceling statement due to user request", (), "57014", "query-cancelled"),
    ("out of memory", (), "53200", "out-of-memory"),
)  # fmt: skip


def _format(template: str, args: tuple[str, ...]) -> str:
    """printf-style %s and positional %1$s, as PostgreSQL's translations use them."""
    position = iter(range(len(args)))

    def value(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1 if match.group(1) else next(position)
        return args[index]

    return re.sub(r"%(?:(\d+)\$)?s", value, template)


@dataclass(frozen=True)
class Translation:
    """A server message as PostgreSQL sends it in another language, and the builds that word it so."""

    language: str
    text: str
    sqlstate: str
    rule: str
    builds: tuple[tuple[int, str], ...]  # (major, version)


def translations() -> list[Translation]:
    """Every distinct translation of SERVER_MESSAGES in the catalogs pinned in tools/catalogs/
    (every build of 14 to 18, every language), its arguments filled in."""
    found: dict[tuple[str, str, str, str], list[tuple[int, str]]] = {}
    for build in load_pinned():
        for language, messages in sorted(build.languages.items()):
            for msgid, args, sqlstate, rule in SERVER_MESSAGES:
                translated = messages.get(msgid)
                if translated is not None:
                    key = (language, _format(translated, args), sqlstate, rule)
                    found.setdefault(key, []).append((build.major, build.label))
    return [Translation(*key, builds=tuple(builds)) for key, builds in found.items()]
