"""Which rule a message's words reach when its English patterns alone do not tell: by the
SQLSTATE it came with, or read back in English from another language (doctor.py's readings)."""

from __future__ import annotations

from wizard.core.rules import Rule
from wizard.core.translated_messages import wordings_in


def by_translation(text: str, rules: tuple[Rule, ...]) -> tuple[Rule, str] | None:
    """A message a server sent in another language (it comes without a SQLSTATE): the rule its
    English text reaches (in its context first: pg_restore's "could not execute query:" before
    it), or else the one its translation is listed for; and that English."""
    if not text:
        return None
    # Every part in another language read back in English, names included (libpq's words and the
    # system's under them may both be translated): the message then reaches the rule its English
    # would (names decide: the migration's own objects or any other, a URL where a keyword
    # belongs, an IPv6 address read as a port, a password's "@" in a host name); the rule the
    # first translation is listed for is the general answer.
    reading, listed, english = text, None, ""
    lowered = text.lower()
    # Only the wordings whose longest word the text holds can match (a cheap first test).
    for translated in wordings_in(lowered):
        match = translated.pattern.search(reading)
        if match is None:
            continue
        rule = next((rule for rule in rules if rule.id == translated.rule), None)
        if listed is None:
            if rule is None:
                return None
            listed, english = rule, translated.english(match)
        reading = reading[: match.start()] + translated.english(match) + reading[match.end() :]
    if listed is None:
        return None
    for candidate in (reading, english):
        found = next((rule for rule in rules if rule.matches(candidate)), None)
        if found is not None:
            return found, candidate
    return listed, english


def listed_for(text: str, rules: tuple[Rule, ...]) -> Rule | None:
    """The rule the first (most specific) translated wording the text holds is listed for: a
    line read on its own, as a HINT under a message is (not as part of the text around it)."""
    lowered = text.lower()
    wording = next((wording for wording in wordings_in(lowered) if wording.pattern.search(text)), None)
    if wording is None:
        return None
    return next((rule for rule in rules if rule.id == wording.rule), None)


def by_sqlstate(rules: tuple[Rule, ...], code: str, parts: tuple[str, str]) -> tuple[Rule | None, bool]:
    """The rule for a SQLSTATE, and whether it is only the code's general rule (the words of the
    message were not recognized)."""
    candidates = [rule for rule in rules if code in rule.sqlstates]
    for part in parts:
        specific = next((rule for rule in candidates if rule.matches(part)), None)
        if specific:
            return specific, False
    # A translated message: read as its translation says (names included), among this code's rules.
    translated = by_translation(parts[0], tuple(candidates))
    if translated is not None:
        return translated[0], False
    # The text is not recognized (worded differently): the general rule for the code, unless
    # the names it quotes say it is not that rule's (then a sibling that needs no names).
    text = "\n".join(parts)
    general = [rule for rule in candidates if not rule.needs_text_for(code) and rule.names_fit(text) is not False]
    if general:
        return general[0], True
    return next((rule for rule in candidates if not rule.names and any(r.names for r in candidates)), None), True
