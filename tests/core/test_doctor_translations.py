"""Login failures from a server that speaks another language come without a SQLSTATE (psycopg
gives none while connecting): the doctor knows them from PostgreSQL's own translations, in
every wording that versions 14 to 18 use. The catalogs are pinned in tools/catalogs/, so
nothing here depends on what is installed on the machine."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from tests.core.doctor_mutations import SERVER_MESSAGES
from tools.server_translations import (
    CATALOGS,
    CORPUS_MESSAGES,
    ENCRYPTION_STATES,
    EXTRACT,
    MESSAGES,
    SOURCES,
    dump,
    excerpt,
    load_pinned,
    render,
    translated,
    wordings,
)
from wizard.core import doctor
from wizard.core.doctor import TRANSLATIONS_FILE, diagnose

PINNED = load_pinned()
# Other names than any test elsewhere uses: the patterns must not depend on them.
NAMES = ("192.0.2.77", "report_writer", "analytics_prod", "SSL-Verschlüsselung")
NO_ENTRY = 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s'
LANGUAGES_14 = {"de", "es", "fr", "it", "ja", "ko", "ru", "sv", "uk", "zh_CN"}
LANGUAGES_16 = LANGUAGES_14 | {"id", "ka", "pl", "pt_BR", "tr"}


def _filled(template: str, names: tuple[str, ...] = NAMES) -> str:
    """printf's %s and positional %2$s, as PostgreSQL's translations use them."""
    position = iter(range(len(names)))
    return re.sub(r"%(?:(\d+)\$)?s", lambda m: names[int(m.group(1)) - 1 if m.group(1) else next(position)], template)


def _psycopg(message: str) -> str:
    return f'connection failed: connection to server at "192.0.2.77", port 6543 failed: FATAL:  {message}'


def _build(label: str) -> dict[str, dict[str, str]]:
    (found,) = (build.languages for build in PINNED if build.label == label)
    return found


def test_the_catalogs_of_every_major_version_14_to_18_are_pinned() -> None:
    assert sorted(path.name for path in CATALOGS.glob("*.json")) == sorted(source.file.name for source in SOURCES)
    assert [(build.major, build.label) for build in PINNED] == sorted((s.major, s.version) for s in SOURCES)
    assert {build.major for build in PINNED} == {14, 15, 16, 17, 18}
    for build in PINNED:
        expected = LANGUAGES_14 if build.major == 14 else LANGUAGES_14 | {"ka"} if build.major == 15 else LANGUAGES_16
        assert set(build.languages) >= expected, build.label
        assert NO_ENTRY in build.languages["de"], build.label
    assert "zh_TW" in _build("15.20-0+deb12u1")  # Debian's 15.20 has a catalog the wheels have not


def test_the_pinned_catalogs_are_small_sorted_and_hold_only_the_msgids_used() -> None:
    wanted = set(EXTRACT["postgres"])
    assert {msgid for _, msgid, _ in MESSAGES} | set(ENCRYPTION_STATES) | set(CORPUS_MESSAGES) == wanted
    # The corpus test translates SERVER_MESSAGES with these catalogs: the same msgids, pinned.
    assert [msgid for msgid, *_ in SERVER_MESSAGES] == list(CORPUS_MESSAGES)
    assert len(EXTRACT["postgres"]) == len(wanted)
    for source in SOURCES:
        text = source.file.read_text(encoding="utf-8")
        data = json.loads(text)
        assert dump(data) == text, f"{source.file.name} is not as --fetch writes it"
        assert (data["package"], data["version"], data["major"]) == (source.package, source.version, source.major)
        assert source.version in data["origin"]
        assert list(data["catalogs"]) == [f"postgres-{source.major}"]
        for language, entry in data["catalogs"][f"postgres-{source.major}"].items():
            assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), language
            assert set(entry["messages"]) <= wanted, language
            assert all(text != msgid for msgid, text in entry["messages"].items()), language
    assert sum(path.stat().st_size for path in CATALOGS.glob("*.json")) < 500_000


def test_the_shipped_translations_are_exactly_what_the_pinned_catalogs_render() -> None:
    # Regenerate with: python tools/server_translations.py (--fetch to pin newer catalogs first)
    assert render(PINNED) == TRANSLATIONS_FILE.read_text(encoding="utf-8")


def test_every_wording_of_every_version_is_recognized_in_psycopgs_shape_with_other_names() -> None:
    checked: set[tuple[str, str]] = set()
    seen: dict[int, set[str]] = {}
    for rule_id, msgid, last in MESSAGES:
        for build in PINNED:
            for language, messages in build.languages.items():
                text = translated(messages, msgid, last)
                if text is None:
                    continue
                message = _filled(text)
                assert not re.search(r"%(\d+\$)?s", message)
                found = diagnose(_psycopg(message))
                assert found.id == rule_id, f"{build.label} {language}: {message!r} read as {found.id}, not {rule_id}"
                checked.add((language, text))
                seen.setdefault(build.major, set()).add(language)
    assert len(checked) > 450  # distinct wordings; every one of them read as its rule
    assert set(seen) == {14, 15, 16, 17, 18}
    assert seen[14] == LANGUAGES_14 and seen[16] == seen[17] == seen[18] == LANGUAGES_16
    assert seen[15] == LANGUAGES_14 | {"ka", "zh_TW"}


def test_the_shipped_file_holds_each_wording_once_with_the_versions_that_use_it() -> None:
    zh = wordings(PINNED, NO_ENTRY, "no encryption")["zh_CN"]
    assert zh == {
        '没有用于主机 "%s", 用户 "%s", 数据库 "%s", no encryption 的 pg_hba.conf 记录':
            ["14.23.0", "15.19.0", "16.15.0", "17.11.0", "18.6.0"],
        '没有适用于主机 "%s", 用户 "%s", 数据库 "%s", 未加密 的 pg_hba.conf 条目': ["15.20-0+deb12u1"],
    }  # fmt: skip
    assert set(wordings(PINNED, "remaining connection slots are reserved for roles with the %s attribute", None)) == {
        "de", "es", "ja", "ka", "ko", "pt_BR", "ru", "sv", "uk",
    }  # fmt: skip
    assert len(doctor._translations()) == sum(
        len(texts) for _, msgid, last in MESSAGES for texts in wordings(PINNED, msgid, last).values()
    )


def test_the_english_wording_of_every_message_is_recognized() -> None:
    # What a server sends in English, or in a language whose catalog lacks the message.
    for rule_id, msgid, last in MESSAGES:
        text = translated({msgid: msgid}, msgid, last)
        assert text is not None
        assert diagnose(_psycopg(_filled(text))).id == rule_id, text


def test_zh_cn_15_without_encryption_is_read_as_ssl_required() -> None:
    # PostgreSQL 15.18 and 15.19 in Chinese: the pg_hba message is translated, "no encryption" is not.
    fifteen = _build("15.19.0")["zh_CN"]
    assert "no encryption" not in fifteen
    message = (
        '没有用于主机 "192.0.2.77", 用户 "report_writer", 数据库 "analytics_prod", no encryption 的 pg_hba.conf 记录'
    )
    assert _filled(fifteen[NO_ENTRY], (*NAMES[:3], "no encryption")) == message
    assert diagnose(_psycopg(message)).id == "ssl-required"
    assert diagnose(_psycopg(message.replace("no encryption", "SSL encryption"))).id == "no-pg-hba"
    # 15.20 words it anew, and translates "no encryption" as well.
    newer = '没有适用于主机 "192.0.2.77", 用户 "report_writer", 数据库 "analytics_prod", 未加密 的 pg_hba.conf 条目'
    assert diagnose(_psycopg(newer)).id == "ssl-required"
    assert diagnose(_psycopg(newer.replace("未加密", "SSL 加密"))).id == "no-pg-hba"


def test_pg_hba_without_encryption_is_told_apart_from_a_missing_entry() -> None:
    german = _build("15.19.0")["de"]
    entry = german[NO_ENTRY]
    plain = entry % ("10.1.1.1", "app", "neondb", german["no encryption"])
    encrypted = entry % ("10.1.1.1", "app", "neondb", german["SSL encryption"])
    assert plain.endswith(", keine Verschlüsselung") and encrypted.endswith(", SSL-Verschlüsselung")
    assert diagnose(f"FATAL:  {plain}").id == "ssl-required"
    assert diagnose(f"FATAL:  {encrypted}").id == "no-pg-hba"


def test_an_encrypted_connection_without_an_entry_is_never_read_as_ssl_required() -> None:
    checked: dict[str, int] = {}
    for build in PINNED:
        for language, messages in build.languages.items():
            if NO_ENTRY not in messages:
                continue
            for state in ("SSL encryption", "GSS encryption"):  # as the server fills them in, translated or not
                message = _filled(messages[NO_ENTRY], (*NAMES[:3], messages.get(state, state)))
                assert diagnose(_psycopg(message)).id == "no-pg-hba", f"{build.label} {language}: {message!r}"
                checked[build.label] = checked.get(build.label, 0) + 1
    assert checked.keys() == {build.label for build in PINNED}
    assert sum(checked.values()) > 120


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
    monkeypatch.setattr(doctor, "TRANSLATIONS_FILE", broken)
    broken.write_text('[[message]]\nrule = "password-failed"\nmsgid = "x"\n[message.text]\n"de" = "falsch %s"\n')
    with pytest.raises(ValueError, match="not a list"):
        doctor._translations.__wrapped__()
    broken.write_text('[[message]]\nrule = "password-failed"\nmsgid = "x"\n[message.text]\n"de" = [" %s "]\n')
    with pytest.raises(ValueError, match="would match any message"):
        doctor._translations.__wrapped__()


def test_a_translated_message_with_a_sqlstate_still_goes_by_the_code() -> None:
    text = "FATAL:  Passwort-Authentifizierung für Benutzer »app« fehlgeschlagen"
    assert diagnose(text, sqlstate="28P01").id == "password-failed"
    assert diagnose("ERROR:  Rolle »app« existiert nicht", sqlstate="42704").id != "database-missing"
