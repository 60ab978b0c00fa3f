"""pg_hba.conf's refusal of a plain connection: "the server wants TLS" or "no line for this
client at all", in the order what connected makes likely (wizard/core/hba_refusal.py)."""

from __future__ import annotations

import psycopg
import pytest

from wizard.core.connection import explained, parse_url
from wizard.core.doctor import Diagnosis, diagnose

REFUSED = 'FATAL:  no pg_hba.conf entry for host "{client}", user "app", database "shop", {plain}'


def ids(found: Diagnosis) -> list[str | None]:
    return [found.id, *(alt.id for alt in found.alternatives)]


def libpq(server: str, client: str = "172.18.0.1", plain: str = "no encryption") -> str:
    refused = REFUSED.format(client=client, plain=plain)
    return f'psql: error: connection to server at "{server}" (10.0.0.5), port 5432 failed: {refused}'


@pytest.mark.parametrize("plain", ["no encryption", "SSL off"])
def test_one_plain_attempt_by_libpq_means_no_line_for_this_client_first(plain: str) -> None:
    # libpq asks for TLS first (sslmode=prefer): a server that wanted TLS would have let that in.
    found = diagnose(libpq("db.internal", plain=plain))
    assert ids(found) == ["no-pg-hba", "ssl-required"] and found.confidence == "medium"


def test_psycopg2_is_a_libpq_client_too() -> None:
    # psycopg2 with a libpq before 16 shows the server's words alone
    found = diagnose("psycopg2.OperationalError: " + REFUSED.format(client="203.0.113.45", plain="SSL off"))
    assert ids(found) == ["no-pg-hba", "ssl-required"]


def test_psycopg_with_a_libpq_speaking_german_is_a_libpq_client_too() -> None:
    # libpq 16's German words for an attempt (its catalog), after psycopg's own prefix
    text = (
        "connection failed: Verbindung zum Server auf »db.internal« (10.0.0.5), Port 5432 fehlgeschlagen: FATAL:  "
        "kein pg_hba.conf-Eintrag für Host »172.18.0.1«, Benutzer »app«, Datenbank »shop«, keine Verschlüsselung"
    )
    assert ids(diagnose(text)) == ["no-pg-hba", "ssl-required"]


@pytest.mark.parametrize(
    "text",
    [
        "$ psql 'host=db.internal dbname=shop sslmode=disable'\n" + libpq("db.internal"),  # TLS turned off
        libpq("shop.c1x2y3z4w5.us-east-1.rds.amazonaws.com"),  # a managed host that requires TLS
        libpq("contoso.postgres.database.azure.com"),
        # Heroku's log of its app: Heroku Postgres requires TLS
        "2021-03-03T18:22:41+00:00 app[web.1]: sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) "
        + REFUSED.format(client="54.162.83.19", plain="SSL off"),
        # node-postgres connects without TLS unless told to
        "error: " + REFUSED.format(client="3.91.10.22", plain="no encryption")
        + "\n    at Parser.parseErrorMessage (/app/node_modules/pg-protocol/dist/parser.js:287:98)",
        REFUSED.format(client="203.0.113.7", plain="SSL off"),  # no sign of the client at all
    ],
)  # fmt: skip
def test_tls_turned_off_a_plain_client_or_a_tls_only_host_puts_tls_first(text: str) -> None:
    found = diagnose(text)
    assert ids(found) == ["ssl-required", "no-pg-hba"] and found.confidence == "medium"


def test_the_wizard_says_which_sslmode_it_connected_with() -> None:
    error = psycopg.OperationalError(libpq("db.internal").removeprefix("psql: error: "))
    assert ids(explained(parse_url("postgresql://app:pw@db.internal/shop"), error).diagnosis) == [
        "no-pg-hba",
        "ssl-required",
    ]
    turned_off = explained(parse_url("postgresql://app:pw@db.internal/shop?sslmode=disable"), error)
    assert ids(turned_off.diagnosis) == ["ssl-required", "no-pg-hba"]
    assert "pw" not in turned_off.detail


@pytest.mark.parametrize(
    "shown", ["# settings.py: 'OPTIONS': {'sslmode': 'disable'}", "ssl: false", "sslmode => 'disable'"]
)
def test_tls_turned_off_in_a_programs_settings_means_tls_first(shown: str) -> None:
    found = diagnose(f"django.db.utils.OperationalError: {libpq('db.internal')}\n{shown}")
    assert ids(found) == ["ssl-required", "no-pg-hba"]


def test_a_german_refusal_with_its_sqlstate_given_is_still_read() -> None:
    """28000 fits several rules: the code alone decides nothing, so the German words are read."""
    text = (
        "org.postgresql.util.PSQLException: FATAL: kein pg_hba.conf-Eintrag für Host »10.8.0.14«, Benutzer"
        " »keycloak«, Datenbank »keycloak«, keine Verschlüsselung\n"
        "jdbc url was: jdbc:postgresql://pg.int.example:5432/keycloak?ssl=false"
    )
    found = diagnose(text, sqlstate="28000")
    assert ids(found) == ["ssl-required", "no-pg-hba"]


def test_a_servers_log_in_russian_with_both_attempts_refused_is_no_line_for_this_client() -> None:
    log = (
        '2024-05-14 09:12:41.517 MSK [41877] ВАЖНО:  в pg_hba.conf нет записи для компьютера "10.20.4.17",'
        ' пользователя "etl", базы "warehouse", Шифрование SSL\n'
        '2024-05-14 09:12:41.533 MSK [41878] ВАЖНО:  в pg_hba.conf нет записи для компьютера "10.20.4.17",'
        ' пользователя "etl", базы "warehouse", без шифрования'
    )
    found = diagnose(log)
    assert (ids(found), found.confidence) == (["no-pg-hba"], "high")
