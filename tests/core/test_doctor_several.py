"""Texts that hold several messages: which one explains the failure, and what else is said."""

from __future__ import annotations

import pytest

from wizard.core.doctor import Diagnosis, diagnose
from wizard.core.message_text import split_attempts


def ids(found: Diagnosis) -> list[str | None]:
    return [found.id, *(alt.id for alt in found.alternatives)]


CAUGHT_THEN_ABORTED = """\
WARNING:etl:step 3 failed: duplicate key value violates unique constraint "audit_log_pkey"
DETAIL:  Key (id)=(1) already exists.

Traceback (most recent call last):
  File "/opt/etl/jobs/notes.py", line 41, in <module>
    cur.execute("UPDATE audit_log SET note = 'x' WHERE id = 2")
psycopg2.errors.InFailedSqlTransaction: current transaction is aborted, commands ignored until end of transaction block
"""


def test_a_traceback_and_its_last_line_are_messages_of_their_own() -> None:
    pieces = split_attempts(CAUGHT_THEN_ABORTED)
    assert pieces[-1].startswith("psycopg2.errors.InFailedSqlTransaction: current transaction is aborted")
    assert any(piece.startswith("Traceback (most recent call last):") for piece in pieces)


def test_an_error_the_program_went_on_after_is_first_and_the_aborted_rest_second() -> None:
    found = diagnose(CAUGHT_THEN_ABORTED)
    assert ids(found) == ["unique-violation", "transaction-aborted"] and found.confidence == "medium"


def test_the_aborted_rest_alone_is_its_own_answer() -> None:
    found = diagnose(CAUGHT_THEN_ABORTED.split("\n\n", 1)[1])
    assert found.id == "transaction-aborted"


def test_a_crash_that_a_full_disk_explains_is_the_full_disk() -> None:
    log = """\
db-1  | 2025-04-02 03:17:55.412 UTC [61] PANIC:  could not write to file "pg_wal/xlogtemp.61": No space left on device
db-1  | 2025-04-02 03:17:55.419 UTC [1] LOG:  WAL writer process (PID 61) was terminated by signal 6: Aborted
db-1  | 2025-04-02 03:17:55.419 UTC [1] LOG:  terminating any other active server processes
"""
    assert diagnose(log).id == "disk-full"
    assert diagnose(log.split("\n", 1)[1]).id == "server-crashed"  # the crash alone


def test_a_pools_timeout_is_a_busy_pool_or_a_slow_connection() -> None:
    node = "Error: timeout exceeded when trying to connect\n    at /srv/app/node_modules/pg-pool/index.js:45:11"
    python = "psycopg_pool.PoolTimeout: couldn't get a connection after 30.00 sec"
    for text in (node, python):
        found = diagnose(text)
        assert ids(found) == ["client-pool-exhausted", "timeout"] and found.confidence == "medium", text
    # the pool could not connect at all, and its log says why
    refused = (
        "WARNING error connecting in 'pool-1': "
        'connection to server at "10.0.0.5", port 5432 failed: Connection refused'
    )
    assert diagnose(refused + "\n" + python).id == "connection-refused"


def test_a_unique_violation_while_psql_copies_a_files_data_is_probably_a_restore() -> None:
    text = """\
psql:shop.sql:154: ERROR:  duplicate key value violates unique constraint "customers_pkey"
DETAIL:  Key (id)=(1) already exists.
CONTEXT:  COPY customers, line 1
"""
    found = diagnose(text)
    assert ids(found)[:2] == ["restore-into-non-empty", "unique-violation"] and found.confidence == "medium"


def test_pg_restore_creating_the_public_schema_is_no_sign_of_a_database_that_is_not_empty() -> None:
    report = """\
pg_restore: error: could not execute query: ERROR:  schema "public" already exists
Command was: CREATE SCHEMA public;

pg_restore: error: could not execute query: ERROR:  must be member of role "other_owner"
Command was: ALTER TABLE public.customers OWNER TO other_owner;
pg_restore: warning: errors ignored on restore: 2
"""
    assert diagnose(report).id == "restore-ownership"
    tables = report.replace('schema "public"', 'relation "customers"')
    tables = tables.replace("SCHEMA public;", "TABLE public.customers ();")
    assert diagnose(tables).id == "restore-into-non-empty"  # a table already there is


def test_pgbouncers_own_login_to_the_server_failing_is_the_poolers_password() -> None:
    log = """\
LOG C-0x55eca9a80d80: shop/app@127.0.0.1:40508 login attempt: db=shop user=app tls=no
LOG C-0x55eca9a80d80: shop/app@127.0.0.1:40508 closing because: password authentication failed for user "app" (age=0s)
LOG S-0x55eca9a886c0: shop/app@127.0.0.1:5432 closing because: login failed (age=0s)
"""
    assert diagnose(log).id == "pooler-server-login"
    assert diagnose(log.rsplit("LOG S-", 1)[0]).id == "password-failed"  # the client's own password


def test_an_archive_version_no_pg_dump_wrote_is_a_broken_file_not_a_newer_one() -> None:
    assert diagnose("pg_restore: error: unsupported version (1.16) in file header").id == "version-mismatch"
    assert diagnose("pg_restore: error: unsupported version (32.103) in file header").id == "backup-file-invalid"
    russian = "pg_restore: ошибка: неподдерживаемая версия (32.103) в заголовке файла"
    assert diagnose(russian).id == "backup-file-invalid"
    assert diagnose(russian.replace("32.103", "1.16")).id == "version-mismatch"


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("ВАЖНО:  закрытие подключения по команде администратора\nSSL SYSCALL error: EOF detected\n"
         "подключение к серверу было потеряно", "admin-shutdown"),
        ("FATAL:  Verbindung wird abgebrochen wegen Zeitüberschreitung in inaktiver Sitzung\n"
         "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n"
         "\tbefore or while processing the request.", "idle-timeout"),
        ("WARNING:  arrêt de la connexion à cause de l'arrêt brutal d'un autre processus serveur\n"
         "server closed the connection unexpectedly", "server-crashed"),
        ("FATAL:  アイドルセッションタイムアウトにより接続を終了します\n"
         "SSL SYSCALL error: EOF detected", "idle-timeout"),
    ],
)  # fmt: skip
def test_the_servers_translated_reason_comes_before_libpqs_lost_connection(text: str, rule_id: str) -> None:
    """libpq's English words for the lost connection follow the server's own reason, in the
    server's language: the reason is the answer, as it is in English."""
    found = diagnose(text)
    assert (found.id, found.confidence) == (rule_id, "high"), ids(found)


def test_a_ci_runners_summary_is_not_a_server_message_no_rule_knows() -> None:
    """GitLab ends a failed job with "ERROR: Job failed: exit code 1": not the server's words, so
    the answer read above it stays sure."""
    text = (
        '$ psql "$DATABASE_URL?connect_timeout=10" -c "select 1"\n'
        'psql: error: connection to server at "db.prod.example.net" (203.0.113.40), port 5432 failed: timeout expired\n'
        "ERROR: Job failed: exit code 1"
    )
    found = diagnose(text)
    assert (found.id, found.confidence) == ("timeout", "high"), ids(found)
    # A server's line no rule knows in its place: the network failure is not the answer then.
    unknown_line = text.replace("ERROR: Job failed: exit code 1", 'ERROR:  relation "x" is being vacuumed')
    assert diagnose(unknown_line).confidence == "low"


def test_a_log_pasted_under_the_message_may_name_the_finer_cause() -> None:
    """PgBouncer tells its client only "password authentication failed"; its own log, pasted
    under it, says the user does not exist (as the server's DETAIL line would)."""
    text = (
        'psql: error: connection to server at "pgbouncer", port 6432 failed: FATAL:  password authentication failed\n'
        "\n# pgbouncer log\n"
        "LOG C-0x55efb9c542d0: (nodb)/(nouser)@10.0.7.3:60314 no such user: reporting\n"
        "LOG C-0x55efb9c542d0: (nodb)/reporting@10.0.7.3:60314 closing because: password authentication failed"
    )
    assert ids(diagnose(text)) == ["role-missing"]
    assert ids(diagnose(text.split("\n")[0])) == ["password-failed"]


def test_a_name_with_a_space_in_a_pg_hba_refusal_is_probably_the_urls_space() -> None:
    text = (
        '$ psql "postgresql://app:****@10.0.0.3:5432/app db?sslmode=require"\n'
        'psql: error: connection to server at "10.0.0.3", port 5432 failed: FATAL:  no pg_hba.conf entry for host'
        ' "10.0.0.9", user "app", database "app db", SSL encryption'
    )
    found = diagnose(text)
    assert (ids(found), found.confidence) == (["url-has-spaces", "no-pg-hba"], "medium")


def test_pgbouncers_log_alone_names_the_missing_user() -> None:
    log = (
        "2026-12-01 16:16:35.433 UTC [30689] LOG C-0x55ea14d70470: (nodb)/(nouser)@127.0.0.1:60390"
        " no such user: ghost\n"
        "2026-12-01 16:16:35.433 UTC [30689] LOG C-0x55ea14d70470: (nodb)/ghost@127.0.0.1:60390 login attempt:"
        " db=shopdb user=ghost tls=no\n"
        "2026-12-01 16:16:35.434 UTC [30689] LOG C-0x55ea14d70470: (nodb)/ghost@127.0.0.1:60390 closing because:"
        " password authentication failed (age=0s)"
    )
    assert ids(diagnose(log)) == ["role-missing"]


def test_a_second_attempt_after_a_first_in_another_language_is_a_message_of_its_own() -> None:
    """psql's prefix in Japanese ("psql: エラー:"), under a PowerShell prompt: the plain retry's
    refusal is libpq's second attempt, an echo of the first (the password), as in English."""
    text = (
        'PS C:\\Users\\kenji> psql "postgresql://appuser@localhost:54319/postgres"\n'
        "Password for user appuser:\n"
        'psql: エラー: "localhost"(127.0.0.1)、ポート54319のサーバーへの接続に失敗しました: FATAL:  password'
        ' authentication failed for user "appuser"\n'
        '"localhost"(127.0.0.1)、ポート54319のサーバーへの接続に失敗しました: FATAL:  no pg_hba.conf entry for host'
        ' "127.0.0.1", user "appuser", database "postgres", no encryption'
    )
    assert len(split_attempts(text)) == 2
    found = diagnose(text)
    assert (ids(found), found.confidence) == (["password-failed"], "high")
