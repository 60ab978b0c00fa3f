"""What comes without a SQLSTATE in another language (a login failure, psycopg gives none while
connecting; libpq's and the system's own words; a server's ERROR pasted without its code): the
doctor knows it from PostgreSQL's and glibc's own translations, in every wording that versions
14 to 18 use, as the rule its English text is. The catalogs are pinned in tools/catalogs/, so
nothing here depends on what is installed on the machine."""

from __future__ import annotations

import json
import re

from tests.core.doctor_mutations import SERVER_MESSAGES
from tools.server_translations import (
    CATALOGS,
    CONNECTION_PREFIXES,
    CONTEXTS,
    CORPUS_MESSAGES,
    ENCRYPTION_STATES,
    EXTRACT,
    FALLBACKS,
    GENERAL,
    MESSAGES,
    SERVER_LOGIN,
    SOURCES,
    Message,
    Pinned,
    ambiguous,
    dump,
    english,
    load_all,
    load_pinned,
    ordered,
    render,
    translated,
    variants,
    wordings,
    wordings_of,
)
from wizard.core import translated_messages
from wizard.core.doctor import diagnose
from wizard.core.translated_messages import TRANSLATIONS_FILE

PINNED = load_pinned()
ALL = load_all()
ORDERED = ordered()
SHARED = ambiguous(ALL)
# Other names than any test elsewhere uses: the patterns must not depend on them.
NAMES = ("192.0.2.77", "report_writer", "analytics_prod", "SSL-Verschlüsselung")
NO_ENTRY = 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s'
LANGUAGES_14 = {"de", "es", "fr", "it", "ja", "ko", "ru", "sv", "uk", "zh_CN"}
LANGUAGES_16 = LANGUAGES_14 | {"id", "ka", "pl", "pt_BR", "tr"}


# A rule that only the migration's own names reach, and the rule any other name gets.
NAMED_OTHERWISE = {"already-exists": "object-already-exists"}
# Numbers decide, as names do: an archive version no pg_dump wrote is a broken file, not a newer one.
NUMBERS_DECIDE = frozenset({"unsupported version (%d.%d) in file header"})


def _filled(template: str, names: tuple[str, ...] = NAMES) -> str:
    """printf's %s and positional %2$s, as PostgreSQL's translations use them."""
    position = iter(range(len(names)))
    return re.sub(r"%(?:(\d+)\$)?s", lambda m: names[int(m.group(1)) - 1 if m.group(1) else next(position)], template)


def _psycopg(message: str) -> str:
    # A server on Amazon RDS, which requires TLS: a refused plain connection is read as TLS first
    # (hba_refusal.py), as the rule its English reaches.
    server = "pg-17.c1x2y3z4w5.eu-west-1.rds.amazonaws.com"
    return f'connection failed: connection to server at "{server}" (192.0.2.77), port 6543 failed: FATAL:  {message}'


def _build(label: str, domain: str = "postgres") -> dict[str, dict[str, str]]:
    (found,) = (build.languages for build in ALL[domain] if build.label == label)
    return found


def _as_received(message: Message, text: str) -> str:
    """A message in the shape the user meets it: psycopg's for a login failure, psql's for
    libpq's and the system's words, a pasted ERROR line for the server's."""
    if message.domain == "libc":
        return f'psql: error: connection to server at "192.0.2.77", port 5432 failed: {text}'
    if message.domain == "libpq":
        return f"psql: error: {text}"
    if message.domain == "pg_dump":
        return f"pg_restore: error: {text}"
    return _psycopg(text) if message in SERVER_LOGIN else f"ERROR:  {text}"


def test_the_catalogs_of_every_major_version_14_to_18_are_pinned() -> None:
    assert sorted(path.name for path in CATALOGS.glob("*.json")) == sorted(source.file.name for source in SOURCES)
    servers = [source for source in SOURCES if "postgres" in source.domains]
    assert [(build.major, build.label) for build in PINNED] == sorted((s.major, s.version) for s in servers)
    assert {build.major for build in PINNED} == {14, 15, 16, 17, 18}
    for build in PINNED:
        expected = LANGUAGES_14 if build.major == 14 else LANGUAGES_14 | {"ka"} if build.major == 15 else LANGUAGES_16
        assert set(build.languages) >= expected, build.label
        assert NO_ENTRY in build.languages["de"], build.label
    assert "zh_TW" in _build("15.20-0+deb12u1")  # Debian's 15.20 has a catalog the wheels have not
    # libpq of every major version (Debian's 15.20 in its own package, libpq5), and glibc.
    assert {build.major for build in ALL["libpq"]} == {14, 15, 16, 17, 18}
    for build in ALL["libpq"]:
        assert {"de", "es", "fr", "ja", "ko", "ru", "zh_CN"} <= set(build.languages), build.label
    assert {"zh_TW", "pl", "pt_BR", "tr"} <= set(_build("18.6.0", "libpq"))
    ((glibc,),) = (ALL["libc"],)
    assert len(glibc.languages) > 30 and {"de", "fr", "ja", "nl", "pt_BR", "zh_CN"} <= set(glibc.languages)


def test_the_pinned_catalogs_are_small_sorted_and_hold_only_the_msgids_used() -> None:
    listed = {msgid for message in MESSAGES for msgid in variants(message)}
    lasts = {message.last for message in MESSAGES if message.last}
    extras = set(ENCRYPTION_STATES) | set(CORPUS_MESSAGES) | set(CONNECTION_PREFIXES)
    extras |= {msgid for shown in CONTEXTS.values() for message in shown for msgid in variants(message)}
    assert set().union(*map(set, EXTRACT.values())) == listed | lasts | extras
    # The corpus test translates SERVER_MESSAGES with these catalogs: the same msgids, pinned.
    assert [msgid for msgid, *_ in SERVER_MESSAGES] == list(CORPUS_MESSAGES)
    assert all(len(msgids) == len(set(msgids)) for msgids in EXTRACT.values())
    for source in SOURCES:
        text = source.file.read_text(encoding="utf-8")
        data = json.loads(text)
        assert dump(data) == text, f"{source.file.name} is not as --fetch writes it"
        assert (data["package"], data["version"], data["major"]) == (source.package, source.version, source.major)
        assert source.version in data["origin"]
        assert len(data["catalogs"]) == len(source.domains)
        for catalog, languages in data["catalogs"].items():
            (domain,) = (domain for domain in source.domains if catalog in source.catalogs(domain))
            for language, entry in languages.items():
                assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), language
                assert set(entry["messages"]) <= set(EXTRACT[domain]), language
                assert all(text != msgid for msgid, text in entry["messages"].items()), language
    # Only the msgids used: the whole catalogs of these builds are some 60 MB.
    assert sum(path.stat().st_size for path in CATALOGS.glob("*.json")) < 3_500_000


def test_the_shipped_translations_are_exactly_what_the_pinned_catalogs_render() -> None:
    # Regenerate with: python tools/server_translations.py (--fetch to pin newer catalogs first);
    # the rules of doctor_rules.toml decide each message's rule, so regenerate after editing them.
    assert render(ALL) == TRANSLATIONS_FILE.read_text(encoding="utf-8")


def _fillers(message: Message, language: str) -> dict[str, str] | None:
    """The catalog that translates the message's `last` where it is another domain's (glibc's)."""
    if not message.last_domain:
        return None
    return next((build.languages.get(language, {}) for build in ALL[message.last_domain]), {})


def _every_translation() -> list[tuple[str, Message, Pinned, str, str]]:
    """(rule, message, build, language, wording) for every wording of every pinned build."""
    return [
        (rule_id, message, build, language, text)
        for rule_id, message in ORDERED
        for build in ALL[message.domain]
        for language, messages in build.languages.items()
        for msgid in variants(message)
        if (text := translated(messages, msgid, message.last, fillers=_fillers(message, language), first=message.first))
        is not None
        and text not in SHARED
    ]


def test_a_wording_that_two_rules_share_is_left_out() -> None:
    # Korean gives URI parameters with a "=" too many and one too few the same words. (Georgian
    # words 'permission denied for database %s' as '... for aggregate %s': both are a missing
    # privilege now, the CONNECT refusal at login being 'permission denied for database "%s"'.)
    assert '키/밸류 구분자 "=" 문자가 필요함, 해당 URI 쿼리 매개변수: "%s"' in SHARED and len(SHARED) <= 3
    assert 'წვდომა აკრძალულია აგრეგატზე: "%s"' not in SHARED
    shipped = TRANSLATIONS_FILE.read_text(encoding="utf-8")
    assert not any(json.dumps(text, ensure_ascii=False) in shipped for text in SHARED)


def test_every_wording_of_every_version_is_recognized_as_its_english_rule_with_other_names() -> None:
    checked: set[tuple[str, str]] = set()
    seen: dict[tuple[str, int | None], set[str]] = {}
    rules: dict[str, set[str]] = {}
    answers: dict[str, str | None] = {}  # a wording that several builds share is read once
    for rule_id, message, build, language, text in _every_translation():
        filled = _filled(text)
        assert not re.search(r"%(\d+\$)?s", filled)
        received = _as_received(message, filled)
        if received not in answers:
            answers[received] = diagnose(received).id
        found_id = answers[received]
        where = f"{message.domain} {build.label} {language}"
        # Where the names decide (the migration's own objects, or any other; a URL or a keyword
        # where a name belongs), the answer is the English one for the same names: these names
        # are none of the migration's objects.
        expected = NAMED_OTHERWISE.get(rule_id, rule_id)
        if message in GENERAL or message.msgid in NUMBERS_DECIDE:
            expected = diagnose(_as_received(message, _filled(english(message, "%s")))).id or rule_id
        assert found_id == expected, f"{where}: {filled!r} read as {found_id}, not {expected}"
        checked.add((language, text))
        seen.setdefault((message.domain, build.major), set()).add(language)
        rules.setdefault(message.domain, set()).add(rule_id)
    assert len(checked) > 4000  # distinct wordings; every one of them read as its rule
    assert {major for domain, major in seen if domain == "postgres"} == {14, 15, 16, 17, 18}
    assert seen["postgres", 14] == LANGUAGES_14 and seen["postgres", 16] == LANGUAGES_16
    assert seen["postgres", 15] == LANGUAGES_14 | {"ka", "zh_TW"}
    assert {major for domain, major in seen if domain == "libpq"} == {14, 15, 16, 17, 18}
    assert len(seen["libc", None]) > 30
    assert {
        "password-failed",
        "permission-denied",
        "must-be-owner",
        "object-already-exists",
        "undefined-table",
        "lock-timeout",
        "deadlock",
        "disk-full",
        "server-starting",
        "extension-not-available",
    } <= rules["postgres"]
    assert {
        "host-not-found",
        "timeout",
        "connection-dropped",
        "ssl-not-supported",
        "ssl-certificate",
        "sslmode-invalid",
        "malformed-url",
        "connection-refused",
    } <= rules["libpq"]
    assert {"connection-refused", "network-unreachable", "timeout", "host-not-found"} <= rules["libc"]
    assert {major for domain, major in seen if domain == "pg_dump"} == {14, 15, 16, 17, 18}
    assert rules["pg_dump"] == {
        "version-mismatch",
        "backup-file-invalid",
        "output-not-writable",
        "local-disk-full",
        "lock-timeout",
        "undefined-table",
    }


def test_each_message_is_read_as_its_english_text_is() -> None:
    for rule_id, message in ORDERED:
        if message in FALLBACKS:  # libpq's hint: the English words alone name no rule
            assert diagnose(english(message)).id is None, message
        elif message in GENERAL:  # the English reading depends on the name; the translation takes the general rule
            assert rule_id in ("malformed-url", "host-not-found", "database-missing", "already-exists")
        else:
            assert diagnose(english(message).replace("(7.7)", "(1.16)")).id == rule_id, message
    # in the doctor's order: the specific rule first, libpq's hint last of all
    tail = [message for _, message in ORDERED][-len(GENERAL + FALLBACKS) :]
    assert set(tail[: len(GENERAL)]) == set(GENERAL) and tail[len(GENERAL) :] == list(FALLBACKS)


def test_the_shipped_file_holds_each_wording_once_with_the_versions_that_use_it() -> None:
    zh = wordings(PINNED, Message("postgres", NO_ENTRY, "no encryption"))["zh_CN"]
    assert zh == {
        '没有用于主机 "%s", 用户 "%s", 数据库 "%s", no encryption 的 pg_hba.conf 记录':
            ["14.23.0", "15.19.0", "16.15.0", "17.11.0", "18.6.0"],
        '没有适用于主机 "%s", 用户 "%s", 数据库 "%s", 未加密 的 pg_hba.conf 条目': ["15.20-0+deb12u1"],
    }  # fmt: skip
    reserved = Message("postgres", "remaining connection slots are reserved for roles with the %s attribute")
    assert set(wordings(PINNED, reserved)) == {"de", "es", "ja", "ka", "ko", "pt_BR", "ru", "sv", "uk"}
    # libpq 14 and 15 end a message with a newline, 16 to 18 not: one wording for both.
    timeout = wordings(ALL["libpq"], Message("libpq", "timeout expired"))["de"]
    assert list(timeout) == ["Zeitüberschreitung abgelaufen"] or len(timeout) < 3
    assert len(translated_messages.wordings()) == sum(
        len(set(texts) - SHARED) for _, message in ORDERED for texts in wordings_of(ALL, message).values()
    )


def test_the_english_wording_of_every_message_is_recognized() -> None:
    # What a server or libpq sends in English, or in a language whose catalog lacks the message.
    for rule_id, message in ORDERED:
        if message in FALLBACKS or message in GENERAL or message.msgid in NUMBERS_DECIDE:
            continue
        text = translated({message.msgid: message.msgid}, message.msgid, message.last, first=message.first)
        assert text is not None
        assert diagnose(_as_received(message, _filled(text))).id == rule_id, text


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


def test_a_translated_message_with_a_sqlstate_still_goes_by_the_code() -> None:
    text = "FATAL:  Passwort-Authentifizierung für Benutzer »app« fehlgeschlagen"
    assert diagnose(text, sqlstate="28P01").id == "password-failed"
    assert diagnose("ERROR:  Rolle »app« existiert nicht", sqlstate="42704").id != "database-missing"


def test_psql_in_german_saying_the_connection_was_refused_is_read_as_connection_refused() -> None:
    libpq, glibc = _build("18.6.0", "libpq")["de"], _build("2.36-9+deb12u14", "libc")["de"]
    at = libpq['connection to server at "%s" (%s), port %s failed: '] % ("localhost", "127.0.0.1", "5432")
    hint = libpq["\tIs the server running on that host and accepting TCP/IP connections?"]
    refused = f"psql: Fehler: {at}{glibc['Connection refused']}\n{hint}"
    assert refused == (
        "psql: Fehler: Verbindung zum Server auf »localhost« (127.0.0.1), Port 5432 fehlgeschlagen: "
        "Verbindungsaufbau abgelehnt\n\tLäuft der Server auf diesem Host und akzeptiert er TCP/IP-Verbindungen?"
    )
    assert diagnose(refused).id == "connection-refused"
    assert diagnose(refused.split("\n")[0]).id == "connection-refused"  # glibc's words alone
    # The hint alone (the system's words in a language glibc's catalogs lack, or Windows') ...
    assert diagnose(f"psql: Fehler: {at}Es konnte keine Verbindung hergestellt werden\n{hint}").id == (
        "connection-refused"
    )
    # ... is the last resort: where glibc's words say more, they decide.
    for errno, rule_id in (("No route to host", "network-unreachable"), ("Connection timed out", "timeout")):
        assert diagnose(f"psql: Fehler: {at}{glibc[errno]}\n{hint}").id == rule_id, errno
    lookup = libpq['could not translate host name "%s" to address: %s'] % (
        "db.example",
        glibc["Name or service not known"],
    )
    assert diagnose(f"psql: Fehler: {lookup}").id == "host-not-found"


def test_server_errors_pasted_without_a_sqlstate_are_read_in_german_french_and_japanese() -> None:
    for language, severity in (("de", "FEHLER"), ("fr", "ERREUR"), ("ja", "ERROR")):
        server = _build("17.11.0")[language]
        denied = f"{severity}:  " + server["permission denied for table %s"] % "attachments"
        ours = f"{severity}:  " + server['relation "%s" already exists'] % "attachments"
        other = f"{severity}:  " + server['relation "%s" already exists'] % "attachments_archive"
        assert diagnose(denied).id == "permission-denied", denied
        # The names decide, as in English: the migration's own table, or any other.
        assert diagnose(ours).id == "already-exists", ours
        assert diagnose(other).id == "object-already-exists", other
        assert diagnose(denied).sqlstate is None
    assert diagnose("FEHLER:  keine Berechtigung für Tabelle attachments").id == "permission-denied"
    assert diagnose("ERREUR:  la relation « attachments » existe déjà").id == "already-exists"
    assert diagnose("ERREUR:  la relation « attachments_archive » existe déjà").id == "object-already-exists"
    assert diagnose('ERROR:  リレーション"attachments"の列"storage_key"はすでに存在します').id == "already-exists"
    assert diagnose('ERROR:  リレーション"attachments_archive"はすでに存在します').id == "object-already-exists"
    assert diagnose("ERREUR:  le type « mood » existe déjà").id == "object-already-exists"
    for text in (
        "ERREUR:  la relation « attachments_archive » existe déjà",
        "FEHLER:  Relation »users« existiert bereits",
    ):
        assert diagnose(text, sqlstate="42P07").id == diagnose(text).id
    # With its SQLSTATE, the code still decides (42P07 lists the wizard's own tables' rule first).
    assert diagnose("ERREUR:  la relation « attachments » existe déjà", sqlstate="42P07").id is not None


def test_a_sslmode_typo_in_czech_libpq_is_read_as_such() -> None:
    # The languages that still translate libpq's 'invalid sslmode value' (from 16 on, others say
    # 'invalid %s value', whose translations are too general to tell apart, and left out).
    czech = _build("15.19.0", "libpq")["cs"]['invalid sslmode value: "%s"\n'] % "requre"
    assert diagnose(f"psql: chyba: {czech}").id == "sslmode-invalid"
    # Read back in English with its names, a translated message is what its English is: a bare
    # keyword without '=', a URL where a keyword belongs, an IPv6 address taken for the port.
    german = _build("18.6.0", "libpq")["de"]['missing "=" after "%s" in connection info string']
    assert diagnose(f"psql: Fehler: {german % 'sslmode'}").id == "url-missing-equals"
    assert diagnose(f"psql: Fehler: {german % 'postgres://app@db.example.com/app'}").id == "url-bad-scheme"
    russian = _build("17.11.0", "libpq")["ru"]['invalid integer value "%s" for connection option "%s"']
    assert diagnose("psql: ошибка: " + russian % ("db8::5:5432", "port")).id == "url-ipv6-brackets"
    assert diagnose("psql: ошибка: " + russian % ("abc", "port")).id == "bad-port"
    assert diagnose("psql: ошибка: " + russian % ("ten", "connect_timeout")).id == "malformed-url"


def test_a_translated_message_is_read_in_its_context() -> None:
    # pg_restore's "could not execute query:" (never translated) before the server's translated
    # words: a restore into a database that is not empty, whatever the names; the same words
    # alone are read by their names.
    shapes = (("de", "FEHLER", "Fehler"), ("fr", "ERREUR", "erreur "), ("ja", "ERROR", "エラー"))
    for language, severity, tool in shapes:
        exists = _build("17.11.0")[language]['relation "%s" already exists']
        for name in ("attachments", "customers"):
            said = f"{severity}:  {exists % name}"
            restored = f"pg_restore: {tool}: could not execute query: {said}\nCREATE TABLE public.{name} ("
            assert diagnose(restored).id == "restore-into-non-empty", restored
            assert diagnose(f"psql:/backups/app.sql:58: {said}").id == "restore-into-non-empty", said
        assert diagnose(f"{severity}:  {exists % 'attachments'}").id == "already-exists"
