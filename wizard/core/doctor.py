"""Turns an error message into a plain cause and fix, from the rules in doctor_rules.toml.

How a message is matched, in this order:

1. By SQLSTATE, when the error carries one (or the pasted text shows one, as in
   `ERROR:  42P01: ...` or `(SQLSTATE 42P01)`): the server's text may be localized, the
   code is not. Among the rules listing the code, one whose patterns also match the
   text wins (the specific variant); otherwise the general rule for that code.
2. By text: psycopg gives no SQLSTATE for connection-time failures, even when the
   server sent one. Patterns are searched in the message lines first (every attempt
   of a multi-attempt message, every `- host:` line, `psql: error:` and
   `pg_dump: error:` lines), then in DETAIL/HINT lines. Quoted SQL (`LINE 1:`, the
   caret, CONTEXT, QUERY, `Query was:`) is never searched: it would match whatever
   words the statement happens to contain.
3. By exception class (`socket.gaierror`, `ConnectionRefusedError` ...), last.

When several rules match, the one listed first in the file wins; the file lists the
specific before the general, and an answer from the server (password, quota, missing
database) before a network failure. So in a multi-attempt message where the IPv4
address answered "password authentication failed" and the IPv6 address said "Network
is unreachable", the diagnosis is the password: the server was reached and named the
problem, while the other attempt only shows that one address has no route.

An error no rule recognizes is reported as unknown, never guessed at: a wrong
confident diagnosis is worse than an honest "unknown".
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("doctor_rules.toml")
TRANSLATIONS_FILE = Path(__file__).with_name("doctor_translations.toml")

# What the wizard can do for the user; the UI offers it as an action.
ACTIONS: dict[str, str] = {
    "switch_to_direct_host": "switch to the direct host (without -pooler)",
    "percent_encode_password": "percent-encode the password in the URL",
    "use_bundled_pg_dump": "use the pg_dump 18 it ships with",
    "retry_after_lock": "retry when the lock is free",
    "add_sslmode_require": "add sslmode=require to the URL",
}

UNKNOWN_TITLE = "an unknown error"
GENERAL_CHECKLIST = (
    "Read the message: the part after 'FATAL:' or 'ERROR:' is the server's own explanation.",
    "Check that the URL is the one your provider's console shows (host, database, user, password).",
    "Check that the database server is running and reachable from this computer"
    " (on Neon: the project is not suspended or over its plan's limits).",
    "If it persists, ask your provider's support, quoting the message (the wizard hides passwords in it).",
)

_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_SQLSTATE_IN_TEXT = (
    re.compile(r"\bSQLSTATE\b\W{0,3}([0-9A-Z]{5})\b", re.IGNORECASE),
    # psql with VERBOSITY verbose, in any language: "ERROR:  42P01: ...", "FEHLER:  42P01: ..."
    re.compile(r"(?:^|\s)\w+:\s+([0-9A-Z]{5}):\s", re.MULTILINE),
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
    r"^\s*(?:[A-Z]+:\s|[\w.]+: (?:error|fatal|warning):|- host:|Multiple connection attempts"
    r"|connection (?:failed|is bad|to server)|(?:sending|consuming|flushing) \w+ failed)",
)
# Parts of a password that libpq took for a host name ('ss@host' from 'p@ss@host').
_HOST_FRAGMENT = re.compile(r"((?:resolve host|translate host name)\s+['\"])([^'\"\s]+)@")
_ENV_PASSWORD = re.compile(r"(\b[A-Z_]*PASSWORD\s*=\s*)(\S+)")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    cause: str
    fix: tuple[str, ...]
    sqlstates: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    exception_classes: tuple[str, ...] = ()
    needs_text: bool = False
    action: str | None = None
    doc: str | None = None

    def matches(self, text: str) -> bool:
        return bool(text) and any(p.search(text) for p in self.patterns)


@dataclass(frozen=True)
class Diagnosis:
    matched: bool
    id: str | None
    title: str
    cause: str
    fix: tuple[str, ...]
    action: str | None = None
    doc: str | None = None
    sqlstate: str | None = None
    raw: str = ""  # the message as given, passwords redacted

    @property
    def action_label(self) -> str | None:
        return ACTIONS.get(self.action) if self.action else None

    def to_json(self) -> dict[str, Any]:
        return {"matched": self.matched, "id": self.id, "title": self.title, "cause": self.cause, "fix": list(self.fix)}


def _rule(item: dict[str, Any]) -> Rule:
    rule_id = str(item.get("id", "?"))
    try:
        rule = Rule(
            id=rule_id,
            title=item["title"],
            cause=item["cause"],
            fix=tuple(item["fix"]),
            sqlstates=tuple(item.get("sqlstates", ())),
            patterns=tuple(re.compile(p, re.IGNORECASE) for p in item.get("patterns", ())),
            exception_classes=tuple(item.get("exception_classes", ())),
            needs_text=bool(item.get("needs_text", False)),
            action=item.get("action"),
            doc=item.get("doc"),
        )
    except (KeyError, re.error) as exc:
        raise ValueError(f"doctor rule {rule_id}: {exc}") from None
    problems = [
        "no fix steps" if not rule.fix else "",
        "nothing to match on" if not (rule.sqlstates or rule.patterns or rule.exception_classes) else "",
        f"unknown action {rule.action!r}" if rule.action and rule.action not in ACTIONS else "",
        "bad SQLSTATE" if any(not _SQLSTATE.match(code) for code in rule.sqlstates) else "",
        "needs_text without patterns" if rule.needs_text and not rule.patterns else "",
    ]
    if any(problems):
        raise ValueError(f"doctor rule {rule_id}: " + ", ".join(p for p in problems if p))
    return rule


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> tuple[Rule, ...]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    rules = tuple(_rule(item) for item in data["rule"])
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ValueError(f"doctor rule {rule.id} is listed twice")
        seen.add(rule.id)
    return rules


def rule_by_id(rule_id: str) -> Rule:
    return next(rule for rule in load_rules() if rule.id == rule_id)


def from_rule(rule_id: str, raw: str = "") -> Diagnosis:
    """The diagnosis a rule gives, for an error the wizard recognized before any server or
    tool spoke (a URL it will not send as typed)."""
    rule = rule_by_id(rule_id)
    return Diagnosis(True, rule.id, rule.title, rule.cause, rule.fix, rule.action, rule.doc, raw=redact_message(raw))


def find_rules(query: str) -> tuple[Rule, ...]:
    """Known problems for a search box: those listing a SQLSTATE, or those whose id, title,
    cause and fix hold a word starting with each word of the query; every rule for an empty query."""
    rules = load_rules()
    code = query.strip().upper()
    if _SQLSTATE.match(code) and any(ch.isdigit() for ch in code):
        return tuple(rule for rule in rules if code in rule.sqlstates)
    # Each word must start a word of the rule ("lock" finds "locks", not "block" or "clock").
    words = [re.compile(r"(?<![^\W_])" + re.escape(w), re.IGNORECASE) for w in query.split()]
    return tuple(
        rule for rule in rules if all(w.search(" ".join((rule.id, rule.title, rule.cause, *rule.fix))) for w in words)
    )


def diagnose(
    text: str, *, sqlstate: str | None = None, exception_class: str | Iterable[str] | None = None
) -> Diagnosis:
    """What `text` (an error message, pasted or from an exception) means and how to fix it."""
    text = text or ""
    code = (sqlstate or "").strip().upper() or sqlstate_in(text)
    primary, details = split_message(text)
    rules = load_rules()
    found = _by_sqlstate(rules, code, (primary, details)) if code else None
    for part in (primary, details):
        found = found or next((rule for rule in rules if rule.matches(part)), None)
    if found is None and not code:
        found = _by_translation(primary)
    if found is None and exception_class:
        names = {exception_class} if isinstance(exception_class, str) else set(exception_class)
        found = next((rule for rule in rules if names & set(rule.exception_classes)), None)
    raw = redact_message(text.strip())
    if found is None:
        return _unknown(raw, code)
    return Diagnosis(True, found.id, found.title, found.cause, found.fix, found.action, found.doc, code, raw)


def diagnose_exception(exc: BaseException) -> Diagnosis:
    """diagnose() for an exception: its text, its SQLSTATE (psycopg) and its class names."""
    sqlstate = getattr(exc, "sqlstate", None)
    names = [kind.__name__ for kind in type(exc).__mro__]
    return diagnose(str(exc), sqlstate=sqlstate if isinstance(sqlstate, str) else None, exception_class=names)


def explain(error: BaseException) -> Diagnosis:
    """What the user is shown for any error the wizard meets: the knowledge base's answer.

    A WizardError raised from a server's or tool's message carries its diagnosis; one the
    wizard raised itself (a refusal, a missing file) is matched by its text, and if no rule
    knows it, its own sentence and fix steps are the explanation: the wizard knows what it
    refused and why. Anything else (a psycopg error, an OSError) is diagnosed from its text,
    SQLSTATE and class, and is honestly "unknown" when nothing matches."""
    # Imported here: errors.py imports this module's types.
    from wizard.core.errors import Cancelled, WizardError

    if not isinstance(error, WizardError):
        return diagnose_exception(error)
    if isinstance(error, Cancelled):  # the user's choice, not a problem to diagnose
        again = "Nothing to fix: run it again whenever you are ready."
        return Diagnosis(True, None, "cancelled", error.message, error.fix or (again,), raw=error.message)
    raw = redact_message("\n".join(part for part in (error.message, error.detail) if part))
    found = error.diagnosis
    if found is None:
        found = diagnose("\n".join(part for part in (error.message, error.detail) if part))
        if not found.matched and error.fix:
            return Diagnosis(True, None, error.title.lower(), error.message, error.fix, raw=raw)
    if error.fix and error.fix != found.fix:
        # The wizard added a step of its own (say, "run status to see whether it committed").
        return replace(found, fix=error.fix, raw=raw)
    return replace(found, raw=raw)


@lru_cache(maxsize=1)
def _translations() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(a translated message as a pattern, rule id), from doctor_translations.toml: every
    wording of every message in every language, in the file's order (the specific first)."""
    with TRANSLATIONS_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    found: list[tuple[re.Pattern[str], str]] = []
    for message in data["message"]:
        for language, wordings in message["text"].items():  # the wordings its versions use
            if isinstance(wordings, str):
                raise ValueError(f"{TRANSLATIONS_FILE.name}: {language} of {message['msgid']!r} is not a list")
            for text in wordings:
                pieces = re.split(r"%(?:\d+\$)?s", str(text))  # a %s (or %1$s) stands for a name
                if not "".join(pieces).strip():
                    raise ValueError(f"{TRANSLATIONS_FILE.name}: {text!r} would match any message")
                pattern = ".+?".join(r"\s+".join(map(re.escape, piece.split())) for piece in pieces)
                found.append((re.compile(pattern, re.IGNORECASE), str(message["rule"])))
    return tuple(found)


def _by_translation(text: str) -> Rule | None:
    """A login failure a server sent in another language (it comes without a SQLSTATE)."""
    if not text:
        return None
    rule_id = next((rule_id for pattern, rule_id in _translations() if pattern.search(text)), None)
    return rule_by_id(rule_id) if rule_id else None


def _by_sqlstate(rules: tuple[Rule, ...], code: str, parts: tuple[str, str]) -> Rule | None:
    candidates = [rule for rule in rules if code in rule.sqlstates]
    for part in parts:
        specific = next((rule for rule in candidates if rule.matches(part)), None)
        if specific:
            return specific
    # The text is not recognized (localized, or worded differently): the general rule for the code.
    return next((rule for rule in candidates if not rule.needs_text), None)


def _unknown(raw: str, code: str | None) -> Diagnosis:
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if lines:
        said = lines[0] if len(lines[0]) <= 240 else lines[0][:237] + "..."
        cause = f"The wizard does not recognize this error, so it does not guess at a cause. The message says: {said}"
    else:
        cause = "No error text was given, so there is nothing to recognize."
    return Diagnosis(False, None, UNKNOWN_TITLE, cause, GENERAL_CHECKLIST, sqlstate=code or None, raw=raw)


def sqlstate_in(text: str) -> str | None:
    """A SQLSTATE shown in the text itself (psql's verbose form, drivers' error dumps), if any."""
    for pattern in _SQLSTATE_IN_TEXT:
        for match in pattern.finditer(text):
            code = match.group(1).upper()
            if any(ch.isdigit() for ch in code):
                return code
    return None


def split_message(text: str) -> tuple[str, str]:
    """The message lines, and the DETAIL/HINT lines; quoted SQL and its context are left out."""
    buckets: dict[str, list[str]] = {"message": [], "detail": [], "sql": []}
    section = "message"
    for line in text.splitlines():
        if _QUOTED_SQL.match(line):
            section = "sql"
        elif _DETAIL.match(line):
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
