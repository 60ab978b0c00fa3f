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
or for `no pg_hba.conf entry ..., no encryption` (and `pg_hba.conf rejects connection ...,
no encryption`, a `hostnossl ... reject` line or one for this address), which means either
that the server wants TLS or that this address, user or database is not allowed at all; the
most likely answer comes first, the others are `alternatives`. "low" is an unknown error (a
rule marked `confidence = "low"`, a network failure beside a server message no rule knows, or
a network failure of another service, such as a web API or Redis, in a text with no sign of
PostgreSQL, is only offered as an alternative). `matched` is true only for a high, single answer.

A SQLSTATE shown apart from its message (`Database error code: 42P07`, the message lines
below) gives its general rule only where the message's own words do not refine it.

An error no rule recognizes is reported as unknown, never guessed at: a wrong
confident diagnosis is worse than an honest "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from wizard.core.message_text import redact_message, split_attempts, split_message, sqlstate_in
from wizard.core.rules import (
    ACTIONS,
    CONFIDENCES,
    RULES_FILE,
    Rule,
    find_rules,
    load_rules,
    rule_by_id,
)
from wizard.core.translated_messages import wordings

# Defined in rules.py and message_text.py; imported from here by the screens, commands and tests.
__all__ = [
    "ACTIONS",
    "CONFIDENCES",
    "RULES_FILE",
    "Alternative",
    "Diagnosis",
    "Rule",
    "diagnose",
    "diagnose_exception",
    "explain",
    "find_rules",
    "from_rule",
    "load_rules",
    "redact_message",
    "rule_by_id",
    "split_attempts",
    "split_message",
    "sqlstate_in",
]

UNKNOWN_TITLE = "an unknown error"
GENERAL_CHECKLIST = (
    "Read the message: the part after 'FATAL:' or 'ERROR:' is the server's own explanation.",
    "Check that the URL is the one your provider's console shows (host, database, user, password).",
    "Check that the database server is running and reachable from this computer"
    " (on Neon: the project is not suspended or over its plan's limits).",
    "If it persists, ask your provider's support, quoting the message (the wizard hides passwords in it).",
)

# A server's own words (not a client's "error:"), to notice one that no rule explains.
_SERVER_SAID = re.compile(r"\b(?:FATAL|ERROR|PANIC):\s+\S")
_EXCEPTION_NAME = re.compile(r"^\s*(?:\w+\.)*(\w+(?:Error|error|Exception|Timeout)):", re.MULTILINE)
_NO_HBA_PLAIN = re.compile(
    r"(?:no pg_hba\.conf entry|pg_hba\.conf rejects (?:replication )?connection) .*(?:no encryption|SSL off)",
    re.IGNORECASE,
)
# How much an answer weighs beside the answers of other attempts (lower wins): the server's
# answer; the refusal of an unencrypted attempt and the rest of an aborted transaction (echoes
# of another attempt's or statement's failure); a lost connection or one address's network
# failure; and last "no route" (usually an IPv6 address on a network without IPv6).
_ECHO = frozenset({"ssl-required", "transaction-aborted"})
_NETWORK = frozenset({"connection-dropped", "host-not-found", "connection-refused", "timeout"})
_NO_ROUTE = frozenset({"network-unreachable", "ipv6-unusable"})
# A network failure of another service than PostgreSQL (a web API, Redis, MySQL ...), pasted with
# the application's other errors: the doctor's network answers assume a database server, so
# such a text is not one of them unless it shows a sign of PostgreSQL as well.
_OTHER_SERVICE = re.compile(
    r"\b(?:https?|wss?|redis|rediss|mysql|mongodb(?:\+srv)?|amqps?)://|\bHTTPS?ConnectionPool\(|\[ioredis\]"
    r"|\bRedis\b|\bMongo\w*Error\b|\bFetchError\b|\bAxiosError\b"
    r"|(?:[\w-]|\])[:.](?:6379|3306|27017|5672|9200|11211|443|80)\b(?![.:]\d)"
    r"|\bport\W{1,3}(?:6379|3306|27017|5672|9200|11211|443|80)\b",
    re.IGNORECASE,
)
_POSTGRES_SIGN = re.compile(
    r"postgres|\bpsql\b|\bpg_\w|libpq|\bpg\b|node_modules/pg|pg-(?:protocol|pool)|pgbouncer|\bneon|prisma|sequelize"
    r"|psycopg|asyncpg|\bpgx\b|\bpq:|sqlalchemy|\bPG::|jdbc|hikari|knex|drizzle|typeorm|[:.]\s?(?:5432|6432)\b"
    r"|\bport \d+ failed|connection to server|database server|sslmode|SQLSTATE",
    re.IGNORECASE,
)


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


def from_rule(rule_id: str, raw: str = "") -> Diagnosis:
    """The diagnosis a rule gives, for an error the wizard recognized before any server or
    tool spoke (a URL it will not send as typed)."""
    rule = rule_by_id(rule_id)
    return Diagnosis(True, rule.id, rule.title, rule.cause, rule.fix, rule.action, rule.doc, raw=redact_message(raw))


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
    # The exception's class: given, or named in a pasted traceback ("ConnectionRefusedError: ...").
    names = {exception_class} if isinstance(exception_class, str) else set(exception_class or ())
    names |= set(_EXCEPTION_NAME.findall(text))
    if not found and names:
        rule = next((rule for rule in rules if names & set(rule.exception_classes)), None)
        found = [_Hit(rule, "", by_code=False)] if rule else []
    if not found:
        return _unknown(raw, code)
    # A code shown apart from its message ("Database error code: 42P07", then the message): the
    # piece with the code alone gets the code's general rule; the message's own words refine it.
    refined = {state for hit in found if not hit.general for state in hit.rule.sqlstates}
    found = [hit for hit in found if not (hit.general and hit.code in refined)] or found
    unexplained = any(_SERVER_SAID.search(line) and not _read(rules, line, None) for line in _message_lines(pieces))
    return _weigh(found, rules, unexplained, code, raw)


@dataclass(frozen=True)
class _Hit:
    """The rule one message (one attempt) reached."""

    rule: Rule
    text: str
    by_code: bool  # by its SQLSTATE: the server said so, whatever the rule's confidence
    code: str | None = None
    general: bool = False  # only the general rule of its SQLSTATE: its own words were not recognized


def _read(rules: tuple[Rule, ...], text: str, code: str | None) -> _Hit | None:
    """One message: by its SQLSTATE, then its message lines, its DETAIL/HINT lines, and last
    the translations of login failures."""
    primary, details = split_message(text)
    found, general = _by_sqlstate(rules, code, (primary, details)) if code else (None, False)
    by_code = found is not None
    for part in (primary, details):
        found = found or next((rule for rule in rules if rule.matches(part)), None)
    if found is None and not code:
        # Weighed as its English (a translated "no pg_hba.conf entry ..., no encryption" too).
        found, text = _by_translation(primary, rules) or (None, text)
    return _Hit(found, text, by_code, code, general) if found else None


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
    if best >= 2 and (unexplained or (_OTHER_SERVICE.search(raw) and not _POSTGRES_SIGN.search(raw))):
        # A server said something no rule knows, or the failure is another service's (a web API,
        # Redis): the network failure is not the answer.
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


def _by_translation(text: str, rules: tuple[Rule, ...]) -> tuple[Rule, str] | None:
    """A message a server sent in another language (it comes without a SQLSTATE): the rule its
    English text reaches, or else the one its translation is listed for; and that English."""
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
        # Read back in English, names included, the message reaches the rule its English would
        # (names decide: the migration's own objects or any other, a URL where a keyword
        # belongs, an IPv6 address read as a port); the listed rule is the general answer.
        english = translated.english(match)
        return next((rule for rule in rules if rule.matches(english)), listed), english
    return None


def _by_sqlstate(rules: tuple[Rule, ...], code: str, parts: tuple[str, str]) -> tuple[Rule | None, bool]:
    """The rule for a SQLSTATE, and whether it is only the code's general rule (the words of the
    message were not recognized)."""
    candidates = [rule for rule in rules if code in rule.sqlstates]
    for part in parts:
        specific = next((rule for rule in candidates if rule.matches(part)), None)
        if specific:
            return specific, False
    # A translated message: read as its translation says (names included), among this code's rules.
    translated = _by_translation(parts[0], tuple(candidates))
    if translated is not None:
        return translated[0], False
    # The text is not recognized (worded differently): the general rule for the code, unless
    # the names it quotes say it is not that rule's (then a sibling that needs no names).
    text = "\n".join(parts)
    general = [rule for rule in candidates if not rule.needs_text and rule.names_fit(text) is not False]
    if general:
        return general[0], True
    return next((rule for rule in candidates if not rule.names and any(r.names for r in candidates)), None), True


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


def _message_lines(pieces: list[str]) -> list[str]:
    return [line for piece in pieces for line in split_message(piece)[0].splitlines()]
