"""Reading an error text before any rule sees it: the messages it holds (each attempt libpq
reports, each line of a pasted log, each tool's `error:`), their message and DETAIL/HINT
lines (quoted SQL left out), a SQLSTATE shown in the text, and the text with its passwords
taken out."""

from __future__ import annotations

import re
from itertools import pairwise

_SQLSTATE_IN_TEXT = (
    re.compile(r"\bSQLSTATE\b\W{0,3}([0-9A-Z]{5})\b", re.IGNORECASE),
    # psql with VERBOSITY verbose, in any language: "ERROR:  42P01: ...", "FEHLER:  42P01: ..."
    re.compile(r"(?:^|\s)\w+:\s+([0-9A-Z]{5}):\s", re.MULTILINE),
    # Npgsql: PostgresException (0x80004005): 28P01: ...
    re.compile(r"\bPostgresException \(0x[0-9A-F]+\): ([0-9A-Z]{5}):\s", re.IGNORECASE),
    # drivers that print the error object: code: '42P01', "code": "42P01", pgcode=42P01
    re.compile(r"\b(?:pg)?code\b['\"]?\s*[:=]\s*['\"]?([0-9A-Z]{5})\b", re.IGNORECASE),
)
# Quoted SQL and where it came from: never matched against the rules.
_QUOTED_SQL = re.compile(
    r"^\s*(?:\w+ \d+: |\^\s*$|(?:QUERY|CONTEXT|STATEMENT|LOCATION):|SQL statement \"|PL/pgSQL function"
    r"|(?:pg_dump|pg_restore|pg_dumpall|psql): (?:detail|context): (?:Query|Command) was:)",
    re.IGNORECASE,
)
_DETAIL = re.compile(r"^\s*(?:DETAIL|HINT|(?:pg_dump|pg_restore|pg_dumpall|psql): (?:detail|hint)):", re.IGNORECASE)
# A line that starts a new message (after a DETAIL, HINT or quoted SQL).
_NEW_MESSAGE = re.compile(
    r"^\s*(?:[A-Z]+:\s|(?:error|fatal):\s|[\w.]+: (?:error|fatal|warning):|- host:|Multiple connection attempts"
    r"|connection (?:failed|is bad|to server)|(?:sending|consuming|flushing) \w+ failed)",
)
# Parts of a password that libpq took for a host name ('ss@host' from 'p@ss@host').
_HOST_FRAGMENT = re.compile(r"((?:resolve host|translate host name)\s+['\"])([^'\"\s]+)@")
_ENV_PASSWORD = re.compile(r"(\b[A-Z_]*PASSWORD\s*=\s*)(\S+)")
# One attempt of several that libpq reports, wherever it starts (several share a line in
# psycopg's "Multiple connection attempts" summary).
_ATTEMPT = re.compile(r'connection to server (?:at|on socket) "[^"\n]*"[^\n]*? failed: ')
# A server log line's prefix (log_line_prefix: time, [pid], user@db ...) before its severity (in
# any language: the server's "ВАЖНО:  ", "FEHLER:  ", with its two spaces).
_LOG_PREFIX = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[ T]|[^\n]*\[\d+\])[^\n]*?\s"
    r"(?=(?:LOG|ERROR|FATAL|PANIC|WARNING|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):\s|[^\W\d_]+:\s\s\S)"
)
# A line that starts another message: a severity (any language), a tool's "error:", a libpq
# attempt, a Python exception's name.
_STARTS_MESSAGE = re.compile(
    r"^\s*(?:(?!(?:DETAIL|HINT|TIPP|ASTUCE|CONTEXT|KONTEXT|CONTEXTE|STATEMENT|QUERY|LOCATION|LINE|ZEILE|SQLSTATE)\b)[A-Z]{3,}:\s"
    r"|[\w.]+: (?:error|fatal):|- host:|Multiple connection attempts|could not connect to server\b"
    r"|connection (?:failed|is bad|to server)\b|[\w.]*(?:Error|Exception):\s"
    # a Python traceback, and its last line (psycopg2.errors.InFailedSqlTransaction: ...)
    r"|Traceback \(most recent call last\):|(?:[a-z_]\w*\.)+[A-Z]\w*:\s"
    # psql running a script names the file and line of each statement's error; Node.js an
    # error's cause
    r"|psql:[^\n]*?:\d+: |\[cause\]:\s)"
)
# A server message's severity, in any language ("ERROR:  ", "错误:  ", "ОШИБКА:  "), at the start
# of a line or after a client's prefix (a translated libpq attempt: "...に失敗しました: FATAL:  "):
# the server writes two spaces after it. A line with the same severity as its message's first
# line starts another message (a translated log's second ERROR, libpq's next attempt in any
# language); DETAIL and HINT lines have other words.
_SEVERITY = re.compile(r"(?:^|:\s)\s*([^\W\d_]+(?: [^\W\d_]+)?):\s\s(?=\S)")


# Windows PowerShell (5.1) shows a program's first line on stderr as an error record, wrapped at
# the console's width between words: "psql.exe : psql: error: ... failed for" / 'user "x"', then
# the position line in the system's language ("At line:1 char:1", "Bei Zeile:1 Zeichen:1") and
# its "+ " lines (CategoryInfo, FullyQualifiedErrorId : NativeCommandError).
_NATIVE_RECORD = re.compile(r"^[ \t]+\+ (?:CategoryInfo|FullyQualifiedErrorId)\s+:", re.MULTILINE)
_RECORD_START = re.compile(r"^[\w.-]+ : (?=\S)")
_RECORD_POSITION = re.compile(r"^\S[^\n]*?\d+\s*\S*\s*$")


def unwrap_native_error(text: str) -> str:
    """The text with the first error record of a program run from Windows PowerShell on one
    line again, as the program wrote it (PowerShell wrapped it to the console's width)."""
    if not _NATIVE_RECORD.search(text):
        return text
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _RECORD_START.match(line)), None)
    plus = next((i for i, line in enumerate(lines) if start is not None and i > start and line.startswith("+ ")), None)
    if start is None or plus is None or plus - start < 3 or not _RECORD_POSITION.match(lines[plus - 1]):
        return text
    joined = " ".join(line.strip() for line in lines[start : plus - 1])
    return "\n".join([*lines[:start], joined, *lines[plus - 1 :]])


# A console that read UTF-8 as its own code page (Windows: cp1252 or cp850) shows each accented
# letter as two or three others ("ausfÃ¼hrbar", "restricci├│n"). Such a line, written back in that
# code page, is valid UTF-8 again; a line in any real language almost never is.
_MISREAD_AS = ("cp1252", "cp850")


def repair_misdecoded(text: str) -> str:
    """The text with each line that a console mis-decoded (UTF-8 read as cp1252 or cp850) read
    as UTF-8 again; other lines as they are."""
    if text.isascii():
        return text
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.isascii():
            continue
        for code_page in _MISREAD_AS:
            try:
                lines[number] = line.encode(code_page).decode("utf-8")
                break
            except UnicodeError:
                continue
    return "\n".join(lines)


def split_attempts(text: str) -> list[str]:
    """The messages in a text: each attempt libpq reports (also several on one line), each
    ERROR/FATAL line of a pasted log (its prefix of time and process left out) and each
    `pg_dump: error:` line, with the DETAIL, HINT and quoted lines that follow it."""
    messages: list[list[str]] = []
    for line in text.splitlines():
        line = _LOG_PREFIX.sub("", line, count=1)
        cuts = [0, *(match.start() for match in _ATTEMPT.finditer(line)), len(line)]
        head, *tails = [line[start:end] for start, end in pairwise(cuts)]
        if head.strip() or not tails:
            continues = not _STARTS_MESSAGE.match(head) or _labelled(head, "detail") or _labelled(head, "quoted")
            if messages and continues and not _severity_again(messages[-1], head):
                messages[-1].append(head)
            else:
                messages.append([head])
        messages += [[tail] for tail in tails]
    return [joined for joined in ("\n".join(lines) for lines in messages) if joined.strip()]


def _labelled(line: str, name: str) -> bool:
    """Whether the line starts with a label of a message's further lines, in any language
    (PostgreSQL's catalogs: "TIPP:", "ASTUCE :", "ПОДСКАЗКА:" ...)."""
    from wizard.core.translated_messages import labelled  # the catalogs, read when first needed

    return labelled(line, name)


def _severity_again(lines: list[str], line: str) -> bool:
    """Whether the line says a severity the message has said already (libpq's second attempt
    after a first whose tool prefix is in another language: "psql: エラー: ... FATAL:  ...")."""
    again = _SEVERITY.search(line)
    return again is not None and any(
        (said := _SEVERITY.search(earlier)) is not None and said.group(1) == again.group(1) for earlier in lines
    )


# A driver's dump of a notice, not an error ({severity: 'NOTICE', code: '42P07', ...}): its code is
# not the failure's.
_NOTICE_BEFORE = re.compile(r"\bseverity\w*\W{1,4}(?:NOTICE|WARNING|INFO|LOG|DEBUG)\b", re.IGNORECASE)


def sqlstate_in(text: str) -> str | None:
    """A SQLSTATE shown in the text itself (psql's verbose form, drivers' error dumps), if any."""
    for pattern in _SQLSTATE_IN_TEXT:
        for match in pattern.finditer(text):
            code = match.group(1).upper()
            if any(ch.isdigit() for ch in code) and not _NOTICE_BEFORE.search(
                text, max(0, match.start() - 200), match.start()
            ):
                return code
    return None


def split_message(text: str) -> tuple[str, str]:
    """The message lines, and the DETAIL/HINT lines; quoted SQL and its context are left out."""
    buckets: dict[str, list[str]] = {"message": [], "detail": [], "sql": []}
    section = "message"
    for line in text.splitlines():
        if _QUOTED_SQL.match(line) or _labelled(line, "quoted"):
            section = "sql"
        elif _DETAIL.match(line) or _labelled(line, "detail"):
            section = "detail"
        elif _NEW_MESSAGE.match(line):
            section = "message"
        buckets[section].append(line)
    return "\n".join(buckets["message"]), "\n".join(buckets["detail"])


def redact_message(text: str) -> str:
    """The text without passwords: in URLs, key=value strings, PGPASSWORD=, the piece of a
    password that libpq took for a host name when the password held an '@', and any of those
    passwords where the text repeats it."""
    from wizard.core.redaction import redact, secrets_in_text

    secrets = secrets_in_text(text)
    text = _HOST_FRAGMENT.sub(lambda m: m.group(1) + "****@", text)
    text = _ENV_PASSWORD.sub(lambda m: m.group(1) + "****", text)
    return redact(text, secrets)
