"""A database the wizard did not create, on a server version it does not embed (Debian's
PostgreSQL 15), reachable only over TLS with a password, as Neon is."""

from __future__ import annotations

import json
import uuid

from tests.cli_runner import run
from tests.conftest import DATA
from tests.debian_pg import PASSWORD, DebianPg


def _app_database(server: DebianPg) -> str:
    return server.create_database(f"app_{uuid.uuid4().hex[:8]}", DATA / "independent_app_schema.sql")


def test_status_migrate_verify_rollback_over_tls_on_an_independent_schema(debian_pg: DebianPg) -> None:
    url = _app_database(debian_pg)
    env = {"DATABASE_URL": url}
    status = run("status", "--json", env=env)
    assert status.code == 0, status.text
    data = json.loads(status.out)
    assert data["server_version"].startswith("15.") and data["host"] == "127.0.0.1"
    assert [m["state"] for m in data["migrations"]] == ["applied", "pending"]
    plan = run("plan", env=env)
    assert plan.code == 0 and "[14/14]" in plan.out
    migrated = run("migrate", "--yes", "--skip-backup", env=env)
    assert migrated.code == 0, migrated.text
    assert "Verify: OK" in migrated.out
    verified = run("verify", "--json", env=env)
    checks = {c["id"]: c for c in json.loads(verified.out)["checks"]}
    assert verified.code == 0 and checks["smoke_test"]["status"] == "pass"
    # Its attachments has an extra column the wizard knows nothing of: shown, not judged.
    assert any(row["column"] == "owner_id" and row["new"] is False for row in checks["attachments_columns"]["rows"])
    rolled = run("rollback", "--yes", env=env)
    assert rolled.code == 0, rolled.text
    assert run("verify", env=env).code == 1
    for result in (status, plan, migrated, verified, rolled):
        assert PASSWORD not in result.text and "p%40ss" not in result.text


def test_the_application_view_on_attachments_survives_migrate_and_rollback(debian_pg: DebianPg) -> None:
    url = _app_database(debian_pg)
    assert run("migrate", "--yes", "--skip-backup", "--database-url", url).code == 0
    assert run("rollback", "--yes", "--database-url", url).code == 0
    import psycopg

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM recent_attachments").fetchone() == (12,)


def test_a_wrong_password_is_exit_3_with_the_fix_and_no_password_shown(debian_pg: DebianPg) -> None:
    url = debian_pg.url("postgres", password="Wr0ngPassw0rd")
    result = run("status", env={"DATABASE_URL": url})
    assert result.code == 3
    assert "refused the user name or password" in result.err
    assert "Wr0ngPassw0rd" not in result.text and "Traceback" not in result.text


def test_a_missing_database_over_tls_is_named(debian_pg: DebianPg) -> None:
    result = run("status", env={"DATABASE_URL": debian_pg.url("no_such_db")})
    assert result.code == 3 and "database does not exist" in result.err
    assert PASSWORD not in result.text


def test_a_plain_connection_to_a_tls_only_server_says_to_add_sslmode_require(debian_pg: DebianPg) -> None:
    result = run("status", env={"DATABASE_URL": debian_pg.url("postgres", sslmode="disable")})
    assert result.code == 3
    assert "requires an encrypted (SSL) connection" in result.err and "sslmode=require" in result.err
