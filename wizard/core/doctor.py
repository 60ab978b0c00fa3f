"""Turns an error message into a plain cause and fix, from the rules in doctor_rules.toml.

How a message is matched, in this order:

1. By SQLSTATE, when the error carries one (or the pasted text shows one, as in
   `ERROR:  42P01: ...` or `(SQLSTATE 42P01)`): the server's text may be localized, the
   code is not. Among the rules listing the code, one whose patterns also match the
   text wins (the specific variant); otherwise the general rule for that code.
2. By text: psycopg gives no SQLSTATE for connection-time failures, even when the
   server sent one. Patterns are searched in the message lines first (every attempt
   of a multi-attempt message, every `- host:` line, `psql: error:` and
   `pg_dump: error:` lines), in English or in another language (their English found
   from the catalogs' translations), then in DETAIL/HINT lines. Quoted SQL (`LINE 1:`, the
   caret, CONTEXT, QUERY, `Query was:`) is never searched: it would match whatever
   words the statement happens to contain.
3. By exception class (`socket.gaierror`, `ConnectionRefusedError` ...), last.

A text may hold several messages: libpq reports every address and every TLS mode it
tried (`connection to server at "A" ... failed: X`, then `... failed: Y`, on one line or
several), and a pasted log holds several ERROR/FATAL lines and `pg_dump: error:` lines. Each
is read on its own; within one, the rule listed first in the file wins (the file lists the
specific before the general), unless a rule that `refines` it matches the message's DETAIL
lines (a server log's 'Role "x" does not exist.' under "password authentication failed").
The whole text's context may then change an answer (a rule's `context`): "already exists" in
pg_restore's report (in any language) means a restore into a database that is not empty; in
psql's report of a file named like a backup, probably; of any other file, possibly (a script
run twice, probably). An answer that another one in the text explains (`follows`: a pooler's
client timed out because the pooler could not reach its server) is left out.
Then the answers are weighed: a server's answer (password, quota, missing database,
permission) outranks pg_hba.conf's refusal of an encrypted attempt (libpq with
sslmode=prefer tries TLS first; where the server has lines only for unencrypted connections,
the next attempt says what is wrong), which outranks a refusal of an unencrypted attempt (libpq
with sslmode=prefer tries again without TLS, and that attempt's refusal is only an echo),
which outranks a lost connection or a network failure of one address. So in a multi-attempt
message where the IPv4 address answered "password authentication failed" and the IPv6
address said "Network is unreachable", the diagnosis is the password, with high confidence.

Confidence: "high" for one answer; "medium" when two different answers remain (two servers
said different things), for a network failure (refused, timed out, unknown host) in a text with
no sign of PostgreSQL (message_signs.py: any program's connection fails in those words),
when the rule is marked weak in the file (`confidence = "medium"`),
when the message's words are among a rule's `uncertain` ones (its `alternatives` fit them too:
"in recovery mode" is said only while the server recovers from a crash, which is starting up),
when the context only makes the answer probable,
or for `no pg_hba.conf entry ..., no encryption` (and `pg_hba.conf rejects connection ...,
no encryption`, a `hostnossl ... reject` line or one for this address), which means either
that the server wants TLS or that this address, user or database is not allowed at all; the
most likely answer comes first (for pg_hba.conf's refusal, by what connected: hba_refusal.py),
the others are `alternatives`. "low" is an unknown error (a
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
from itertools import pairwise

from wizard.core.diagnosis import GENERAL_CHECKLIST, UNKNOWN_TITLE, Alternative, Diagnosis, unknown
from wizard.core.hba_refusal import REFUSED_PLAIN, unlisted_first
from wizard.core.message_signs import OTHER_DATABASE, OTHER_SERVICE, POSTGRES_NAMED, postgres_sign
from wizard.core.message_text import (
    redact_message,
    repair_misdecoded,
    split_attempts,
    split_message,
    sqlstate_in,
    unwrap_native_error,
)
from wizard.core.rule_reading import by_sqlstate, by_translation, listed_for
from wizard.core.rules import (
    ACTIONS,
    CONFIDENCES,
    RULES_FILE,
    Rule,
    find_rules,
    load_rules,
    rule_by_id,
)

# Defined in rules.py, diagnosis.py and message_text.py; imported from here by the screens, commands and tests.
__all__ = [
    "ACTIONS",
    "CONFIDENCES",
    "GENERAL_CHECKLIST",
    "RULES_FILE",
    "UNKNOWN_TITLE",
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

# A server's own words (not a client's "error:"), to notice one that no rule explains; not a
# Java tool's own "ERROR:" around a JDBC URL (Flyway's "Unable to obtain connection ..."), nor a
# CI runner's summary (GitLab's "ERROR: Job failed: exit code 1").
SERVER_SAID = re.compile(r"^(?!.*\bjdbc:\w+:)(?!.*\bexit (?:code|status):? \d).*\b(?:FATAL|ERROR|PANIC):\s+\S")
_EXCEPTION_NAME = re.compile(r"^\s*(?:\w+\.)*(\w+(?:Error|error|Exception|Timeout)):", re.MULTILINE)
# How much an answer weighs beside the answers of other attempts (lower wins): the server's
# answer; pg_hba.conf's refusal of an encrypted attempt (libpq with sslmode=prefer tries TLS
# first: where the server has lines only for unencrypted connections, the attempt that got
# past pg_hba.conf says what is wrong); the refusal of an unencrypted attempt and the rest of
# an aborted transaction (echoes of another attempt's or statement's failure); a lost
# connection or one address's network failure; and last "no route" (usually an IPv6 address
# on a network without IPv6).
_REFUSED_BY_HBA = frozenset({"no-pg-hba"})
_ABORTED = "transaction-aborted"
_ECHO = frozenset({"ssl-required", _ABORTED})
_NETWORK = frozenset({"connection-dropped", "host-not-found", "connection-refused", "timeout"})
_NO_ROUTE = frozenset({"network-unreachable", "ipv6-unusable"})
_CERTIFICATE = frozenset({"ssl-certificate"})


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
    text = repair_misdecoded(unwrap_native_error(text))
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
        return unknown(raw, code)
    # A code shown apart from its message ("Database error code: 42P07", then the message): the
    # piece with the code alone gets the code's general rule; the message's own words refine it.
    refined = {state for hit in found if not hit.general for state in hit.rule.sqlstates}
    found = [hit for hit in found if not (hit.general and hit.code in refined)] or found
    read = {hit.rule for hit in found}  # the lines these rules read need no second reading (a long log)
    found = [_in_context(hit, rules, text) for hit in found]
    # An answer that another one in the same text explains (a pooler's client timed out waiting
    # while the pooler could not connect to its server) is left out.
    answered = {hit.rule.id for hit in found}
    found = [hit for hit in found if not answered & set(hit.rule.follows)] or found
    unexplained = any(
        SERVER_SAID.search(line) and not any(rule.matches(line) for rule in read) and not _read(rules, line, None)
        for line in _message_lines(pieces)
    )
    return _weigh(found, rules, unexplained, code, raw)


@dataclass(frozen=True)
class _Hit:
    """The rule one message (one attempt) reached."""

    rule: Rule
    text: str
    by_code: bool  # by its SQLSTATE: the server said so, whatever the rule's confidence
    code: str | None = None
    general: bool = False  # only the general rule of its SQLSTATE: its own words were not recognized
    also: tuple[str, ...] = ()  # other answers its context leaves open (a file only named like a backup)

    @property
    def unsure(self) -> bool:
        """Its words (or its context) fit other rules as well."""
        return bool(self.also) or self.rule.unsure(split_message(self.text)[0])

    def others(self, rules: tuple[Rule, ...]) -> list[str]:
        """The other answers that fit: its context's, then those of its rule's alternatives that
        its words reach too ("in recovery mode": starting up), or else all of them."""
        words = split_message(self.text)[0]
        listed = [rule for rule in rules if rule.id in self.rule.alternatives] if self.rule.unsure(words) else []
        reached = [rule.id for rule in listed if rule.matches(words)] or [rule.id for rule in listed]
        return [*self.also, *reached]


def _in_context(hit: _Hit, rules: tuple[Rule, ...], text: str) -> _Hit:
    """The answer in the situation the whole text shows: in a restore's report, "already exists"
    means the database was not empty (in psql's report of a file named like a backup, probably;
    of any other file, possibly); beside a mysql:// URL given to psql, a failed connection means
    the URL is not PostgreSQL's."""
    words = split_message(hit.text)[0]
    for rule in rules:
        if rule.context is None or rule is hit.rule:
            continue
        instead = hit.rule.id in rule.instead_of
        if not instead and not any(pattern.search(words) for pattern in rule.alternative_for):
            continue
        # A network failure in a text with no sign of PostgreSQL is another service's (see _weigh).
        network = _rank(hit) >= 3 and not postgres_sign(text)
        seen = None if network else rule.context.seen(text)
        if seen is None or (seen == "possible" and not instead):
            continue
        if not instead or seen == "possible":
            return replace(hit, also=(*hit.also, rule.id))
        return replace(hit, rule=rule, also=() if seen == "certain" else (hit.rule.id,))
    return hit


def _read(rules: tuple[Rule, ...], text: str, code: str | None) -> _Hit | None:
    """One message: by its SQLSTATE, then its message lines (in English, or read back from
    another language), its DETAIL/HINT lines, and what lines under it refine."""
    primary, details = split_message(text)
    found, general = by_sqlstate(rules, code, (primary, details)) if code else (None, False)
    by_code = found is not None
    found = found or next((rule for rule in rules if rule.matches(primary)), None)
    if found is None or (not code and found.id in _NETWORK):
        # The message's own words in another language before its DETAIL/HINT lines (a translated
        # crash warning before libpq's "server closed the connection"), weighed as its English
        # (a translated "no pg_hba.conf entry ..., no encryption" too). A lost connection in
        # libpq's English words is read so too: the server's translated reason before it (the
        # administrator's command before "SSL SYSCALL error: EOF detected") comes first, as it
        # would in English.
        read = by_translation(primary, rules)
        if read is not None and (found is None or rules.index(read[0]) < rules.index(found)):
            found, text = read
    found = found or next((rule for rule in rules if rule.matches(details)), None)
    if found is None and details:
        # The server's own message quoted in a tool's DETAIL line, in its language (pg_dump's
        # "detail: Error message from server: ERRORE: ..." under "PQgetResult() failed.").
        found, text = by_translation(details, rules) or (None, text)
    if found is not None:
        # A DETAIL line, or a log line pasted under the message (not the message again), that
        # names the cause more precisely (the server's log says 'Role "x" does not exist.' under
        # "password authentication failed", PgBouncer's "no such user: x"): the finer rule.
        rule = found
        finer = [candidate for candidate in rules if rule.id in candidate.refines]
        later = [line for line in [*primary.splitlines(), *details.splitlines()] if line.strip()]
        later = [line for line in later if not rule.matches(line)] if finer else []
        found = next((candidate for candidate in finer if candidate.matches("\n".join(later))), rule)
        if found is rule:
            # ...or in the server's language: a line read on its own (a translated HINT).
            listed = (listed_for(line, rules) for line in later)
            found = next((candidate for candidate in listed if candidate in finer), rule)
    return _Hit(found, text, by_code, code, general) if found else None


# pg_restore creating the public schema every database already has (a dump of PostgreSQL 14 or
# older, or one made with --clean): no sign of a database that is not empty, whatever else failed.
_PUBLIC_SCHEMA = re.compile(r"^\s*(?:Command was: |[^\n]*:\s)CREATE SCHEMA public;", re.MULTILINE)


def _rank(hit: _Hit) -> int:
    if REFUSED_PLAIN.search(hit.text) or hit.rule.id in _ECHO or _PUBLIC_SCHEMA.search(hit.text):
        return 2
    if hit.rule.id in _REFUSED_BY_HBA:
        return 1
    return 4 if hit.rule.id in _NO_ROUTE else 3 if hit.rule.id in _NETWORK else 0


def _weigh(found: list[_Hit], rules: tuple[Rule, ...], unexplained: bool, code: str | None, raw: str) -> Diagnosis:
    """One answer from the answers of every message (see the module's docstring)."""
    best = min(_rank(hit) for hit in found)
    kept = [hit for hit in found if _rank(hit) == best]
    order = {rule.id: number for number, rule in enumerate(rules)}
    answers = sorted({hit.rule.id: hit.rule for hit in kept}.values(), key=lambda rule: order.get(rule.id, len(order)))
    first, others = answers[0], answers[1:]
    if best == 0 and any(hit.rule.id == _ABORTED for hit in found) and first.id != _ABORTED:
        # The rest of a transaction aborted by this error: the program went on after it (a
        # caught error, a script without ON_ERROR_STOP), and that is the second answer.
        others = [*others, rule_by_id(_ABORTED, rules)]
    sure = [hit for hit in kept if hit.rule is first]
    if all(hit.unsure for hit in sure):
        # Words that other rules fit as well ("in recovery mode": after a crash, or starting), or
        # a context that only makes this answer likely (a psql script named like a backup).
        listed = {first.id, *(rule.id for rule in others)}
        ids = [rule_id for hit in sure for rule_id in hit.others(rules) if rule_id not in listed]
        others += [rule_by_id(rule_id, rules) for rule_id in dict.fromkeys(ids)]
    confidence = "high" if any(hit.by_code for hit in sure) else first.confidence
    if first.id == "ssl-required" and all(REFUSED_PLAIN.search(hit.text) for hit in sure) and not others:
        # Refused unencrypted, and no attempt shows more: the server may want TLS, or may not
        # let this address, user or database in at all (then sslmode=require changes nothing);
        # which comes first depends on what connected (hba_refusal.py).
        others = [rule for rule in rules if rule.id == "no-pg-hba"]
        if others and unlisted_first(raw):
            first, others = others[0], [first]
    postgres = postgres_sign(raw) or any(postgres_sign(hit.text) for hit in sure)  # or its catalogs'
    # A server's message no rule knows, beside an answer read from other words (a tool's, a hint's):
    # the answer is only probable.
    guessed = unexplained and not any(hit.by_code or _server_said(hit) for hit in sure)
    if others or (best >= 3 and not postgres) or guessed:
        # Two answers; or a network failure (refused, timed out, unknown host) in a text with no
        # sign of PostgreSQL: any program's connection fails in those words.
        confidence = "medium" if confidence == "high" else confidence
    if OTHER_DATABASE.search(raw) and not POSTGRES_NAMED.search(raw):
        # Another database's error: words PostgreSQL shares do not make its cause PostgreSQL's.
        confidence = "low"
    if best >= 3 and (unexplained or (OTHER_SERVICE.search(raw) and not postgres_sign(raw))):
        # A server said something no rule knows, or the failure is another service's (a web API,
        # Redis): the network failure is not the answer.
        confidence = "low"
    if first.id in _CERTIFICATE and not postgres_sign(raw):
        # Every program's TLS fails in these words (curl, git, pip, npm, docker, a web API's
        # client): without a sign of PostgreSQL only probably the database's, and not at all
        # beside another service's address.
        confidence = "low" if OTHER_SERVICE.search(raw) else "medium" if confidence == "high" else confidence
    alternatives = tuple(Alternative.of(rule) for rule in others)
    if confidence == "low":
        return replace(unknown(raw, code), alternatives=(Alternative.of(first), *alternatives))
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


def _server_said(hit: _Hit) -> bool:
    """Whether the answer is read from a server's message line (or the line it wraps onto)."""
    lines = [*hit.text.splitlines(), ""]
    return any(
        SERVER_SAID.search(line)
        and (hit.rule.matches(line) or (hit.rule.matches(f"{line} {after}") and not hit.rule.matches(after)))
        for line, after in pairwise(lines)
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


def _message_lines(pieces: list[str]) -> list[str]:
    return [line for piece in pieces for line in split_message(piece)[0].splitlines()]
