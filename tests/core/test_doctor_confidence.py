"""How sure the doctor is: one confident answer, "probably X; if not, Y", or an honest
"unknown". A text with several attempts or several log lines is read message by message, and a
server's answer outweighs the echo of a fallback attempt and the network failure of one address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wizard.core.diagnosis_lines import explanation, summary
from wizard.core.doctor import (
    GENERAL_CHECKLIST,
    UNKNOWN_TITLE,
    Diagnosis,
    diagnose,
    explain,
    load_rules,
    rule_by_id,
    split_attempts,
)
from wizard.core.errors import InputError

HOST = '"ep-cool-darkness-123456.us-east-2.aws.neon.tech"'


def attempt(address: str, said: str) -> str:
    return f"connection to server at {HOST} ({address}), port 5432 failed: {said}"


PASSWORD = 'FATAL:  password authentication failed for user "alex"'
INSECURE = "ERROR:  connection is insecure (try using `sslmode=require`)"
NO_ROUTE = "Network is unreachable\n\tIs the server running on that host and accepting TCP/IP connections?"
NO_HBA = 'FATAL:  no pg_hba.conf entry for host "203.0.113.7", user "alex", database "neondb", {}'


def ids(found: Diagnosis) -> list[str | None]:
    return [found.id, *(alt.id for alt in found.alternatives)]


def test_a_password_refused_over_tls_outweighs_the_plain_attempts_insecure_refusal() -> None:
    # sslmode=prefer: libpq tries TLS (the password is wrong), then plain (refused as insecure).
    for text in (
        "psql: error: " + attempt("3.18.12.115", PASSWORD) + "\n" + attempt("3.18.12.115", INSECURE),
        attempt("3.18.12.115", INSECURE) + " " + attempt("3.18.12.115", PASSWORD),  # one line, other order
        f"{INSECURE}\n{PASSWORD}",  # the same two lines pasted from a log
    ):
        found = diagnose(text)
        assert (found.id, found.confidence, found.matched) == ("password-failed", "high", True), text
        assert found.alternatives == ()


def test_an_unreachable_ipv6_address_beside_a_refused_password_is_the_password_for_sure() -> None:
    text = attempt("2600:1f18:1c1b:ea1c::1", NO_ROUTE) + "\n" + attempt("52.1.58.3", PASSWORD)
    found = diagnose(text)
    assert (found.id, found.confidence, found.matched) == ("password-failed", "high", True)


def test_two_servers_with_two_different_answers_give_the_likely_one_and_the_other() -> None:
    text = (
        attempt("10.0.0.1", 'FATAL:  database "shop" does not exist')
        + "\n"
        + attempt("10.0.0.2", 'FATAL:  password authentication failed for user "alex"')
    )
    found = diagnose(text)
    assert found.confidence == "medium" and not found.matched
    assert ids(found) == ["password-failed", "database-missing"]  # in the rules file's order
    assert found.title == rule_by_id("password-failed").title and found.fix == rule_by_id("password-failed").fix
    assert found.alternatives[0].fix == rule_by_id("database-missing").fix
    assert found.headline == (
        "probably the server refused the user name or password; if not, the database does not exist"
    )


@pytest.mark.parametrize("plain", ["no encryption", "SSL off"])
def test_no_pg_hba_entry_for_a_plain_connection_is_probably_tls_and_if_not_not_allowed(plain: str) -> None:
    found = diagnose(attempt("10.0.0.5", NO_HBA.format(plain)))
    assert found.confidence == "medium" and not found.matched
    assert ids(found) == ["ssl-required", "no-pg-hba"]
    assert found.action == "add_sslmode_require"  # the fix the wizard can make is the likely one's
    assert summary(found) == (
        "Probably: The server requires an encrypted (SSL) connection."
        " If not: The server does not allow this connection."
    )


@pytest.mark.parametrize("encrypted", ["SSL encryption", "SSL on", "GSS encryption"])
def test_no_pg_hba_entry_for_an_encrypted_connection_means_not_allowed_at_all(encrypted: str) -> None:
    alone = diagnose(attempt("10.0.0.5", NO_HBA.format(encrypted)))
    assert (alone.id, alone.confidence, alone.matched) == ("no-pg-hba", "high", True)
    # Both attempts refused: TLS was tried and refused too, so sslmode=require would change nothing.
    plain = attempt("10.0.0.5", NO_HBA.format("no encryption"))
    both = diagnose(attempt("10.0.0.5", NO_HBA.format(encrypted)) + "\n" + plain)
    assert (both.id, both.confidence, both.alternatives) == ("no-pg-hba", "high", ())


def test_a_password_refused_over_tls_outweighs_no_pg_hba_entry_for_the_plain_attempt() -> None:
    text = attempt("10.0.0.5", PASSWORD) + "\n" + attempt("10.0.0.5", NO_HBA.format("no encryption"))
    found = diagnose(text)
    assert (found.id, found.confidence, found.matched) == ("password-failed", "high", True)


def test_a_pasted_log_is_read_line_by_line_and_the_first_error_outweighs_its_consequence() -> None:
    # The rest of the aborted transaction is the second answer: a program may have gone on after
    # the first error (caught it, or ran a script without ON_ERROR_STOP) and stopped on the rest.
    log = (
        "2024-05-01 10:00:00.120 UTC [4923] alex@neondb ERROR:  deadlock detected\n"
        "2024-05-01 10:00:00.120 UTC [4923] alex@neondb DETAIL:  Process 4923 waits for ShareLock; blocked by 4924.\n"
        "2024-05-01 10:00:00.121 UTC [4923] alex@neondb STATEMENT:  UPDATE attachments SET x = 1 -- timed out\n"
        "2024-05-01 10:00:01.000 UTC [4923] alex@neondb ERROR:  current transaction is aborted, commands ignored"
        " until end of transaction block"
    )
    found = diagnose(log)
    assert (ids(found), found.confidence) == (["deadlock", "transaction-aborted"], "medium")
    two = log.replace("deadlock detected", 'permission denied for table "attachments"') + (
        "\n2024-05-01 10:00:02.000 UTC [4925] alex@neondb ERROR:  canceling statement due to lock timeout"
    )
    found = diagnose(two)
    assert found.confidence == "medium" and ids(found) == ["lock-timeout", "permission-denied", "transaction-aborted"]


def test_a_network_failure_beside_a_server_message_nobody_knows_is_not_the_answer() -> None:
    text = attempt("10.0.0.5", "FATAL:  the flux capacitor refused to engage") + "\n" + attempt("2001:db8::5", NO_ROUTE)
    found = diagnose(text)
    assert found.confidence == "low" and not found.matched and found.id is None
    assert found.title == UNKNOWN_TITLE and found.fix == GENERAL_CHECKLIST
    assert [alt.id for alt in found.alternatives] == ["network-unreachable"]  # what it might be, no more
    lost = diagnose("FATAL:  the flux capacitor refused to engage\nserver closed the connection unexpectedly")
    assert lost.confidence == "low" and [alt.id for alt in lost.alternatives] == ["connection-dropped"]


def test_the_attempts_of_one_line_are_read_one_by_one() -> None:
    line = (
        "- host: 'h', port: None, hostaddr: '52.1.58.3': connection failed: " + attempt("52.1.58.3", PASSWORD)
        + " " + attempt("2600::1", "Network is unreachable")
    )  # fmt: skip
    pieces = split_attempts("Multiple connection attempts failed. All failures were:\n" + line)
    assert pieces[0].startswith("Multiple connection attempts")
    assert pieces[1].startswith("- host: 'h'") and pieces[2].endswith('"alex" ') and "(2600::1)" in pieces[3]
    assert len(pieces) == 4


def test_each_message_of_a_script_a_translated_log_or_translated_attempts_is_read_on_its_own() -> None:
    # psql names the file and line of each failed statement; the first error is the cause, the
    # "transaction is aborted" after it only its echo.
    script = (
        'psql:/tmp/shop-2024.sql:50: ERROR:  relation "orders" already exists\n'
        "psql:/tmp/shop-2024.sql:53: ERROR:  current transaction is aborted, commands ignored until end of"
        " transaction block"
    )
    assert len(split_attempts(script)) == 2 and diagnose(script).id == "object-already-exists"
    # The same severity again, in any language, starts the next message; a DETAIL line does not.
    chinese = '错误:  关系 "orders" 已经存在\n错误:  当前事务被终止, 事务块结束之前的查询被忽略'
    assert len(split_attempts(chinese)) == 2 and diagnose(chinese).id == "object-already-exists"
    assert len(split_attempts('错误:  关系 "orders" 已经存在\n详细信息:  x')) == 1
    # libpq's attempts in Japanese: the password refused over TLS, then the plain attempt's pg_hba echo.
    japanese = (
        'psql: エラー: "db.example.jp"、ポート5432のサーバーへの接続に失敗しました: '
        'FATAL:  ユーザー"app"のパスワード認証に失敗しました\n'
        '"db.example.jp"、ポート5432のサーバーへの接続に失敗しました: FATAL:  pg_hba.conf にホスト"192.0.2.15"、'
        'ユーザー"app"、データベース"app", 暗号化なし用のエントリがありません'
    )
    found = diagnose(japanese)
    assert len(split_attempts(japanese)) == 2 and (found.id, found.confidence) == ("password-failed", "high")


def _rules(tmp_path: Path, confidence: str) -> Path:
    path = tmp_path / f"rules-{confidence}.toml"
    path.write_text(
        '[[rule]]\nid = "flux"\ntitle = "the flux capacitor is off"\ncause = "c"\nfix = ["Turn it on."]\n'
        f'patterns = ["flux capacitor"]\nsqlstates = ["XX001"]\nconfidence = "{confidence}"\n'
    )
    return path


def test_a_weak_rule_alone_is_probable_or_only_a_possibility(tmp_path: Path) -> None:
    medium = diagnose("ERROR:  the flux capacitor is off", rules=load_rules(_rules(tmp_path, "medium")))
    assert (medium.id, medium.confidence, medium.matched, medium.alternatives) == ("flux", "medium", False, ())
    low = diagnose("ERROR:  the flux capacitor is off", rules=load_rules(_rules(tmp_path, "low")))
    assert (low.id, low.confidence, low.matched, low.title) == (None, "low", False, UNKNOWN_TITLE)
    assert [alt.id for alt in low.alternatives] == ["flux"]
    # The server's SQLSTATE settles what the words alone do not.
    sure = diagnose("ERROR:  the flux capacitor is off", sqlstate="XX001", rules=load_rules(_rules(tmp_path, "low")))
    assert (sure.id, sure.confidence, sure.matched) == ("flux", "high", True)


def test_a_rule_with_an_unknown_confidence_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="confidence"):
        load_rules(_rules(tmp_path, "certain"))


def test_matched_means_one_confident_answer_and_json_carries_the_alternatives() -> None:
    texts = [
        attempt("10.0.0.5", PASSWORD),
        attempt("10.0.0.5", NO_HBA.format("no encryption")),
        "the flux capacitor refused to engage",
        attempt("10.0.0.1", 'FATAL:  database "shop" does not exist') + "\n" + attempt("10.0.0.2", PASSWORD),
    ]
    for text in texts:
        found = diagnose(text)
        assert found.matched is (found.confidence == "high" and not found.alternatives)
        data = json.loads(json.dumps(found.to_json()))
        assert set(data) == {"matched", "id", "title", "cause", "fix", "confidence", "alternatives"}
        assert data["confidence"] in ("high", "medium", "low")
        for alt in data["alternatives"]:
            assert set(alt) == {"id", "title", "cause", "fix"} and alt["fix"]
    medium = diagnose(texts[1]).to_json()
    assert medium["alternatives"][0]["id"] == "no-pg-hba" and medium["matched"] is False


def test_every_renderer_gets_probably_and_if_not_with_both_fixes() -> None:
    found = diagnose(attempt("10.0.0.5", NO_HBA.format("no encryption")))
    lines = explanation(found)
    headings = [(line.label, line.text) for line in lines if line.kind == "heading"]
    assert headings == [
        ("Probably:", "The server requires an encrypted (SSL) connection.  [ssl-required]"),
        ("If not:", "The server does not allow this connection.  [no-pg-hba]"),
    ]
    steps = [line.text for line in lines if line.kind == "step"]
    assert steps[-1] == "1. " + rule_by_id("no-pg-hba").fix[0] and "sslmode=require" in steps[0]
    confident = explanation(diagnose(attempt("10.0.0.5", PASSWORD)), headings=False)
    assert [line.kind for line in confident][:2] == ["why", "label"]  # no "Probably" for a sure answer


def test_a_wizard_error_keeps_a_probable_answer_instead_of_its_own_sentence() -> None:
    error = InputError("Cannot connect.", fix=("Check the URL.",), detail=attempt("10.0.0.5", NO_HBA.format("SSL off")))
    found = explain(error)
    assert found.confidence == "medium" and ids(found) == ["ssl-required", "no-pg-hba"]


def test_a_detail_line_that_names_the_cause_refines_the_answer() -> None:
    # The server's log says which: the user does not exist (the client is only told "password").
    log = (
        '2024-05-02 14:01:09.437 UTC [29941] FATAL:  password authentication failed for user "deploy"\n'
        '2024-05-02 14:01:09.437 UTC [29941] DETAIL:  Role "deploy" does not exist.\n'
        '\tConnection matched pg_hba.conf line 6: "hostssl all all 0.0.0.0/0 scram-sha-256"'
    )
    assert (diagnose(log).id, diagnose(log).confidence) == ("role-missing", "high")
    assert diagnose(log, sqlstate="28P01").id == "role-missing"
    expired = log.replace('Role "deploy" does not exist.', 'User "deploy" has an expired password.')
    assert diagnose(expired).id == "password-failed"
    assert diagnose(log.splitlines()[0]).id == "password-failed"


def test_an_encrypted_attempt_refused_by_pg_hba_gives_way_to_the_next_attempts_answer() -> None:
    # sslmode=prefer: TLS first (no hostssl line for this user), then without TLS: a wrong password.
    text = "\n".join([attempt("203.0.113.7", NO_HBA.format("SSL encryption")), attempt("203.0.113.7", PASSWORD)])
    assert (diagnose(text).id, diagnose(text).confidence) == ("password-failed", "high")
    # Refused both ways: this address, user or database is not allowed at all.
    both = "\n".join(attempt("203.0.113.7", NO_HBA.format(state)) for state in ("SSL encryption", "no encryption"))
    assert (diagnose(both).id, diagnose(both).confidence) == ("no-pg-hba", "high")
    # Refused with TLS, and the other address unreachable: still pg_hba.conf.
    routed = "\n".join([attempt("2001:db8::7", NO_ROUTE), attempt("203.0.113.7", NO_HBA.format("SSL encryption"))])
    assert diagnose(routed).id == "no-pg-hba"


def test_words_that_fit_another_rule_as_well_are_answered_probably() -> None:
    # Said only while the server recovers from a crash (postmaster.c: CAC_RECOVERY, "else must be
    # crash recovery"): the crash first, and it is starting up all the same; with its code too.
    said = attempt("203.0.113.7", "FATAL:  the database system is in recovery mode")
    for recovering in (diagnose(said), diagnose(said, sqlstate="57P03")):
        assert (ids(recovering), recovering.confidence, recovering.matched) == (
            ["server-crashed", "server-starting"],
            "medium",
            False,
        )
    starting = diagnose(attempt("203.0.113.7", "FATAL:  the database system is starting up"))
    assert (ids(starting), starting.confidence) == (["server-starting"], "high")
    # The code alone (words no rule reads) is the general answer, as before.
    assert diagnose("FATAL:  something else entirely", sqlstate="57P03").id == "server-starting"
    # A host name broken by a line break: the URL, probably; if not, a host that does not exist.
    broken = diagnose('psql: error: could not translate host name "ep-cool-\ndarkness-123.aws.neon.tech" to address')
    assert (ids(broken), broken.confidence) == (["url-has-spaces", "host-not-found"], "medium")


# The smallest rule the loader accepts, for the tests of its checks.
_MINIMAL_RULE = '[[rule]]\nid = "x"\ntitle = "t"\ncause = "c"\nfix = ["f"]\npatterns = ["a"]\n'


def test_refinements_and_alternatives_must_name_known_rules(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text(_MINIMAL_RULE + 'refines = ["nowhere"]\n')
    with pytest.raises(ValueError, match="unknown rule"):
        load_rules(bad)
    bad.write_text(_MINIMAL_RULE + 'uncertain = ["a"]\n')
    with pytest.raises(ValueError, match="uncertain without alternatives"):
        load_rules(bad)


JA_RESTORE = (
    "pg_restore: TOC処理中:\npg_restore: TOCエントリ215; 1259 16390 TABLE customers shopadmin から\n"
    'pg_restore: エラー: 問い合わせを実行できませんでした: ERROR:  リレーション"customers"はすでに存在します\n'
    "コマンド: CREATE TABLE public.customers ("
)


def test_already_exists_in_a_restore_report_in_any_language_means_the_database_is_not_empty() -> None:
    copy = (
        'pg_restore: error: COPY failed for table "invoices": ERROR:  duplicate key value violates unique'
        ' constraint "invoices_pkey"\nDETAIL:  Key (id)=(1) already exists.\nCONTEXT:  COPY invoices, line 1'
    )
    for text, sqlstate in (
        (JA_RESTORE, None),
        (JA_RESTORE.replace("pg_restore: ", ""), None),  # pg_restore's own words, translated, tell it too
        ('FEHLER:  Relation »kunden« existiert bereits\nDie Anweisung war: CREATE TABLE public.kunden (', None),
        (copy, "23505"),  # a row already there: the code says unique violation, the report says why
        ('pg_restore: error: could not execute query: ERROR:  multiple primary keys for table "t" are not allowed',
         None),
    ):  # fmt: skip
        found = diagnose(text, sqlstate=sqlstate)
        assert (found.id, found.confidence) == ("restore-into-non-empty", "high"), text
    # The same words alone: whatever object of whatever script.
    assert diagnose('ERROR:  multiple primary keys for table "t" are not allowed').id == "object-already-exists"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # a script of one's own run twice, probably; a backup, possibly
        ('psql:bootstrap.sql:1: ERROR:  schema "billing" already exists', ["object-already-exists",
                                                                           "restore-into-non-empty"]),
        ('psql:phase2.sql:12: ERROR:  relation "image_analyses" already exists', ["already-exists",
                                                                                   "restore-into-non-empty"]),
        # a file named as backups are: the other way round
        ('psql:/backups/shop.sql:58: ERROR:  relation "orders" already exists', ["restore-into-non-empty",
                                                                                  "object-already-exists"]),
        ('psql:shop_2024-06-01.sql:57: ERROR:  relation "users" already exists', ["restore-into-non-empty",
                                                                                   "already-exists"]),
    ],
)  # fmt: skip
def test_psql_running_a_file_is_a_restore_only_probably_or_possibly(line: str, expected: list[str]) -> None:
    found = diagnose(line)
    assert (ids(found), found.confidence) == (expected, "medium")


def test_must_be_owner_of_extension_in_a_restore_is_the_extension_and_if_not_the_owners() -> None:
    restore = (
        "pg_restore: error: could not execute query: ERROR:  must be owner of extension plpgsql\n"
        "Command was: COMMENT ON EXTENSION plpgsql IS 'PL/pgSQL procedural language';"
    )
    found = diagnose(restore)
    assert (ids(found), found.confidence) == (["extension-needs-superuser", "restore-ownership"], "medium")
    assert "harmless" in found.fix[-1]
    alone = diagnose("QueryFailedError: must be owner of extension uuid-ossp")
    assert (ids(alone), alone.confidence) == (["extension-needs-superuser"], "high")
    created = diagnose('pg_restore: error: could not execute query: ERROR:  permission denied to create extension "x"')
    assert (ids(created), created.confidence) == (["extension-needs-superuser"], "high")


def test_another_databases_url_given_to_psql_is_the_url_not_the_network() -> None:
    socket = (
        'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or'
        " directory\n\tIs the server running locally and accepting connections on that socket?"
    )
    for given in ('$ psql "mysql://app:pw@10.0.0.5:3306/shop"', "DATABASE_URL=mongodb+srv://app:pw@cluster0/shop"):
        found = diagnose(f"{given}\n{socket}")
        assert (found.id, found.confidence) == ("url-bad-scheme", "high"), given
    # MySQL's own client failing with a mysql:// URL is another service's failure.
    mysql = "DATABASE_URL=mysql://app:pw@db:3306/shop\nError: connect ECONNREFUSED 10.0.0.5:3306"
    assert diagnose(mysql).confidence == "low"


def test_an_answer_another_one_explains_is_left_out() -> None:
    log = (
        "2026-03-01 05:25:48.487 UTC [5579] LOG S-0x560ffac51f60: app/appuser@10.0.1.50:5432 closing because:"
        " connect failed (age=0s)\n2026-03-01 05:25:51.788 UTC [5579] LOG C-0x560ffac4a880:"
        " app/appuser@10.0.9.14:53386 closing because: query_wait_timeout (age=3s)"
    )
    found = diagnose(log)
    assert (ids(found), found.confidence) == (["pooler-server-login"], "high")
    assert diagnose(log.splitlines()[1]).id == "pooler-query-wait-timeout"


def test_a_translated_crash_warning_explains_the_connection_libpq_lost() -> None:
    text = (
        "WARNING:  arrêt de la connexion à cause de l'arrêt brutal d'un autre processus serveur\n"
        "DETAIL:  Le postmaster a commandé à ce processus serveur d'annuler la transaction\n"
        "HINT:  Dans un moment, vous devriez être capable de vous reconnecter.\n"
        "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally"
    )
    assert (diagnose(text).id, diagnose(text).confidence) == ("server-crashed", "high")


def test_a_context_rule_needs_a_context(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text(_MINIMAL_RULE + 'instead_of = ["x"]\n')
    with pytest.raises(ValueError, match="without a context"):
        load_rules(bad)
    bad.write_text(_MINIMAL_RULE + 'context = "nowhere"\n')
    with pytest.raises(ValueError, match="nowhere"):
        load_rules(bad)
