"""Real errors, provoked here against real servers, must reach the right doctor rule.

Connection errors come from Debian's TLS-only PostgreSQL 15 (`debian_pg`), the embedded
PostgreSQL 18 and endpoints that fail on purpose; statement errors from a fresh database
of the embedded server. Each is diagnosed from `str(exc)` and `exc.sqlstate` only, as the
wizard sees it: psycopg gives no SQLSTATE for connection-time failures.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import TestDatabase
from tests.core.doctor_servers import (
    Listener,
    assert_diagnosed,
    assert_error,
    connect_error,
    free_port,
    socket_url,
)
from tests.debian_pg import DebianPg, start_debian_pg
from tests.requirements import skip_or_fail
from wizard.core.connection import explained, parse_url

# --- connecting ----------------------------------------------------------------------


def test_login_failures_on_a_tls_only_password_server(debian_pg: DebianPg) -> None:
    assert_error("password-failed", connect_error(debian_pg.url("postgres", password="Wr0ng")), how="wrong password")
    assert_error("password-failed", connect_error(debian_pg.url("postgres", user="nobody_here")), how="unknown user")
    no_password = f"postgresql://postgres@{debian_pg.host}:{debian_pg.port}/postgres?sslmode=require"
    assert_error("password-failed", connect_error(no_password), how="no password in the URL")
    assert_error("database-missing", connect_error(debian_pg.url("no_such_db")), how="missing database")
    plain = connect_error(debian_pg.url("postgres", sslmode="disable"))
    # "no encryption" fits a server that wants TLS and one that does not let this client in at
    # all: a hedged answer. The message does not show sslmode=disable, and libpq asks for TLS
    # first unless told not to, so the text alone means "not allowed" first (hba_refusal.py)...
    assert_error("no-pg-hba", plain, how="sslmode=disable to a hostssl-only server", confidence="medium")
    # ...but the wizard knows the sslmode it connected with: TLS first.
    found = explained(parse_url(debian_pg.url("postgres", sslmode="disable")), plain).diagnosis
    assert found is not None and [found.id, *(alt.id for alt in found.alternatives)] == ["ssl-required", "no-pg-hba"]


def test_certificate_checks_that_fail(debian_pg: DebianPg) -> None:
    # The server's certificate is for CN=localhost; the URL names 127.0.0.1.
    own = debian_pg.data / "server.crt"
    wrong_name = connect_error(debian_pg.url("postgres", sslmode="verify-full") + f"&sslrootcert={own}")
    assert_error("ssl-certificate", wrong_name, how="verify-full, certificate for another host name")
    missing = connect_error(debian_pg.url("postgres", sslmode="verify-ca") + "&sslrootcert=/nonexistent/root.crt")
    assert_error("ssl-certificate", missing, how="verify-ca without the root certificate file")


def test_a_multi_attempt_message_names_the_password_not_the_later_refusal(debian_pg: DebianPg) -> None:
    conninfo = (
        f"host={debian_pg.host},{debian_pg.host} port={debian_pg.port},{free_port()} user=postgres"
        f" password=Wr0ng dbname=postgres sslmode=require"
    )
    error = connect_error(conninfo)
    text = str(error)
    assert "Multiple connection attempts failed" in text and text.splitlines()[0].endswith("Connection refused")
    assert_error("password-failed", error, how="two hosts: wrong password, then a closed port")


def test_too_many_clients(debian_pg: DebianPg) -> None:
    held: list[psycopg.Connection[Any]] = []
    with debian_pg.admin() as admin:
        admin.execute("DROP ROLE IF EXISTS doctor_app")
        admin.execute("CREATE ROLE doctor_app LOGIN PASSWORD 'app-pw-123'")
        limit = int(admin.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
    app_url = debian_pg.url("postgres", user="doctor_app", password="app-pw-123")
    try:
        reserved: psycopg.Error | None = None
        for _ in range(limit):
            try:
                held.append(psycopg.connect(app_url, autocommit=True))
            except psycopg.OperationalError as exc:
                reserved = exc
                break
        assert reserved is not None
        assert_error("too-many-connections", reserved, how="max_connections reached by one role")
        for _ in range(limit):
            try:
                held.append(debian_pg.admin())
            except psycopg.OperationalError as exc:
                assert_error("too-many-connections", exc, how="max_connections reached, as superuser")
                break
        else:
            pytest.fail("the server never ran out of connections")
    finally:
        for conn in held:
            conn.close()
    with debian_pg.admin() as admin:
        admin.execute("DROP ROLE doctor_app")


def test_roles_that_cannot_connect(db: TestDatabase) -> None:
    db.execute("DROP ROLE IF EXISTS doctor_group; CREATE ROLE doctor_group NOLOGIN")
    db.execute("DROP ROLE IF EXISTS doctor_limited; CREATE ROLE doctor_limited LOGIN CONNECTION LIMIT 0")
    try:
        assert_error("role-missing", connect_error(socket_url(db, "ghost_role")), how="missing role (trust socket)")
        assert_error("role-cannot-login", connect_error(socket_url(db, "doctor_group")), how="NOLOGIN role")
        assert_error("connection-limit", connect_error(socket_url(db, "doctor_limited")), how="CONNECTION LIMIT 0")
    finally:
        db.execute("DROP ROLE doctor_group; DROP ROLE doctor_limited")


def test_nothing_listening() -> None:
    assert_error(
        "connection-refused", connect_error(f"postgresql://u:pw@127.0.0.1:{free_port()}/db"), how="closed port"
    )
    socket_dir = connect_error("host=/nonexistent/socket/dir user=u dbname=db")
    assert_error("connection-refused", socket_dir, how="a Unix socket folder without a server")


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> Iterator[Listener]:
    endpoint = Listener(request.param)
    yield endpoint
    endpoint.close()


@pytest.mark.parametrize(
    ("listener", "rule_id"),
    [("silent", "timeout"), ("http", "not-postgres"), ("hangup", "connection-dropped")],
    indirect=["listener"],
)
def test_endpoints_that_are_not_a_working_server(listener: Listener, rule_id: str) -> None:
    for sslmode in ("disable", "require"):
        url = f"postgresql://app:pw@127.0.0.1:{listener.port}/neondb?sslmode={sslmode}"
        assert_error(rule_id, connect_error(url, connect_timeout=1), how=f"a listener that is {listener.mode}")


@pytest.mark.parametrize(
    ("url", "rule_id"),
    [
        ("postgresql://app:pw@no-such-host.invalid/neondb", "host-not-found"),
        ("postgresql://app:p@ss@ep-cool-name-123456.invalid/neondb", "password-encoding"),
        ("postgresql://app:50%off@127.0.0.1/neondb", "password-encoding"),
        ("postgresql://app:pw@my host.example/neondb", "url-has-spaces"),
        ("postgresql://app:pw@127.0.0.1/neondb?sslmode=requre", "sslmode-invalid"),
        ("postgresql://app:pw@127.0.0.1/neondb?sslmode=require'", "sslmode-invalid"),
        ("postgresql://app:pw@127.0.0.1/neondb?ssl_mode=require", "malformed-url"),
        ("postgresql://app:pw@127.0.0.1/neondb?channel_binding=requird", "malformed-url"),
        ("postgresql://app:pw@127.0.0.1:99999/neondb", "bad-port"),
        ("postgresql://app:pw@localhost:port/neondb", "bad-port"),
        ("jdbc:postgresql://127.0.0.1:5432/neondb?user=app&password=pw&sslmode=require", "url-jdbc-prefix"),
        ("jdbc:postgresql://ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb", "url-jdbc-prefix"),
        ("postgres//app:pw@127.0.0.1/neondb", "url-bad-scheme"),
        ("postgresql+psycopg2://app:pw@127.0.0.1/neondb", "url-bad-scheme"),
        ("postgresql+asyncpg://app:pw@127.0.0.1/neondb", "url-bad-scheme"),
        ("mysql://app:pw@127.0.0.1/neondb", "url-bad-scheme"),
        ("ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb", "url-bad-scheme"),
        ("DATABASE_URL=postgresql://app:pw@127.0.0.1/neondb", "url-bad-scheme"),
        ("postgresql://app@::1:5432/neondb", "url-ipv6-brackets"),
        ("postgresql://app:pw@2001:db8::5/neondb", "url-ipv6-brackets"),
        ("postgresql://app:pw@fe80::1:5432/neondb", "url-ipv6-brackets"),
        ("postgresql://app:pw@fe80::1%eth0:5432/neondb", "url-ipv6-brackets"),  # a zone id: "%et" is no code
        ("host=127.0.0.1 dbname='my db user=app", "url-unterminated-quote"),
        ("host=127.0.0.1 user=app password='it\\'s-secret dbname=neondb", "url-unterminated-quote"),
        ("host=127.0.0.1 dbname", "url-missing-equals"),
        ("host=127.0.0.1 user app dbname=neondb", "url-missing-equals"),
        ("host=127.0.0.1 user=app password='it's-secret' dbname=neondb", "url-unterminated-quote"),
        ("host=127.0.0.1 user=app dbname=neon db", "url-missing-equals"),
        (
            "postgresql://app:pw@127.0.0.1/neondb?sslmode=require&options=endpoint=ep-cool-darkness-123456",
            "url-extra-equals",
        ),
        ("postgresql://app:pw@127.0.0.1/neondb?require_auth=sha", "malformed-url"),
        ("postgresql://app:pw@127.0.0.1/neondb?target_session_attrs=primry", "malformed-url"),
        ("postgresql://app:pw@127.0.0.1/neondb?sslmode=require?connect_timeout=10", "url-extra-equals"),
    ],
)
def test_urls_that_cannot_work(url: str, rule_id: str) -> None:
    assert_error(rule_id, connect_error(url, connect_timeout=2), how=f"psycopg.connect({url!r})")


def test_what_a_tls_only_server_says_to_settings_it_does_not_expect(debian_pg: DebianPg) -> None:
    url = debian_pg.url("postgres")
    for wanted in ("md5", "password", "!scram-sha-256", "none"):
        assert_error("require-auth-failed", connect_error(f"{url}&require_auth={wanted}"), how=f"require_auth={wanted}")
    twice = connect_error(f"{url}&options=endpoint%253Dep-cool-darkness-123456")
    assert_error("url-options-encoding", twice, how="options=endpoint%253D... (encoded twice) to PostgreSQL 15")
    plain = connect_error(f"{url}&options=endpoint%3Dep-cool-darkness-123456")
    assert_error("url-options-encoding", plain, how="options=endpoint%3D... to a server that is not Neon")
    # key=value form does not decode percent codes: the server gets "-c work_mem%3D64MB", no value
    undecoded = connect_error(url, options="-c work_mem%3D64MB")
    assert "requires a value" in str(undecoded)
    assert_error("url-options-encoding", undecoded, how="options='-c work_mem%3D64MB' in key=value form")


def test_require_auth_against_a_server_that_asks_for_no_password(db: TestDatabase) -> None:
    for wanted in ("scram-sha-256", "md5", "password"):
        said = connect_error(f"{socket_url(db, 'postgres')}&require_auth={wanted}")
        assert_error("require-auth-failed", said, how=f"require_auth={wanted} to a server that trusts the socket")


def test_privileges_of_a_database_and_its_server(debian_pg: DebianPg) -> None:
    with debian_pg.admin() as admin:
        admin.execute("DROP DATABASE IF EXISTS doctor_closed")
        admin.execute("DROP ROLE IF EXISTS doctor_plain")
        admin.execute("CREATE ROLE doctor_plain LOGIN PASSWORD 'plain-pw-123'")
        admin.execute("CREATE DATABASE doctor_closed")
        admin.execute("REVOKE CONNECT ON DATABASE doctor_closed FROM PUBLIC")
    try:
        closed = connect_error(debian_pg.url("doctor_closed", user="doctor_plain", password="plain-pw-123"))
        assert_error("database-connect-denied", closed, how="REVOKE CONNECT ... FROM PUBLIC, PostgreSQL 15")
        plain_url = debian_pg.url("postgres", user="doctor_plain", password="plain-pw-123")
        with psycopg.connect(plain_url, autocommit=True) as conn:
            for rule_id, statement in (
                ("createdb-denied", "CREATE DATABASE doctor_mine"),
                ("extension-needs-superuser", "CREATE EXTENSION file_fdw"),
                ("extension-needs-superuser", "DROP EXTENSION plpgsql"),
                ("extension-not-available", "CREATE EXTENSION no_such_extension"),
            ):
                with pytest.raises(psycopg.Error) as failed:
                    conn.execute(statement)
                assert_error(rule_id, failed.value, how=f"PostgreSQL 15, a role without privileges: {statement}")
        with debian_pg.admin() as admin:
            for statement in ("CREATE DATABASE postgres", "CREATE ROLE doctor_plain"):
                with pytest.raises(psycopg.Error) as failed:
                    admin.execute(statement)
                assert_error("object-already-exists", failed.value, how=f"PostgreSQL 15: {statement}")
    finally:
        with debian_pg.admin() as admin:
            admin.execute("DROP DATABASE doctor_closed")
            admin.execute("DROP ROLE doctor_plain")


# --- a server that speaks German ----------------------------------------------------------


@pytest.fixture(scope="module")
def german_locales(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The de_DE.UTF-8 locale, built in a private folder (LOCPATH): the system may have none."""
    catalog = Path("/usr/share/locale/de/LC_MESSAGES/postgres-15.mo")
    if not catalog.exists() or shutil.which("localedef") is None or not Path("/usr/share/i18n/locales/de_DE").exists():
        skip_or_fail("needs postgresql-15's German catalog and the de_DE locale source (apt-get install locales)")
    locales = tmp_path_factory.mktemp("locales")
    built = subprocess.run(
        ["localedef", "-i", "de_DE", "-f", "UTF-8", str(locales / "de_DE.UTF-8")], capture_output=True
    )
    if built.returncode not in (0, 1) or not (locales / "de_DE.UTF-8").exists():  # 1: warnings only
        skip_or_fail(f"localedef failed: {built.stderr.decode().strip()}")
    for folder in (locales, *locales.parents):
        folder.chmod(folder.stat().st_mode | 0o005)
    return locales


@pytest.fixture(scope="module")
def german_pg(tmp_path_factory: pytest.TempPathFactory, german_locales: Path) -> Iterator[DebianPg]:
    """Debian's PostgreSQL 15 with its German messages."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCPATH", str(german_locales))  # inherited by pg_ctl and the server it starts
        server = start_debian_pg(tmp_path_factory.mktemp("german"))
    yield server
    server.stop()


def test_psql_in_german_a_translated_hint_names_the_finer_cause(german_pg: DebianPg, german_locales: Path) -> None:
    """A trusted extension refused for want of CREATE on the database: psql in German prints the
    server's German message and libpq's German label for its HINT ("TIP:"), whose own words name
    the privilege, not a superuser's matter."""
    with psycopg.connect(german_pg.url("postgres"), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS doctor_plain_de")
        admin.execute("CREATE ROLE doctor_plain_de LOGIN PASSWORD 'plain-pw-1'")
        admin.execute("ALTER ROLE doctor_plain_de SET lc_messages = 'de_DE.UTF-8'")
    try:
        env = {"PATH": "/usr/bin:/bin", "LOCPATH": str(german_locales), "LANG": "de_DE.UTF-8", "LC_ALL": "de_DE.UTF-8"}
        url = german_pg.url("postgres", user="doctor_plain_de", password="plain-pw-1")
        done = subprocess.run(
            ["/usr/lib/postgresql/15/bin/psql", "-X", url, "-c", "CREATE EXTENSION pgcrypto"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        said = done.stderr
        assert "FEHLER:" in said and "TIP:" in said, said  # German, labels and all
        assert_diagnosed("permission-denied", said, how="psql 15 in German, trusted extension without CREATE")
    finally:
        with psycopg.connect(german_pg.url("postgres"), autocommit=True) as admin:
            admin.execute("DROP ROLE IF EXISTS doctor_plain_de")


def test_translated_server_messages_are_recognized_by_their_sqlstate(german_pg: DebianPg) -> None:
    with psycopg.connect(german_pg.url("postgres"), autocommit=True) as conn:
        conn.execute("SET lc_messages = 'de_DE.UTF-8'")
        for rule_id, statements in (
            ("undefined-table", ("SELECT * FROM keine_tabelle",)),
            ("invalid-input", ("SELECT 'kaputt'::uuid",)),
            ("read-only", ("BEGIN READ ONLY", "CREATE TABLE x (a int)")),
        ):
            with pytest.raises(psycopg.Error) as failed:
                for statement in statements:
                    conn.execute(statement)
            if statements[0].startswith("BEGIN"):
                conn.execute("ROLLBACK")
            assert "»" in str(failed.value) or "Read-Only" in str(failed.value)  # really German
            assert_error(rule_id, failed.value, how=f"German server: {'; '.join(statements)}")
        conn.execute("ALTER SYSTEM SET lc_messages = 'de_DE.UTF-8'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)
    # A translated login failure comes without a SQLSTATE: recognized from PostgreSQL's own
    # translations (doctor_translations.toml), in the forms psycopg gives them.
    failures = {
        "password-failed": german_pg.url("postgres", password="Falsch"),
        "database-missing": german_pg.url("keine_datenbank"),
        "no-pg-hba": german_pg.url("postgres", sslmode="disable"),  # medium: see the TLS-only server's test
    }
    for rule_id, url in failures.items():
        error = connect_error(url)
        assert getattr(error, "sqlstate", None) is None and "»" in str(error), str(error)  # German, no code
        # Refused unencrypted: TLS is wanted, or the address is not allowed at all, as in English.
        sure = "medium" if rule_id == "no-pg-hba" else "high"
        assert_error(rule_id, error, how="German server, at connection time, no SQLSTATE", confidence=sure)
    undecoded = connect_error(german_pg.url("postgres"), options="-c work_mem%3D64MB")
    assert "benötigt einen Wert" in str(undecoded), str(undecoded)  # "-c %s requires a value", in German
    assert_error("url-options-encoding", undecoded, how="German server, options='-c work_mem%3D64MB'")
    text = str(connect_error(failures["password-failed"]))
    assert_diagnosed("password-failed", text, "28P01", how="German server, wrong password, SQLSTATE given by hand")
