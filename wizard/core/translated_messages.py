"""Error messages in other languages, from doctor_translations.toml: each wording as a pattern
with a group per name, the rule its English reaches, and a way back to the English message.

A server whose lc_messages is not English sends its messages translated, libpq and the C
library translate theirs, and a message pasted from a log often comes without its SQLSTATE:
then only the words tell what it is. The file is rendered by tools/server_translations.py
from the message catalogs of PostgreSQL 14 to 18 (the server's, libpq's and pg_dump's) and
glibc's, pinned in tools/catalogs/. It also holds the wordings of what shows a situation rather
than a cause (pg_restore's "while PROCESSING TOC:"), by the name of the context they show.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

TRANSLATIONS_FILE = Path(__file__).with_name("doctor_translations.toml")
# Any printf conversion of a msgid (%s, %d, %u, %2$s, %m ...): the wordings write each as %s.
_ARGUMENT = re.compile(r"%(?:\d+\$)?[-+ #0']*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcspm]")
_ERRNO_LAST = re.compile(r"%m(?!.*%(?:\d+\$)?s)", re.DOTALL)  # a msgid whose last conversion is %m
# The quotation marks messages put around a name, in any language ("x", »x«, „x“, «x», 「x」).
QUOTES = '"\u00ab\u00bb\u201e\u201c\u201d\u300c\u300d\u300e\u300f\u201a\u2018\u2019'


@dataclass(frozen=True)
class Translated:
    """One wording of a message in another language: its pattern (a group per name), the rule
    it means, and the English message (msgid) with the order its names come in."""

    source: str  # the pattern, compiled on first use: a few thousand wordings take ~0.5 s to compile
    rule: str
    msgid: str
    order: tuple[int, ...]  # for each group, which %s of the msgid it fills
    literal: str  # its longest word, lower-cased: a text without it cannot match (a cheap first test)
    last: str = ""  # the English of the last %s, where the wording has it translated ("no encryption")
    first: str = ""  # the keyword the wording has in place of the first %s ("sslmode")

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compiled(self.source)

    def search(self, text: str, lowered: str) -> re.Match[str] | None:
        return self.pattern.search(text) if self.literal in lowered else None

    def english(self, match: re.Match[str]) -> str:
        """The message as the English server would have said it, names and all."""
        names = dict(zip(self.order, (name.strip() for name in match.groups()), strict=True))
        # errno's words (%m, no argument of its own) as the last one, where `last` fills it
        msgid = self.msgid.replace("%m", "%s") if self.last and _ERRNO_LAST.search(self.msgid) else self.msgid
        parts = _ARGUMENT.split(msgid)
        if self.first:
            names[1] = self.first
        if self.last:
            names.setdefault(len(parts) - 1, self.last)
        filled = [parts[0]]
        for number, part in enumerate(parts[1:], 1):
            filled += [names.get(number, ""), part]
        return "".join(filled)


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _read(entries: list[dict[str, Any]], key: str) -> tuple[Translated, ...]:
    found: list[Translated] = []
    for entry in entries:
        for language, texts in entry["text"].items():  # the wordings its versions use
            if isinstance(texts, str):
                raise ValueError(f"{TRANSLATIONS_FILE.name}: {language} of {entry['msgid']!r} is not a list")
            for text in texts:
                found.append(
                    _wording(str(text), str(entry[key]), str(entry["msgid"]), str(entry.get("last", "")),
                             str(entry.get("first", "")))
                )  # fmt: skip
    return tuple(found)


@lru_cache(maxsize=1)
def wordings() -> tuple[Translated, ...]:
    """Every wording of every message in every language of doctor_translations.toml, in the
    file's order (the specific first)."""
    return _read(_load(TRANSLATIONS_FILE)["message"], "rule")


_KEY = 3  # wordings are found by the first characters of their longest word


@lru_cache(maxsize=1)
def _by_key() -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """The wordings' positions by the start of their longest word, and those too short for one."""
    index: dict[str, list[int]] = {}
    short: list[int] = []
    for position, wording in enumerate(wordings()):
        if len(wording.literal) < _KEY:
            short.append(position)
        else:
            index.setdefault(wording.literal[:_KEY], []).append(position)
    return {key: tuple(every) for key, every in index.items()}, tuple(short)


def wordings_in(lowered: str) -> list[Translated]:
    """The wordings whose longest word the (lower-cased) text holds, in wordings()' order: only
    they can match. Found through the text's own character triples, not by testing thousands."""
    index, short = _by_key()
    keys = {lowered[start : start + _KEY] for start in range(len(lowered) - _KEY + 1)} & index.keys()
    every = wordings()
    positions = sorted([*short, *(position for key in keys for position in index[key])])
    return [every[position] for position in positions if every[position].literal in lowered]


@lru_cache(maxsize=1)
def contexts() -> dict[str, tuple[Translated, ...]]:
    """The wordings of what shows a situation (pg_restore's "while PROCESSING TOC:", "Command
    was: %s"), by the name of the context (in doctor_rules.toml) they show."""
    found: dict[str, list[Translated]] = {}
    for wording in _read(_load(TRANSLATIONS_FILE).get("context", []), "name"):
        found.setdefault(wording.rule, []).append(wording)
    return {name: tuple(every) for name, every in found.items()}


def _wording(text: str, rule: str, msgid: str, last: str = "", first: str = "") -> Translated:
    pieces = re.split(r"%(?:\d+\$)?s", text)  # a %s (or %1$s, in the translator's order) stands for a name
    if not "".join(pieces).strip():
        raise ValueError(f"{TRANSLATIONS_FILE.name}: {text!r} would match any message")
    marks = re.findall(r"%(?:(\d+)\$)?s", text)
    # With the first %s filled in (a keyword), the wording's own %s are the msgid's second on.
    shift = 1 if first else 0
    order = tuple(int(mark) if mark else number + shift for number, mark in enumerate(marks, 1))
    words = [r"\s+".join(map(re.escape, piece.split())) for piece in pieces]
    # A quoted name stops at its closing quote (one in double quotes may hold an apostrophe: a
    # piece of a password); a name at the very end runs to the end of the line; elsewhere, a
    # name runs to the words after it.
    groups = [_name(piece.rstrip()[-1:]) if piece.strip() else "(.+?)" for piece in pieces[:-1]]
    if groups and not pieces[-1].strip() and groups[-1] == "(.+?)":
        groups[-1] = "(.+)"
    pattern = words[0] + "".join(group + word for group, word in zip(groups, words[1:], strict=True))
    literal = max((word for piece in pieces for word in piece.split()), key=len).lower()
    return Translated(pattern, rule, msgid, order, literal, last, first)


def _name(before: str) -> str:
    """The group of a name after this character: up to its closing quote if it is a quote."""
    if before == "'":
        return f"([^{QUOTES}']+?)"
    return f"([^{QUOTES}]+?)" if before and before in QUOTES else "(.+?)"


def labelled(line: str, name: str) -> bool:
    """Whether the line starts with one of the context's labels in any language ("detail":
    DETAIL, HINT, TIPP, ASTUCE, ПОДСКАЗКА ...; "quoted": QUERY, CONTEXT, STATEMENT ...)."""
    start = line.lstrip()
    head = start[:48].lower()
    return any(wording.literal in head and wording.pattern.match(start) for wording in contexts().get(name, ()))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)
