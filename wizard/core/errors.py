"""Typed errors with a title; the edge (CLI or screen) turns them into a sentence and a fix."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wizard.core.doctor import Diagnosis


class WizardError(Exception):
    """Base class: `message` is one plain sentence, already free of any password.

    `diagnosis` is the knowledge base's explanation (doctor.py) when the error came from
    the server or a tool; `doctor.explain()` finds one for any error that lacks it."""

    title = "Something went wrong"

    def __init__(
        self, message: str, *, fix: tuple[str, ...] = (), detail: str = "", diagnosis: Diagnosis | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.detail = detail
        self.diagnosis = diagnosis


# For a migration or expectations file that cannot be used (only --migrations-dir can give one).
FILE_FIX = (
    "Correct the file the message names, or run without --migrations-dir to use the migrations the wizard ships.",
)


class InputError(WizardError):
    """The user's input cannot be used: a malformed URL, a missing file, a bad option."""

    title = "Bad input"


class ConnectError(WizardError):
    """The database could not be reached or refused the login."""

    title = "Cannot connect"


class RefusedError(WizardError):
    """The wizard will not do this, and has changed nothing."""

    title = "Refused"


class MigrationFailed(WizardError):
    """A statement failed; the transaction was rolled back."""

    title = "Migration failed"

    def __init__(
        self,
        message: str,
        *,
        fix: tuple[str, ...] = (),
        detail: str = "",
        version: str = "",
        statement_index: int | None = None,
        line: int | None = None,
        sql: str = "",
        sqlstate: str | None = None,
        nothing_changed: bool = True,
        diagnosis: Diagnosis | None = None,
    ) -> None:
        super().__init__(message, fix=fix, detail=detail, diagnosis=diagnosis)
        self.version = version
        self.statement_index = statement_index
        self.line = line
        self.sql = sql
        self.sqlstate = sqlstate
        self.nothing_changed = nothing_changed


class Cancelled(WizardError):
    """The user cancelled; the transaction was rolled back."""

    title = "Cancelled"


class PracticeError(WizardError):
    """The embedded practice database could not be started or loaded."""

    title = "Practice database unavailable"


# The operations' own errors live here, not beside the operations, so that the CLI's table of
# exit codes can name them without importing the operations (backup, restore and rehearse pull in
# pglast and psutil); backup.py, restore.py, local_copy.py and rehearse.py re-export them.


class BackupFailed(WizardError):
    title = "Backup failed"


class RestoreFailed(WizardError):
    title = "Restore failed"


class RehearsalFailed(WizardError):
    """The rehearsal could not run (it says nothing about the migrations); the database was not changed."""

    title = "Rehearsal not possible"

    def __init__(
        self,
        message: str,
        *,
        fix: tuple[str, ...] = (),
        detail: str = "",
        diagnosis: Diagnosis | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, fix=fix, detail=detail, diagnosis=diagnosis)
        self.warnings = warnings


class FailedAfterCommit(WizardError):
    """Something was committed (applied, rolled back, restored), then a later step failed:
    the database is NOT as before. `committed` says what is in place, `step` what failed."""

    title = "Changed, then a later step failed"

    def __init__(
        self,
        message: str,
        *,
        committed: str,
        step: str,
        fix: tuple[str, ...] = (),
        detail: str = "",
        diagnosis: Diagnosis | None = None,
    ) -> None:
        super().__init__(message, fix=fix, detail=detail, diagnosis=diagnosis)
        self.committed = committed
        self.step = step


class ReportNotWritten(WizardError):
    """The session report could not be written (a full disk, a folder that is not writable)."""

    title = "Report not written"


class Interrupted(KeyboardInterrupt):
    """A signal stopped a headless command: SIGTERM (docker stop, systemd, CI), SIGHUP (a closed
    terminal) or SIGINT. A KeyboardInterrupt, so it takes Ctrl+C's path: psycopg cancels the running
    query on the server (its locks are released at once), `finally` blocks stop child processes
    and remove partial files, the session report is written."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        self.signal_name = "Ctrl+C (SIGINT)" if name == "SIGINT" else name
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process that a signal ended: 130, 143, 129."""
        return 128 + self.signum
