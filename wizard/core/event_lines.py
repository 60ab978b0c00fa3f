"""The one renderer of operation events as lines of text, shared by the headless commands and
the Migrate, Rollback, Restore, Backup and Rehearse screens: each event says the same thing
everywhere (NOTICEs and durations included). A line carries a tone; the CLI prints the text,
a screen colours it by its tone."""

from __future__ import annotations

from dataclasses import dataclass

from wizard.core import events as ev
from wizard.core.units import human_duration, human_size

OK, WARN, ERROR, NOTICE, HEAD, DIM = "ok", "warn", "error", "notice", "head", "dim"


@dataclass(frozen=True)
class Line:
    text: str
    tone: str = ""  # "", ok, warn, error, notice, head or dim
    indent: int = 0  # levels of two spaces


def one_line(sql: str, width: int = 72) -> str:
    text, width = " ".join(sql.split()), max(width, 24)
    return text if len(text) <= width else text[: width - 3] + "..."


def object_label(key: str) -> str:
    """'column:attachments.storage_key' as 'column attachments.storage_key'."""
    kind, _, name = key.partition(":")
    return f"{kind} {name}"


def lines(event: ev.Event, width: int = 100) -> list[Line]:
    """What `event` adds to a log `width` characters wide (the SQL is shortened to fit)."""
    match event:
        case ev.MigrationStarted(version=v, name=n, total=total, attempt=attempt, direction=direction):
            verb = "Applying" if direction == "up" else "Rolling back"
            if attempt > 1:
                return [Line(f"Attempt {attempt}: {v}_{n} starts again from statement 1, in one transaction", HEAD)]
            running = event.running or total
            if running < total:
                rest = "index builds online after it" if direction == "up" else "left out, they existed before"
                how = f"{running} of its {total} statements in one transaction; the other {total - running}: {rest}"
                return [Line(f"{verb} {v}_{n} ({how})", HEAD)]
            return [Line(f"{verb} {v}_{n} ({total} statements, in one transaction)", HEAD)]
        case ev.StatementFinished(index=i, total=total, sql=sql, line=at, status=status, duration=took):
            head, tail = f"[{i:>2}/{total}] line {at:<3} ", f"  -> {status} ({human_duration(took)})"
            text = head + one_line(sql, width - len(head) - len(tail) - 6) + tail
            return [Line(text, OK, 1), *(Line(notice, NOTICE, 3) for notice in event.notices)]
        case ev.StatementSkipped(index=i, total=total, sql=sql, reason=reason):
            return [Line(f"[{i:>2}/{total}] {one_line(sql, width - 40)}: skipped, {reason}", DIM, 1)]
        case ev.LockWait(relation=rel, waited=waited, budget=budget, retry_in=retry, holders=holders):
            who = "; ".join(h.describe() for h in holders) or "a session that has just finished"
            return [
                Line(f"waiting for a lock on {rel}, held by {who}", WARN, 1),
                Line(f"(rolled back this try; retrying in {retry:.1f} s, waited {waited:.0f} s of {budget:.0f} s)",
                     WARN, 1),
            ]  # fmt: skip
        case ev.BlockerSignalled(pid=pid, action=action, done=signalled, query=query):
            what = f"cancelled the query of pid {pid}" if action == "cancel" else f"disconnected pid {pid}"
            if not signalled:
                what = f"could not {'cancel the query of' if action == 'cancel' else 'disconnect'} pid {pid}" + (
                    " (it has finished, or this role may not signal it: ask the database owner)"
                )
            return [Line(what + (f": {one_line(query, width - len(what) - 6)}" if query else ""), WARN, 1)]
        case ev.TransactionalPartCommitted(version=v, name=n, duration=took, online=names):
            return [
                Line(f"Committed {v}_{n} in {human_duration(took)}, except its index builds on big tables;"
                     " recorded in the ledger as not finished.", OK),
                Line(f"Next, built online (reads and writes go on): {', '.join(names)}", "", 1),
            ]  # fmt: skip
        case ev.IndexBuildStarted(index=name, table=table, rows=rows, repairs=repairs):
            repair = "dropped the invalid index an interrupted build left; " if repairs else ""
            return [Line(f"{repair}building index {name} on {table} (~{rows:,} rows) CONCURRENTLY", HEAD, 1)]
        case ev.IndexBuildProgress(index=name, phase=phase, elapsed=took, waiting_for=holders):
            share = event.fraction
            percent = f", {share:.0%}" if share is not None else ""
            found = [Line(f"{name}: {phase}{percent} ({took:.0f} s)", DIM, 2)]
            if holders:
                who = "; ".join(h.describe() for h in holders)
                found.append(Line(f"waiting for {who} (reads and writes on the table go on meanwhile)", WARN, 2))
            return found
        case ev.IndexBuildFinished(index=name, duration=took, skipped=skipped):
            if skipped:
                return [Line(f"index {name}: nothing to build, {skipped}", DIM, 1)]
            return [Line(f"built index {name} online in {human_duration(took)}", OK, 1)]
        case ev.WaitingForOtherRun(waited=waited, pids=pids):
            who = f" (pid {', '.join(map(str, pids))})" if pids else ""
            return [Line(f"another migration-wizard run{who} is working on this database; waiting ({waited:.0f} s)",
                         WARN, 1)]  # fmt: skip
        case ev.BaselineRecorded(version=v, name=n):
            return [Line(f"recorded {v}_{n} as the baseline: the application's tables were already there", "", 1)]
        case ev.MigrationApplied(version=v, name=n, duration=took, preexisting=pre):
            done = f"Applied {v}_{n} in {human_duration(took)}; recorded in the ledger."
            return _finished(done, "Already present before, left as they were", pre)
        case ev.AlreadyApplied(version=v, name=n):
            return [Line(f"{v}_{n} is already applied (another run finished it): nothing to do.")]
        case ev.MigrationRolledBack(version=v, name=n, duration=took, kept=kept):
            done = f"Rolled back {v}_{n} in {human_duration(took)}; removed from the ledger."
            return _finished(done, "Kept, because they existed before it", kept)
        case ev.BackupStarted(path=path, tool=tool, reason=reason):
            return [Line(f"Backing up to {path}"), Line(f"using {tool}: {reason}", "", 1)]
        case ev.BackupProgress(line=said, tables_done=done, tables_total=total, bytes_written=size, elapsed=took):
            if "dumping contents of table" not in said:
                return []
            table = said.split(": ", 1)[-1]
            return [Line(f"[{done}/{total}] {table}  ({human_size(size)}, {took:.1f} s)", "", 1)]
        case ev.BackupVerified(bytes=size, tables=tables, database_bytes=database):
            return [Line(f"Backup verified: {tables} tables, {human_size(size)} (the database uses"
                         f" {human_size(database)} on the server; a dump is usually much smaller).", OK)]  # fmt: skip
        case ev.RehearsalStep(text=text):
            return [Line(text)]
        case ev.RehearsalWarning():
            return [Line(f"Warning: {event.text}", WARN, 1)]
        case ev.RestoreStarted(path=path, tables=tables, removes=removes, how=how):
            removing = f"removing {removes} objects, then " if removes else ""
            return [
                Line(f"Restoring {path}: {removing}loading {tables} tables, in one transaction ...", HEAD),
                Line(how, "", 1),
            ]
        case ev.SettingLeftOut(name=name, server_major=major, kind="setting"):
            return [Line(f"left out SET {name}: PostgreSQL {major} does not have this setting (a newer tool wrote it)",
                         NOTICE, 1)]  # fmt: skip
        case ev.SettingLeftOut(name=name, server_major=major):
            return [Line(f"left out {name}: this PostgreSQL {major} does not accept that column option (another"
                         " server build wrote it)", NOTICE, 1)]  # fmt: skip
        case ev.TableRestored(table=table, rows_in_backup=wanted, rows_now=now):
            if wanted == now:
                return [Line(f"{table}: {now} rows, as in the backup", OK, 1)]
            return [Line(f"{table}: {wanted} rows in the backup, {now} now: DIFFERS", ERROR, 1)]
        case ev.ReportWritten(path=path):
            return [Line(f"Report: {path}")]
    return []  # StatementStarted and VerifyFinished: shown by their own widgets


def _finished(done: str, untouched: str, keys: tuple[str, ...]) -> list[Line]:
    """A migration applied or rolled back, and the objects it left as they were."""
    found = [Line(done, OK)]
    if keys:
        found.append(Line(f"{untouched}: {', '.join(object_label(k) for k in keys)}", "", 1))
    return found
