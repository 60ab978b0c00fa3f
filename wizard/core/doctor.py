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

A text may hold several messages: libpq reports every address and every TLS mode it
tried (`connection to server at "A" ... failed: X`, then `... failed: Y`, on one line or
several), and a pasted log holds several ERROR/FATAL lines and `pg_dump: error:` lines. Each
is read on its own; within one, the rule listed first in the file wins (the file lists the
specific before the general). Then the answers are weighed: a server's answer (password,
quota, missing database, permission) outranks a refusal of an unencrypted attempt (libpq
with sslmode=prefer tries again without TLS, and that attempt's refusal is only an echo),
which outranks a lost connection or a network failure of one address. So in a multi-attempt
message where the IPv4 address answered "password authentication failed" and the IPv6
address said "Network is unreachable", the diagnosis is the password, with high confidence.

Confidence: "high" for one answer; "medium" when two different answers remain (two servers
said different things), when the rule is marked weak in the file (`confidence = "medium"`),
or for `no pg_hba.conf entry ..., no encryption`, which means either that the server wants
TLS or that this address, user or database is not allowed at all; the most likely answer
comes first, the others are `alternatives`. "low" is an unknown error (a rule marked
`confidence = "low"`, or a network failure beside a server message no rule knows, is only
offered as an alternative). `matched` is true only for a high, single answer.

An error no rule recognizes is reported as unknown, never guessed at: a wrong
confident diagnosis is worse than an honest "unknown".
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from wizard.core.translated_messages import QUOTES, wordings

RULES_FILE = Path(__file__).with_name("doctor_rules.toml")

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
# A name as a message quotes it, in any language's quotation marks ("x", »x«, „x“, «x», 「x」).
_QUOTED_NAME = re.compile(f"[{QUOTES}]\\s?([^{QUOTES}\\s]+)\\s?[{QUOTES}]")
_ENV_PASSWORD = re.compile(r"(\b[A-Z_]*PASSWORD\s*=\s*)(\S+)")

CONFIDENCES = ("high", "medium", "low")
# One attempt of several that libpq reports, wherever it starts (several share a line in
# psycopg's "Multiple connection attempts" summary).
_ATTEMPT = re.compile(r'connection to server (?:at|on socket) "[^"\n]*"[^\n]*? failed: ')
# A server log line's prefix (log_line_prefix: time, [pid], user@db ...) before its severity.
_LOG_PREFIX = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[ T]|[^\n]*\[\d+\])[^\n]*?\s"
    r"(?=(?:LOG|ERROR|FATAL|PANIC|WARNING|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):\s)"
)
# A line that starts another message: a severity (any language), a tool's "error:", a libpq
# attempt, a Python exception's name.
_STARTS_MESSAGE = re.compile(
    r"^\s*(?:(?!(?:DETAIL|HINT|TIPP|ASTUCE|CONTEXT|KONTEXT|CONTEXTE|STATEMENT|QUERY|LOCATION|LINE|ZEILE|SQLSTATE)\b)[A-Z]{3,}:\s"
    r"|[\w.]+: (?:error|fatal):|- host:|Multiple connection attempts|could not connect to server\b"
    r"|connection (?:failed|is bad|to server)\b|[\w.]*(?:Error|Exception):\s)"
)
# A server's own words (not a client's "error:"), to notice one that no rule explains.
_SERVER_SAID = re.compile(r"\b(?:FATAL|ERROR|PANIC):\s+\S")
_NO_HBA_PLAIN = re.compile(r"no pg_hba\.conf entry .*(?:no encryption|SSL off)", re.IGNORECASE)
# How much an answer weighs beside the answers of other attempts (lower wins): the server's
# answer; the refusal of an unencrypted attempt and the rest of an aborted transaction (echoes
# of another attempt's or statement's failure); a lost connection or one address's network
# failure; and last "no route" (usually an IPv6 address on a network without IPv6).
_ECHO = frozenset({"ssl-required", "transaction-aborted"})
_NETWORK = frozenset({"connection-dropped", "host-not-found", "connection-refused", "timeout"})
_NO_ROUTE = frozenset({"network-unreachable", "ipv6-unusable"})


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
    confidence: str = "high"  # "medium" or "low" for a rule whose words do not settle the cause
    # Object names that make this the rule, whatever the language: a message in a words its
    # patterns cannot read (translated, or with only a SQLSTATE) takes it when it quotes one.
    names: tuple[re.Pattern[str], ...] = ()

    def matches(self, text: str) -> bool:
        return bool(text) and any(p.search(text) for p in self.patterns)

    def names_fit(self, text: str) -> bool | None:
        """Whether a name the text quotes is one of `names`; None when it quotes none (or the
        rule lists none): then the names cannot tell."""
        quoted = _QUOTED_NAME.findall(text)
        if not self.names or not quoted:
            return None
        return any(pattern.fullmatch(name) for pattern in self.names for name in quoted)


@dataclass(frozen=True)
class Alternative:
    """Another answer that fits the message: "probably X; if not, this"."""

    id: str
    title: str
    cause: str
    fix: tuple[str, ...]
    action: str | None = None
    doc: str | None = None

    @classmethod
    def of(cls, rule: Rule) -> Alternative:
        return cls(rule.id, rule.title, rule.cause, rule.fix, rule.action, rule.doc)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "cause": self.cause, "fix": list(self.fix)}


@dataclass(frozen=True)
class Diagnosis:
    """The answer: for "high", the one cause and fix; for "medium", the most likely one (id,
    title, cause, fix, action) with the others in `alternatives`; for "low", the unknown
    error's checklist (with, in `alternatives`, what it might be)."""

    matched: bool  # one confident answer (confidence "high", no alternatives)
    id: str | None
    title: str
    cause: str
    fix: tuple[str, ...]
    action: str | None = None
    doc: str | None = None
    sqlstate: str | None = None
    raw: str = ""  # the message as given, passwords redacted
    confidence: str = "high"
    alternatives: tuple[Alternative, ...] = ()

    def __post_init__(self) -> None:
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {CONFIDENCES}, not {self.confidence!r}")

    @property
    def recognized(self) -> bool:
        """There is an answer to show (certain or probable), not the unknown checklist."""
        return self.confidence != "low"

    @property
    def headline(self) -> str:
        """A phrase: "the server refused ...", or "probably X; if not, Y" for a medium answer."""
        if self.confidence != "medium":
            return self.title
        return "probably " + "".join([self.title, *(f"; if not, {alt.title}" for alt in self.alternatives)])

    @property
    def action_label(self) -> str | None:
        return ACTIONS.get(self.action) if self.action else None

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "id": self.id,
            "title": self.title,
            "cause": self.cause,
            "fix": list(self.fix),
            "confidence": self.confidence,
            "alternatives": [alt.to_json() for alt in self.alternatives],
        }


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
            confidence=str(item.get("confidence", "high")),
            names=tuple(re.compile(n, re.IGNORECASE) for n in item.get("names", ())),
        )
    except (KeyError, re.error) as exc:
        raise ValueError(f"doctor rule {rule_id}: {exc}") from None
    problems = [
        "no fix steps" if not rule.fix else "",
        "nothing to match on" if not (rule.sqlstates or rule.patterns or rule.exception_classes) else "",
        f"unknown action {rule.action!r}" if rule.action and rule.action not in ACTIONS else "",
        "bad SQLSTATE" if any(not _SQLSTATE.match(code) for code in rule.sqlstates) else "",
        "needs_text without patterns" if rule.needs_text and not rule.patterns else "",
        f"confidence must be one of {CONFIDENCES}" if rule.confidence not in CONFIDENCES else "",
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
    text: str,
    *,
    sqlstate: str | None = None,
    exception_class: str | Iterable[str] | None = None,
    rules: tuple[Rule, ...] | None = None,
) -> Diagnosis:
    """What `text` (an error message, pasted or from an exception) means and how to fix it."""
    text = text or ""
    rules = rules or load_rules()
    given = (sqlstate or "").strip().upper() or None
    code = given or sqlstate_in(text)
    raw = redact_message(text.strip())
    pieces = split_attempts(text)
    found = [hit for hit in (_read(rules, piece, given or sqlstate_in(piece)) for piece in pieces) if hit]
    if not found:  # a SQLSTATE on another line than its message
        found = [hit for hit in (_read(rules, text, code),) if hit]
    if not found and exception_class:
        names = {exception_class} if isinstance(exception_class, str) else set(exception_class)
        rule = next((rule for rule in rules if names & set(rule.exception_classes)), None)
        found = [_Hit(rule, "", by_code=False)] if rule else []
    if not found:
        return _unknown(raw, code)
    unexplained = any(_SERVER_SAID.search(line) and not _read(rules, line, None) for line in _message_lines(pieces))
    return _weigh(found, rules, unexplained, code, raw)


@dataclass(frozen=True)
class _Hit:
    """The rule one message (one attempt) reached."""

    rule: Rule
    text: str
    by_code: bool  # by its SQLSTATE: the server said so, whatever the rule's confidence


def _read(rules: tuple[Rule, ...], text: str, code: str | None) -> _Hit | None:
    """One message: by its SQLSTATE, then its message lines, its DETAIL/HINT lines, and last
    the translations of login failures."""
    primary, details = split_message(text)
    found = _by_sqlstate(rules, code, (primary, details)) if code else None
    by_code = found is not None
    for part in (primary, details):
        found = found or next((rule for rule in rules if rule.matches(part)), None)
    if found is None and not code:
        found = _by_translation(primary, rules)
    return _Hit(found, text, by_code) if found else None


def _rank(hit: _Hit) -> int:
    if _NO_HBA_PLAIN.search(hit.text) or hit.rule.id in _ECHO:
        return 1
    return 3 if hit.rule.id in _NO_ROUTE else 2 if hit.rule.id in _NETWORK else 0


def _weigh(found: list[_Hit], rules: tuple[Rule, ...], unexplained: bool, code: str | None, raw: str) -> Diagnosis:
    """One answer from the answers of every message (see the module's docstring)."""
    best = min(_rank(hit) for hit in found)
    kept = [hit for hit in found if _rank(hit) == best]
    order = {rule.id: number for number, rule in enumerate(rules)}
    answers = sorted({hit.rule.id: hit.rule for hit in kept}.values(), key=lambda rule: order.get(rule.id, len(order)))
    first, others = answers[0], answers[1:]
    sure = [hit for hit in kept if hit.rule is first]
    confidence = "high" if any(hit.by_code for hit in sure) else first.confidence
    if first.id == "ssl-required" and all(_NO_HBA_PLAIN.search(hit.text) for hit in sure) and not others:
        # Refused unencrypted, and no attempt shows more: the server may want TLS, or may not
        # let this address, user or database in at all (then sslmode=require changes nothing).
        others = [rule for rule in rules if rule.id == "no-pg-hba"]
    if others:
        confidence = "medium" if confidence == "high" else confidence
    if best >= 2 and unexplained:  # a server said something no rule knows; the network failure is not the answer
        confidence = "low"
    alternatives = tuple(Alternative.of(rule) for rule in others)
    if confidence == "low":
        return replace(_unknown(raw, code), alternatives=(Alternative.of(first), *alternatives))
    return Diagnosis(
        confidence == "high" and not others,
        first.id,
        first.title,
        first.cause,
        first.fix,
        first.action,
        first.doc,
        code,
        raw,
        confidence,
        alternatives,
    )


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
        if not found.recognized and error.fix:
            return Diagnosis(True, None, error.title.lower(), error.message, error.fix, raw=raw)
    if error.fix and error.fix != found.fix:
        # The wizard added a step of its own (say, "run status to see whether it committed").
        return replace(found, fix=error.fix, raw=raw)
    return replace(found, raw=raw)


def _by_translation(text: str, rules: tuple[Rule, ...]) -> Rule | None:
    """A message a server sent in another language (it comes without a SQLSTATE): the rule its
    translation is listed for, unless names decide (see below)."""
    if not text:
        return None
    lowered = text.lower()
    for translated in wordings():
        match = translated.search(text, lowered)
        if match is None:
            continue
        listed = next((rule for rule in rules if rule.id == translated.rule), None)
        if listed is None:
            return None
        # Where the names decide between rules of the same SQLSTATE (the migration's own objects
        # or any other), the English rules read the message back in English, names included.
        siblings = [rule for rule in rules if set(rule.sqlstates) & set(listed.sqlstates)]
        if any(rule.names for rule in siblings):
            english = translated.english(match)
            return next((rule for rule in siblings if rule.matches(english)), listed)
        return listed
    return None


def _by_sqlstate(rules: tuple[Rule, ...], code: str, parts: tuple[str, str]) -> Rule | None:
    candidates = [rule for rule in rules if code in rule.sqlstates]
    for part in parts:
        specific = next((rule for rule in candidates if rule.matches(part)), None)
        if specific:
            return specific
    # A translated message: read as its translation says (names included), among this code's rules.
    translated = _by_translation(parts[0], tuple(candidates))
    if translated is not None:
        return translated
    # The text is not recognized (worded differently): the general rule for the code, unless
    # the names it quotes say it is not that rule's (then a sibling that needs no names).
    text = "\n".join(parts)
    general = [rule for rule in candidates if not rule.needs_text and rule.names_fit(text) is not False]
    if general:
        return general[0]
    return next((rule for rule in candidates if not rule.names and any(r.names for r in candidates)), None)


def _unknown(raw: str, code: str | None) -> Diagnosis:
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if lines:
        said = lines[0] if len(lines[0]) <= 240 else lines[0][:237] + "..."
        cause = f"The wizard does not recognize this error, so it does not guess at a cause. The message says: {said}"
    else:
        cause = "No error text was given, so there is nothing to recognize."
    return Diagnosis(
        False, None, UNKNOWN_TITLE, cause, GENERAL_CHECKLIST, sqlstate=code or None, raw=raw, confidence="low"
    )


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
            if messages and not _STARTS_MESSAGE.match(head):
                messages[-1].append(head)
            else:
                messages.append([head])
        messages += [[tail] for tail in tails]
    return [joined for joined in ("\n".join(lines) for lines in messages) if joined.strip()]


def _message_lines(pieces: list[str]) -> list[str]:
    return [line for piece in pieces for line in split_message(piece)[0].splitlines()]


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
