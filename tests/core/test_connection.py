"""Reading a pasted DATABASE_URL and never showing its password."""

from __future__ import annotations

import pytest

from wizard.core.connection import parse_url, redact
from wizard.core.errors import InputError

NEON = "postgresql://alice:Secr3tPassw0rd@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb?sslmode=require"


def test_a_neon_url_describes_its_target_without_the_password() -> None:
    target = parse_url(NEON)
    assert target.host == "ep-cool-darkness-123456.us-east-2.aws.neon.tech"
    assert (target.database, target.user, target.port) == ("neondb", "alice", "5432")
    assert "Secr3tPassw0rd" not in target.describe() and "Secr3tPassw0rd" not in repr(target)
    assert target.redact(f"could not connect using {NEON}") == (
        "could not connect using postgresql://alice:****@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb"
        "?sslmode=require"
    )


def test_a_neon_host_without_sslmode_gets_sslmode_require() -> None:
    target = parse_url("postgresql://alice:pw12345@ep-x-123.eu-central-1.aws.neon.tech/neondb")
    assert "sslmode=require" in target.conninfo
    assert target.notes and "sslmode=require" in target.notes[0]


def test_a_pooler_host_is_recognised_and_its_direct_host_known() -> None:
    target = parse_url("postgresql://a:pw12345@ep-x-123-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require")
    assert target.is_pooler and target.direct_host == "ep-x-123.us-east-2.aws.neon.tech"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "No database URL"),
        ("mysql://u:pw@host/db", "not a PostgreSQL URL"),
        ("postgresql+psycopg://u:pw@host/db", "not a PostgreSQL URL"),
        ("postgresql://u:pw@host", "no database name"),
        ("postgresql://u:p@ss@host/db", "percent-encoded"),
        ("postgresql://u:pa/ss@host/db", "percent-encoded"),
        ("postgresql://u:pw@host/db?sslmode=requir", "sslmode=requir"),
        ("postgresql://u:pw@host/my db", "could not be read"),
        ("just some text", "not a database URL"),
    ],
)
def test_bad_urls_get_one_clear_sentence(url: str, says: str) -> None:
    with pytest.raises(InputError) as error:
        parse_url(url)
    assert says in error.value.message
    assert "\n" not in error.value.message


def test_errors_about_a_url_never_repeat_its_password() -> None:
    with pytest.raises(InputError) as error:
        parse_url("postgresql://u:TopSecret99@host/db?foo=bar")
    text = error.value.message + " ".join(error.value.fix)
    assert "TopSecret99" not in text


def test_percent_encoded_passwords_are_decoded_and_redacted_in_both_forms() -> None:
    target = parse_url("postgresql://u:p%40ss%2Fw0rd@db.example.com:5433/app")
    assert target.port == "5433"
    assert "p@ss/w0rd" in target.secrets
    assert target.redact("password p@ss/w0rd and p%40ss%2Fw0rd") == "password **** and ****"


def test_key_value_strings_are_accepted_and_redacted() -> None:
    target = parse_url("host=db.example.com dbname=app user=bob password=hunter22")
    assert (target.host, target.database, target.user) == ("db.example.com", "app", "bob")
    assert redact("host=x password=hunter22 dbname=y") == "host=x password=**** dbname=y"
