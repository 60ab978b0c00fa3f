"""The doctor against a corpus of real error messages (tests/data/error_corpus.toml), the same
messages with other hosts, users, ports and versions, PostgreSQL's own translations of its
messages, and text nobody should recognize."""

from __future__ import annotations

import re
import socket
import tomllib
from pathlib import Path

import pytest

from tests.core.doctor_mutations import CORPUS as CORPUS_FILE
from tests.core.doctor_mutations import Case, load_corpus, mutate, translations
from wizard.core.doctor import (
    ACTIONS,
    GENERAL_CHECKLIST,
    UNKNOWN_TITLE,
    diagnose,
    diagnose_exception,
    find_rules,
    load_rules,
    rule_by_id,
    sqlstate_in,
)

CORPUS = load_corpus()
RULE_IDS = [rule.id for rule in load_rules()]
UNKNOWN = "unknown"  # the rule of a real message that no rule explains: the doctor must say it does not know


def test_the_corpus_is_large_real_and_covers_every_rule() -> None:
    assert len(CORPUS) >= 80
    assert all(case.source.strip() for case in CORPUS)
    assert sum(case.reproduced for case in CORPUS) >= 80, "most messages are reproduced on this machine"
    assert {case.rule for case in CORPUS} <= {*RULE_IDS, UNKNOWN}
    assert sum(case.rule == UNKNOWN for case in CORPUS) >= 10, "real messages no rule explains, never guessed at"
    untested = [rule_id for rule_id in RULE_IDS if rule_id not in {case.rule for case in CORPUS}]
    assert untested == [], f"rules without a real message in the corpus: {untested}"


def _confidences() -> dict[tuple[str, str | None], str]:
    """The confidence each case expects: "high" unless its entry says otherwise (a message
    that fits two causes is answered "probably X; if not, Y")."""
    with CORPUS_FILE.open("rb") as handle:
        cases = tomllib.load(handle)["case"]
    return {(case["text"], case.get("sqlstate")): case.get("confidence", "high") for case in cases}


CONFIDENCE = _confidences()


BY_RULE: dict[str, list[Case]] = {}
for _case in CORPUS:
    BY_RULE.setdefault(_case.rule, []).append(_case)


def _all_pass(rule_id: str, misses: list[str]) -> None:
    """One test per rule (thousands of messages): every message that fails is listed, not the first."""
    shown = "\n\n".join(misses[:20])
    assert not misses, f"{len(misses)} of {len(BY_RULE[rule_id])} {rule_id} messages:\n\n{shown}"


def _answer_miss(case: Case) -> str | None:
    """What is wrong with the doctor's answer to a corpus message, or None."""
    found = diagnose(case.text, sqlstate=case.sqlstate)
    if case.rule == UNKNOWN:
        return None if not found.recognized and not found.matched else f"{found.id} for\n{case.text}"
    expected = CONFIDENCE[case.text, case.sqlstate]
    if found.id != case.rule:  # the first (most likely) answer
        return f"{found.id} for\n{case.source}\n{case.text}"
    if found.confidence != expected or found.matched is not (expected == "high"):
        return f"{found.confidence} (matched {found.matched}), not {expected}, for\n{case.text}"
    if not (found.title and found.cause and found.fix):
        return f"an answer without title, cause or fix for\n{case.text}"
    return None


@pytest.mark.parametrize("rule_id", sorted(BY_RULE))
def test_each_real_message_reaches_its_rule(rule_id: str) -> None:
    _all_pass(rule_id, [miss for case in BY_RULE[rule_id] if (miss := _answer_miss(case))])


def _mutated_fits(case: Case, mutated: str, found_id: str | None, recognized: bool) -> bool:
    """Whether the answer to a mutated corpus message is still the case's rule (or, where the
    mutation renamed what decided it, the rule the new name calls for)."""
    if case.rule == UNKNOWN and '"image_analyses" already exists, skipping' in mutated:
        # the mutation named the migration's own table in a notice: Phase 2's harmless IF NOT EXISTS
        return found_id in (None, "already-exists")
    if case.rule == UNKNOWN:
        return not recognized
    if case.rule == "object-already-exists" and '"image_analyses"' in mutated:
        # the mutation may name the migration's own table: then it is the migration's own object
        return found_id in (case.rule, "already-exists")
    if case.rule == "url-has-spaces" and found_id in ("database-missing", "host-not-found", "no-pg-hba"):
        # the mutation renamed the database (or host, or user) that held the space: now a plain name
        return not re.search(r'(?:database|host name|user) "[^"\n]*\s', mutated)
    if case.rule.startswith("url-") and "://" in case.text and not re.search(r'database "[^"\n]*://', mutated):
        # the mutation renamed the database libpq took the URL for: now a plain missing database
        return found_id in (case.rule, "database-missing")
    if case.rule == "bad-port" and '"renamed_obj"' in mutated:
        # the mutation renamed the option (a translation quotes "port" as a name): any option now
        return found_id in (case.rule, "malformed-url")
    if case.rule == "already-exists" and "renamed_obj" in mutated:
        # the mutation renamed the application's table: now any object of that name
        return found_id in (case.rule, "object-already-exists")
    return found_id == case.rule


@pytest.mark.parametrize("rule_id", sorted(BY_RULE))
def test_other_hosts_users_ports_and_versions_reach_the_same_rule(rule_id: str) -> None:
    misses = []
    for case in BY_RULE[rule_id]:
        mutated = mutate(case.text)
        found = diagnose(mutated, sqlstate=case.sqlstate)
        if not _mutated_fits(case, mutated, found.id, found.recognized):
            misses.append(f"{found.id} for\n{mutated}")
    _all_pass(rule_id, misses)


def test_the_mutations_really_change_most_messages() -> None:
    changed = [case for case in CORPUS if mutate(case.text) != case.text]
    assert len(changed) >= len(CORPUS) // 2
    sample = mutate('connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "neondb" does not exist')
    assert "192.0.2.77" in sample and "port 6543" in sample and '"analytics_prod"' in sample


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        # psql 16 on a Mac, Neon with a pooler, an IPv6 literal, another port: same causes
        ('psql: error: connection to server at "ep-odd-sky-42.ap-southeast-1.aws.neon.tech" (13.228.46.236), '
         'port 5433 failed: FATAL:  password authentication failed for user "alice.w"', "password-failed"),
        ('connection failed: connection to server at "::1", port 15432 failed: Connection refused\n'
         "\tIs the server running on that host and accepting TCP/IP connections?", "connection-refused"),
        ("failed to resolve host 'Secr3t!@ep-odd-sky-42-pooler.ap-southeast-1.aws.neon.tech': [Errno -3] "
         "Temporary failure in name resolution", "password-encoding"),
        ("pg_dump: error: aborting because of server version mismatch\n"
         "pg_dump: detail: server version: 17.5; pg_dump version: 14.12 (Homebrew)", "version-mismatch"),
        ('ERROR:  relation "public.image_analyses" does not exist at character 15', "undefined-table"),
        ('error: column "analysis_json" of relation "image_analyses" already exists (SQLSTATE 42701)',
         "already-exists"),
        ("psql: error: connection to server at \"10.20.30.40\", port 6432 failed: FATAL:  no such database: shop",
         "database-missing"),
        ('ERROR: prepared statement "__asyncpg_stmt_1__" does not exist', "pooler-prepared-statement"),
        ("sh: pg_dump: command not found", "tool-missing"),
        ("Backup failed: Error: spawn pg_dump ENOENT\n    at ChildProcess._handle.onexit"
         " (node:internal/child_process:285:19)", "tool-missing"),  # Node's child_process
        ('backup: exec: "pg_dump": executable file not found in $PATH', "tool-missing"),  # Go's os/exec
        ('java.io.IOException: Cannot run program "pg_dump": error=2, No such file or directory', "tool-missing"),
        ("zsh: command not found: psql", "tool-missing"),
        ("'pg_dump' is not recognized as an internal or external command,\noperable program or batch file.",
         "tool-missing"),
        # pg_restore's other words for an archive it cannot read (pg_backup_archiver.c, pg_backup_tar.c)
        ("pg_restore: error: input file appears to be a text format dump. Please use psql.", "backup-file-invalid"),
        ("pg_restore: error: could not find block ID 4242 in archive -- possibly corrupt archive",
         "backup-file-invalid"),
        ("pg_restore: error: corrupt tar header found in PGDMP (expected 0, computed 18825) file position 512",
         "backup-file-invalid"),
        # drivers' own words for a URL without a password (pgJDBC, Npgsql)
        ("org.postgresql.util.PSQLException: The server requested SCRAM-based authentication, but no password was "
         "provided.", "password-failed"),
        ("Npgsql.NpgsqlException (0x80004005): No password has been provided but the backend requires one (in "
         "SASL/SCRAM-SHA-256)", "password-failed"),
        ("ERROR:  The requested project could not be found, or you don't have access to it. Please check the "
         "provided ID and try again.", "neon-endpoint-not-found"),
        ('2024-03-01 10:00:01 UTC [1] LOG S-0x55d: app/app@10.0.0.4:5432 closing because: server login failed: '
         'FATAL password authentication failed for user "app" (age=0s)', "pooler-server-login"),
        ('ERROR:  could not access file "$libdir/vector": No such file or directory', "extension-not-available"),
    ],
)  # fmt: skip
def test_messages_outside_the_corpus(text: str, rule_id: str) -> None:
    assert diagnose(text).id == rule_id


TRANSLATED = translations()


def test_translated_server_messages_are_recognized_by_sqlstate_and_never_misread() -> None:
    # The catalogs pinned in tools/catalogs/ (every build of 14 to 18), not the installed ones.
    languages = {translation.language for translation in TRANSLATED}
    majors = {major for translation in TRANSLATED for major, _ in translation.builds}
    assert len(TRANSLATED) > 250 and len(languages) >= 10 and {"de", "fr", "ja", "zh_CN"} <= languages
    assert {14, 15, 16, 17, 18} <= majors
    for t in TRANSLATED:
        where = f"{t.language} ({', '.join(version for _, version in t.builds)})"
        assert diagnose(t.text, sqlstate=t.sqlstate).id == t.rule, (where, t.text)
        without = diagnose(t.text)
        assert without.id in (None, t.rule), f"{where}: {t.text!r} misread as {without.id}"


def test_a_sqlstate_written_in_the_text_is_used() -> None:
    assert sqlstate_in("FEHLER:  42P01: Relation »attachments« existiert nicht") == "42P01"
    assert sqlstate_in("ERROR: Relation existiert nicht (SQLSTATE 42P01)") == "42P01"
    assert sqlstate_in("error: Passwort falsch {code: '28P01', severity: 'FATAL'}") == "28P01"
    assert sqlstate_in("SQLSTATE[08006] [7] could not connect") == "08006"
    assert sqlstate_in("exit code: 1; nothing else") is None
    assert diagnose("Erreur : la relation « attachments » n'existe pas (SQLSTATE 42P01)").id == "undefined-table"


@pytest.mark.parametrize(
    "text",
    [
        "division by zero",
        'ERROR:  function gen_random_uuid7() does not exist\nHINT:  No function matches the given name.',
        "Segmentation fault (core dumped)",
        "Everything went fine, 12 rows copied.",
        "FEHLER:  Division durch Null",  # translated, no SQLSTATE, and not a login failure
        "ERROR:  XX000: an internal error nobody documented",
        # another tool's or service's network failure, with no sign of PostgreSQL
        "curl: (7) Failed to connect to localhost port 8080 after 0 ms: Connection refused",
        "ssh: connect to host 10.0.0.5 port 22: Connection timed out",
        "Error: connect ECONNREFUSED 127.0.0.1:3000\n    at TCPConnectWrap.afterConnect (node:net:1555:16)",
        "npm ERR! code ETIMEDOUT",
        "celery.exceptions.TimeoutError: The operation timed out.",
        "Error: getaddrinfo ENOTFOUND api.stripe.com",
        "pymysql.err.OperationalError: (2003, \"Can't connect to MySQL server on 'db' ([Errno 111] "
        'Connection refused)")',
    ],
)  # fmt: skip
def test_unrecognized_text_says_unknown_honestly(text: str) -> None:
    found = diagnose(text)
    assert not found.matched and found.id is None
    assert found.title == UNKNOWN_TITLE and "unknown" in found.title
    assert "does not recognize" in found.cause and text.splitlines()[0].strip() in found.cause
    assert found.fix == GENERAL_CHECKLIST
    assert found.raw == text.strip()


def test_empty_text_is_unknown_too() -> None:
    found = diagnose("   \n")
    assert not found.matched and "No error text" in found.cause


def test_passwords_in_pasted_text_are_redacted() -> None:
    pasted = (
        "$ PGPASSWORD=hunter2-secret pg_dump 'postgresql://app:S3cr3t-pw@ep-a-b-123456.aws.neon.tech/neondb'\n"
        "pg_dump: error: connection to server failed: password=also-s3cret host=x\n"
        "failed to resolve host 'tail-of-pw@ep-a-b-123456.aws.neon.tech': [Errno -2] Name or service not known"
    )
    found = diagnose(pasted)
    assert found.id == "password-encoding"
    for secret in ("hunter2-secret", "S3cr3t-pw", "also-s3cret", "tail-of-pw"):
        assert secret not in found.raw
    assert "****@ep-a-b-123456.aws.neon.tech" in found.raw
    unknown = diagnose("weird failure for postgresql://app:Sup3r-secret@host/db")
    assert not unknown.matched and "Sup3r-secret" not in unknown.cause + unknown.raw


def test_details_and_quoted_sql_do_not_decide() -> None:
    # The statement quoted after LINE/Query was: mentions a timeout; the error is a permission one.
    text = (
        "pg_dump: error: query failed: ERROR:  permission denied for schema audit\n"
        "pg_dump: detail: Query was: SELECT * FROM audit.lock_timeout_log -- timed out, connection refused"
    )
    assert diagnose(text).id == "permission-denied"
    # A DETAIL line counts only when the message itself says nothing recognizable.
    unique = 'ERROR:  duplicate key value violates unique constraint "k"\nDETAIL:  Key (id)=(1) already exists.'
    assert diagnose(unique).id == "unique-violation"


def test_exception_classes_are_the_last_resort() -> None:
    assert diagnose_exception(socket.gaierror(-2, "Name or service not known")).id == "host-not-found"
    assert diagnose_exception(ConnectionRefusedError(111, "")).id == "connection-refused"
    assert diagnose_exception(TimeoutError()).id == "timeout"
    assert diagnose_exception(ValueError("something else")).matched is False


def test_the_rules_are_well_formed() -> None:
    kept = {
        "password-encoding": "the password contains a character that must be percent-encoded",
        "host-not-found": "the host name could not be found",
        "connection-refused": "nothing is accepting connections at that address",
        "timeout": "the server did not answer in time",
        "password-failed": "the server refused the user name or password",
        "database-missing": "the database does not exist",
        "ssl-required": "the server requires an encrypted (SSL) connection",
    }
    for rule_id, title in kept.items():
        assert rule_by_id(rule_id).title == title
    for rule_id in ("role-missing", "no-pg-hba", "ssl-not-supported", "too-many-connections", "permission-denied",
                    "lock-timeout", "read-only", "dependent-objects", "admin-shutdown", "disk-full", "already-exists",
                    "undefined-table"):  # fmt: skip
        assert rule_id in RULE_IDS
    for rule in load_rules():
        if rule.action:
            assert rule.action in ACTIONS
            says_so = ("wizard can", "wizard ships", "wizard retries")
            assert any(words in step for words in says_so for step in rule.fix), f"{rule.id}: say the wizard does it"


def test_a_broken_rules_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rule]]\nid = "x"\ntitle = "t"\ncause = "c"\nfix = ["f"]\npatterns = ["a"]\naction = "fly"\n')
    with pytest.raises(ValueError, match="unknown action"):
        load_rules(bad)
    bad.write_text('[[rule]]\nid = "x"\ntitle = "t"\ncause = "c"\nfix = ["f"]\npatterns = ["(unclosed"]\n')
    with pytest.raises(ValueError, match="doctor rule x"):
        load_rules(bad)


def test_known_problems_can_be_searched_by_words_or_sqlstate() -> None:
    assert [rule.id for rule in find_rules("42501")] == [
        "database-connect-denied",
        "restore-ownership",
        "extension-needs-superuser",
        "createdb-denied",
        "must-be-owner",
        "permission-denied",
    ]
    assert {"pooler-prepared-statement", "pooler-startup-parameter"} <= {rule.id for rule in find_rules("Pooler")}
    assert "password-encoding" in [rule.id for rule in find_rules("percent-encode password")]
    assert find_rules("no problem mentions zebras") == ()
    assert len(find_rules("  ")) == len(RULE_IDS)
