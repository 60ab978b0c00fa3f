"""The troubleshooting rules (doctor_rules.toml), read and checked: what each one matches on
(SQLSTATEs, patterns over the message, object names, exception classes), its cause and fix, the
action the wizard can take for it, how sure its words make it, and the situations (contexts: a
restore's report, a URL of another database) that turn another rule's answer into its own.
doctor.py applies them."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from wizard.core.translated_messages import QUOTES, contexts

RULES_FILE = Path(__file__).with_name("doctor_rules.toml")

# What the wizard can do for the user; the UI offers it as an action.
ACTIONS: dict[str, str] = {
    "switch_to_direct_host": "switch to the direct host (without -pooler)",
    "percent_encode_password": "percent-encode the password in the URL",
    "use_bundled_pg_dump": "use the pg_dump 18 it ships with",
    "retry_after_lock": "retry when the lock is free",
    "add_sslmode_require": "add sslmode=require to the URL",
}

_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
# A name as a message quotes it, in any language's quotation marks ("x", »x«, „x“, «x», 「x」).
_QUOTED_NAME = re.compile(f"[{QUOTES}]\\s?([^{QUOTES}\\s]+)\\s?[{QUOTES}]")

CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True)
class Context:
    """A situation the whole text shows (a restore's report, a URL of another database): its
    `certain` signs, its `likely` ones (psql running a file named like a backup), its `possible`
    ones (psql running any file), and the wordings of the certain ones in other languages
    (doctor_translations.toml's [[context]] of that name)."""

    name: str
    certain: tuple[re.Pattern[str], ...]
    likely: tuple[re.Pattern[str], ...] = ()
    possible: tuple[re.Pattern[str], ...] = ()

    def seen(self, text: str) -> str | None:
        """How surely the text shows it: "certain", "likely", "possible", or None (not at all)."""
        if any(p.search(text) for p in self.certain):
            return "certain"
        lowered = text.lower()
        if any(wording.search(text, lowered) for wording in contexts().get(self.name, ())):
            return "certain"
        for level, patterns in (("likely", self.likely), ("possible", self.possible)):
            if any(p.search(text) for p in patterns):
                return level
        return None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    cause: str
    fix: tuple[str, ...]
    sqlstates: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    exception_classes: tuple[str, ...] = ()
    # The SQLSTATEs (all of them for `true`) for which the code alone is not enough: a sibling
    # rule with the same code is the general case.
    needs_text: bool | tuple[str, ...] = False
    action: str | None = None
    doc: str | None = None
    confidence: str = "high"  # "medium" or "low" for a rule whose words do not settle the cause
    # Object names that make this the rule, whatever the language: a message in a words its
    # patterns cannot read (translated, or with only a SQLSTATE) takes it when it quotes one.
    names: tuple[re.Pattern[str], ...] = ()
    # Rules whose answer this one sharpens when its patterns match their message's DETAIL lines
    # (the server's log adds 'Role "x" does not exist.' under "password authentication failed").
    refines: tuple[str, ...] = ()
    # Words that reach this rule but fit other rules as well (`alternatives`): a message with
    # them is answered "probably this; if not, those".
    uncertain: tuple[re.Pattern[str], ...] = ()
    alternatives: tuple[str, ...] = ()
    # In its context (a restore's report), the answers of `instead_of` are this rule's (for a
    # likely context, "probably this; if not, that"), and a message with the words of
    # `alternative_for` keeps its own answer first, with this rule as the alternative.
    context: Context | None = None
    instead_of: tuple[str, ...] = ()
    alternative_for: tuple[re.Pattern[str], ...] = ()
    # Rules whose answer, in the same text, explains this one (a pooler's client waited in vain
    # because its server connections failed): then this answer is left out.
    follows: tuple[str, ...] = ()

    def needs_text_for(self, code: str) -> bool:
        return self.needs_text is True or (isinstance(self.needs_text, tuple) and code in self.needs_text)

    def matches(self, text: str) -> bool:
        return bool(text) and any(p.search(text) for p in self.patterns)

    def unsure(self, text: str) -> bool:
        """Whether the text holds words this rule reaches but others fit as well."""
        return bool(text) and any(p.search(text) for p in self.uncertain)

    def names_fit(self, text: str) -> bool | None:
        """Whether a name the text quotes is one of `names`; None when it quotes none (or the
        rule lists none): then the names cannot tell."""
        quoted = _QUOTED_NAME.findall(text)
        if not self.names or not quoted:
            return None
        return any(pattern.fullmatch(name) for pattern in self.names for name in quoted)


def _patterns(items: Any) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in items or ())


def _context(name: str, item: dict[str, Any]) -> Context:
    try:
        return Context(name, _patterns(item["certain"]), _patterns(item.get("likely")), _patterns(item.get("possible")))
    except (KeyError, re.error) as exc:
        raise ValueError(f"doctor context {name}: {exc}") from None


def _rule(item: dict[str, Any], known: dict[str, Context] | None = None) -> Rule:
    rule_id = str(item.get("id", "?"))
    known = known or {}
    needs_text = item.get("needs_text", False)
    try:
        rule = Rule(
            id=rule_id,
            title=item["title"],
            cause=item["cause"],
            fix=tuple(item["fix"]),
            sqlstates=tuple(item.get("sqlstates", ())),
            patterns=_patterns(item.get("patterns")),
            exception_classes=tuple(item.get("exception_classes", ())),
            needs_text=tuple(needs_text) if isinstance(needs_text, list) else bool(needs_text),
            action=item.get("action"),
            doc=item.get("doc"),
            confidence=str(item.get("confidence", "high")),
            names=_patterns(item.get("names")),
            refines=tuple(item.get("refines", ())),
            uncertain=_patterns(item.get("uncertain")),
            alternatives=tuple(item.get("alternatives", ())),
            context=known[item["context"]] if "context" in item else None,
            instead_of=tuple(item.get("instead_of", ())),
            alternative_for=_patterns(item.get("alternative_for")),
            follows=tuple(item.get("follows", ())),
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
        "uncertain without alternatives, or the reverse" if bool(rule.uncertain) != bool(rule.alternatives) else "",
        "instead_of or alternative_for without a context"
        if (rule.instead_of or rule.alternative_for) and not rule.context
        else "",
    ]
    if any(problems):
        raise ValueError(f"doctor rule {rule_id}: " + ", ".join(p for p in problems if p))
    return rule


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> tuple[Rule, ...]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    known = {name: _context(name, item) for name, item in data.get("context", {}).items()}
    rules = tuple(_rule(item, known) for item in data["rule"])
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ValueError(f"doctor rule {rule.id} is listed twice")
        seen.add(rule.id)
    for rule in rules:
        named = (rule.refines, rule.alternatives, rule.instead_of, rule.follows)
        unknown = sorted(set().union(*named) - seen)
        if unknown:
            raise ValueError(f"doctor rule {rule.id} names an unknown rule: {unknown}")
    return rules


def rule_by_id(rule_id: str, rules: tuple[Rule, ...] | None = None) -> Rule:
    return next(rule for rule in rules or load_rules() if rule.id == rule_id)


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
