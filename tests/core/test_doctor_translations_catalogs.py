"""How the pinned catalogs are cut down and read (tools/server_translations.py), and pg_dump's and
pg_restore's own messages in other languages: a version they refuse, an archive they cannot read,
an output file they cannot open, as a user pastes them from a terminal set to their language."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tools.server_translations import PG_DUMP, excerpt, load_all, translated
from wizard.core import translated_messages
from wizard.core.doctor import diagnose

NO_ENTRY = 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s'
ALL = load_all()


def _mo(messages: dict[str, str]) -> bytes:
    """A GNU message catalog (.mo) holding these translations."""
    ids = sorted(messages)
    keys, values = b"", b""
    key_spans, value_spans = [], []
    for msgid in ids:
        key_spans.append((len(msgid.encode()), len(keys)))
        keys += msgid.encode() + b"\0"
        value_spans.append((len(messages[msgid].encode()), len(values)))
        values += messages[msgid].encode() + b"\0"
    start = 7 * 4 + 16 * len(ids)
    table = [(size, start + offset) for size, offset in key_spans]
    table += [(size, start + len(keys) + offset) for size, offset in value_spans]
    header = struct.pack("<7I", 0x950412DE, 0, len(ids), 7 * 4, 7 * 4 + 8 * len(ids), 0, 0)
    return header + b"".join(struct.pack("<2I", *pair) for pair in table) + keys + values


def test_a_catalog_is_cut_down_to_the_wanted_msgids_of_the_wanted_domain() -> None:
    header = "Content-Type: text/plain; charset=UTF-8\n"
    wanted = {"postgres-16": (NO_ENTRY, "no encryption", "the database system is starting up")}
    files = [
        ("pg/share/locale/xx/LC_MESSAGES/postgres-16.mo", _mo({"": header, NO_ENTRY: "%4$s: %1$s/%2$s/%3$s fehlt",
                                                               "out of memory": "kein Speicher"})),
        ("pg/share/locale/yy/LC_MESSAGES/postgres-16.mo", _mo({"": header, "no encryption": "klartext"})),
        ("pg/share/locale/xx/LC_MESSAGES/libpq5-16.mo", _mo({"": header, NO_ENTRY: "not this domain"})),
        ("pg/share/locale/xx/LC_MESSAGES/README", b"not a catalog"),
    ]  # fmt: skip
    found = excerpt(files, wanted)
    assert list(found) == ["postgres-16"]
    catalogs = found["postgres-16"]
    assert catalogs["xx"]["messages"] == {NO_ENTRY: "%4$s: %1$s/%2$s/%3$s fehlt"}
    assert catalogs["yy"]["messages"] == {"no encryption": "klartext"}
    assert catalogs["xx"]["sha256"] != catalogs["yy"]["sha256"]
    # The last argument of a positional translation is filled where the translation puts it.
    assert translated(catalogs["xx"]["messages"], NO_ENTRY, "no encryption") == "no encryption: %1$s/%2$s/%3$s fehlt"


def test_a_translations_file_that_is_not_lists_of_wordings_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "translations.toml"
    monkeypatch.setattr(translated_messages, "TRANSLATIONS_FILE", broken)
    broken.write_text('[[message]]\nrule = "password-failed"\nmsgid = "x"\n[message.text]\n"de" = "falsch %s"\n')
    with pytest.raises(ValueError, match="not a list"):
        translated_messages.wordings.__wrapped__()
    broken.write_text('[[message]]\nrule = "password-failed"\nmsgid = "x"\n[message.text]\n"de" = [" %s "]\n')
    with pytest.raises(ValueError, match="would match any message"):
        translated_messages.wordings.__wrapped__()


def _pg_dump(label: str, language: str) -> dict[str, str]:
    (found,) = (build.languages[language] for build in ALL["pg_dump"] if build.label == label)
    return found


def test_pg_dump_and_pg_restore_are_read_in_every_pinned_version() -> None:
    assert {build.major for build in ALL["pg_dump"]} == {14, 15, 16, 17, 18}
    assert {message.domain for message in PG_DUMP} == {"pg_dump"}
    # Reproduced here: pg_dump 15.20 against an 18 server, pg_restore 15.20 given a plain .sql file,
    # under LC_ALL=de_DE.UTF-8, fr_FR.UTF-8, es_ES.UTF-8 (Debian's postgresql-client-15 catalogs).
    refused = "pg_dump: Fehler: Abbruch wegen unpassender Serverversion\npg_dump: Detail: Version des Servers: 18.4"
    assert diagnose(refused).id == "version-mismatch"
    assert diagnose("pg_dump: erreur : annulation à cause de la différence des versions").id == "version-mismatch"
    archive = "pg_restore: error: el archivo de entrada no parece ser un archivador válido (¿demasiado corto?)"
    assert diagnose(archive).id == "backup-file-invalid"
    for label in ("14.23.0", "16.15.0", "18.6.0"):
        german = _pg_dump(label, "de")
        cut = german["could not read from input file: end of file"]
        assert diagnose(f"pg_restore: Fehler: {cut}").id == "backup-file-invalid", label
        opened = german['could not open output file "%s": %m'].replace("%s", "/srv/backup/app.dump", 1)
        assert diagnose("pg_dump: Fehler: " + opened.replace("%m", "Keine Berechtigung")).id == "output-not-writable"
        japanese = _pg_dump(label, "ja")["aborting because of server version mismatch"]
        assert diagnose(f"pg_dump: エラー: {japanese}").id == "version-mismatch", label


def _libc(language: str) -> dict[str, str]:
    ((glibc,),) = (ALL["libc"],)
    return glibc.languages[language]


def test_a_keyword_and_the_systems_words_are_filled_in_as_the_tools_fill_them() -> None:
    # libpq 15+ says 'invalid %s value: "%s"' with the keyword untranslated in the first %s.
    assert translated({'invalid %s value: "%s"': '%s の値が不正: "%s"'}, 'invalid %s value: "%s"', None,
                      first="sslmode") == 'sslmode の値が不正: "%s"'  # fmt: skip
    assert translated({'invalid %s value: "%s"': '"%2$s": %1$s ungültig'}, 'invalid %s value: "%s"', None,
                      first="sslmode") == '"%2$s": sslmode ungültig'  # fmt: skip
    assert diagnose('psql: エラー: sslmode の値が不正: "verify_full"').id == "sslmode-invalid"
    # pg_dump's "could not write ...: %m" with glibc's words for a full disk in the same language.
    written = "could not write to output file: %m"
    swedish = _pg_dump("18.6.0", "sv")[written]
    enospc = translated(_pg_dump("18.6.0", "sv"), written, "No space left on device", fillers=_libc("sv"))
    assert enospc == swedish.replace("%m", _libc("sv")["No space left on device"])
    assert diagnose(f"pg_dump: fel: {enospc}").id == "local-disk-full"
    # The same words with another errno (a read-only folder) are not a full disk.
    assert diagnose(f"pg_dump: fel: {swedish.replace('%m', 'Åtkomst nekas')}").id != "local-disk-full"


def test_libpqs_words_and_the_systems_under_them_are_both_read_back_in_english() -> None:
    # libpq 15's German for 'could not translate host name "%s" to address: %s' with glibc's
    # German for EAI_NONAME: the host holds the end of a password with an unencoded '@'.
    text = (
        "psql: Fehler: konnte Hostnamen »ss@db.example.org« nicht in Adresse übersetzen: "
        "Der Name oder der Dienst ist nicht bekannt"
    )
    assert diagnose(text).id == "password-encoding"
    assert diagnose(text.replace("ss@db", "db")).id == "host-not-found"


def test_a_name_in_double_quotes_may_hold_an_apostrophe() -> None:
    """libpq quotes the word after which it missed "=" in double quotes: a password's piece with an
    apostrophe ('it's-secret' closed early) is read back in English whole, in any language."""
    russian = 'psql: ошибка: в строке соединения нет "=" после "s-secret\'"'
    found = diagnose(russian)
    assert (found.id, found.confidence) == ("url-unterminated-quote", "high")


def test_the_servers_message_in_a_tools_detail_line_is_read_in_its_language() -> None:
    text = (
        'pg_dump: error: Dumping the contents of table "eventi" failed: PQgetResult() failed.\n'
        "pg_dump: detail: Error message from server: ERRORE:  annullamento dell'istruzione a causa di un"
        " conflitto con il ripristino\n"
        "pg_dump: detail: Command was: COPY public.eventi (id, tipo) TO stdout;"
    )
    found = diagnose(text)
    assert (found.id, found.confidence) == ("standby-conflict", "high")


def test_the_index_finds_exactly_the_wordings_whose_longest_word_a_text_holds() -> None:
    from tests.core.doctor_mutations import load_corpus

    every = translated_messages.wordings()
    texts = [case.text.lower() for case in load_corpus()[::7]] + ["", "ab", "x" * 2]
    texts += [wording.literal for wording in every[::50]]  # each holds one at least
    for text in texts:
        assert translated_messages.wordings_in(text) == [w for w in every if w.literal in text], text[:80]


@pytest.mark.parametrize("sqlstate", [None, "42501"])
def test_a_translated_hint_refines_the_message_with_its_sqlstate_or_without(sqlstate: str | None) -> None:
    text = (
        "FEHLER:  keine Berechtigung, um Erweiterung »uuid-ossp« zu erzeugen\n"
        "TIP:  CREATE-Privileg für die aktuelle Datenbank wird benötigt, um diese Erweiterung anzulegen."
    )
    found = diagnose(text, sqlstate=sqlstate)
    assert (found.id, found.confidence) == ("permission-denied", "high")
