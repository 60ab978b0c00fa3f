"""Migration files: find them, checksum them, and split them into statements with pglast.

A migration is `NNN_name.sql`, with an optional `NNN_name.down.sql` that undoes it
and a required `NNN_name.toml` of expectations (see expectations.py).

The split is done when a migration's statements are first asked for: `status` needs only
names, checksums and expectations, and importing pglast would cost it ~50 ms. `load_migrations`
still splits every file up front unless told not to, so that a syntax error is refused
before anything connects.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from wizard.core.errors import FILE_FIX, InputError
from wizard.core.expectations import Expectations, load_expectations

_FILE = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a file, with the line it starts on (for error messages)."""

    index: int
    sql: str
    line: int
    node: Any = field(compare=False, repr=False)

    @property
    def kind(self) -> str:
        return type(self.node).__name__


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    sql: str = field(repr=False)
    checksum: str
    expectations: Expectations = field(repr=False)
    down_path: Path | None = None
    down_sql: str = field(default="", repr=False)

    @cached_property
    def _up(self) -> tuple[tuple[Statement, ...], int]:
        statements, dropped = split_sql(self.sql, self.path.name)
        _refuse_empty(statements, self.path)
        return tuple(statements), dropped

    @property
    def statements(self) -> tuple[Statement, ...]:
        """The file's statements (split on first use; InputError for a syntax error)."""
        return self._up[0]

    @property
    def skipped_transaction_control(self) -> int:
        """How many BEGIN/COMMITs the file has that the wizard leaves out."""
        return self._up[1]

    @cached_property
    def down_statements(self) -> tuple[Statement, ...]:
        if self.down_path is None:
            return ()
        statements = split_sql(self.down_sql, self.down_path.name)[0]
        _refuse_empty(statements, self.down_path)
        return tuple(statements)

    def split(self) -> Migration:
        """Split both files now rather than on first use: a syntax error is raised here."""
        _ = self._up, self.down_statements
        return self

    @property
    def baseline(self) -> bool:
        return self.expectations.baseline

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"


def default_migrations_dir() -> Path:
    """Inside an installed wheel the files sit in wizard/migrations; in a checkout, at its top."""
    package_dir = Path(__file__).resolve().parent.parent
    bundled = package_dir / "migrations"
    return bundled if bundled.is_dir() else package_dir.parent / "migrations"


def checksum(text: str) -> str:
    # Line endings are normalised so that a Windows checkout (CRLF) does not look "modified".
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def split_sql(text: str, source: str = "SQL") -> tuple[list[Statement], int]:
    """Split with PostgreSQL's own parser; returns the statements and how many BEGIN/COMMITs were dropped.

    The wizard runs each migration in a transaction of its own, so transaction
    control in a file (as some tools generate it) is left out rather than obeyed.
    """
    # Imported here: only the commands that run or show statements need it (~50 ms).
    import pglast
    from pglast import parser

    try:
        slices = parser.split(text, only_slices=True)
    except pglast.parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        line = text.count("\n", 0, max(0, location)) + 1 if location is not None else None
        where = f" near line {line}" if line else ""
        raise InputError(f"{source} has a syntax error{where}: {exc.args[0]}.", fix=FILE_FIX) from None
    statements: list[Statement] = []
    dropped = 0
    for piece in slices:
        sql = text[piece]
        node = pglast.parse_sql(sql)[0].stmt
        if type(node).__name__ == "TransactionStmt":
            dropped += 1
            continue
        line = text.count("\n", 0, piece.start) + 1
        statements.append(Statement(len(statements) + 1, sql, line, node))
    return statements, dropped


def _refuse_empty(statements: list[Statement], path: Path) -> None:
    """A file with no statement (empty, only comments, only BEGIN/COMMIT) would be recorded as
    applied (or rolled back) having done nothing: most likely the wrong file, or one not saved."""
    if not statements:
        raise InputError(
            f"{path} holds no SQL statement (it is empty or only comments), so it is refused: nothing was run.",
            fix=(
                "Write the migration's SQL into the file and save it, or remove the file"
                " (without --migrations-dir the wizard uses the migrations it ships).",
            ),
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc}.", fix=FILE_FIX) from None


def load_migrations(directory: Path | None = None, *, parse: bool = True) -> list[Migration]:
    """The migrations in `directory` (default: the ones the wizard ships), in version order.

    With `parse` (the default) every file is split now, so that one PostgreSQL cannot parse is
    refused here; without it (`status`), on first use of a migration's statements."""
    directory = directory or default_migrations_dir()
    if not directory.is_dir():
        raise InputError(f"The migrations folder {directory} does not exist.", fix=FILE_FIX)
    migrations: list[Migration] = []
    for path in sorted(directory.iterdir()):
        match = _FILE.match(path.name)
        if not match:
            continue
        version, name = match.groups()
        sql = _read(path)
        expectations = load_expectations(path.with_suffix(".toml"))
        if expectations.version != version:
            raise InputError(
                f"{path.with_suffix('.toml').name} says version {expectations.version}, not {version}.", fix=FILE_FIX
            )
        down_path = path.with_name(f"{version}_{name}.down.sql")
        has_down = down_path.exists()
        migration = Migration(
            version=version,
            name=name,
            path=path,
            sql=sql,
            checksum=checksum(sql),
            expectations=expectations,
            down_path=down_path if has_down else None,
            down_sql=_read(down_path) if has_down else "",
        )
        migrations.append(migration.split() if parse else migration)
    if not migrations:
        raise InputError(f"The folder {directory} holds no migration files (named like 002_name.sql).", fix=FILE_FIX)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise InputError(f"Two migration files in {directory} share a version number.", fix=FILE_FIX)
    return migrations
