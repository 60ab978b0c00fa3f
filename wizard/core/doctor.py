"""Turns an error message into a plain cause and fix, from the rules in doctor_rules.toml.

A rule matches on the SQLSTATE when the error carries one (the server's text may be
localized) and otherwise on its text: psycopg gives no SQLSTATE for connection-time
failures, even when the server sent one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("doctor_rules.toml")

GENERAL_CHECKLIST = (
    "Check that the URL is the one your provider's console shows (host, database, user).",
    "Check that the database server is running and reachable from this computer.",
    "Run `migration-wizard doctor` with the full error text for more help.",
)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    cause: str
    fix: tuple[str, ...]
    sqlstates: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Diagnosis:
    matched: bool
    id: str | None
    title: str
    cause: str
    fix: tuple[str, ...]


@lru_cache(maxsize=1)
def load_rules(path: Path = RULES_FILE) -> tuple[Rule, ...]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return tuple(
        Rule(
            id=item["id"],
            title=item["title"],
            cause=item["cause"],
            fix=tuple(item["fix"]),
            sqlstates=tuple(item.get("sqlstates", ())),
            patterns=tuple(re.compile(p, re.IGNORECASE) for p in item.get("patterns", ())),
        )
        for item in data["rule"]
    )


def diagnose(text: str, *, sqlstate: str | None = None) -> Diagnosis:
    rules = load_rules()
    if sqlstate:
        for rule in rules:
            if sqlstate in rule.sqlstates and (not rule.patterns or _text_matches(rule, text)):
                return _found(rule)
        for rule in rules:
            if sqlstate in rule.sqlstates:
                return _found(rule)
    for rule in rules:
        if _text_matches(rule, text):
            return _found(rule)
    first_line = text.strip().splitlines()[0] if text.strip() else "an unknown error"
    return Diagnosis(False, None, first_line, "The wizard does not recognize this error.", GENERAL_CHECKLIST)


def _text_matches(rule: Rule, text: str) -> bool:
    return any(p.search(text) for p in rule.patterns)


def _found(rule: Rule) -> Diagnosis:
    return Diagnosis(True, rule.id, rule.title, rule.cause, rule.fix)
