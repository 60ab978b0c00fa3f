"""What people paste where the URL belongs: the core keeps the URL, says what it removed,
offers the percent-encoded password and the direct host, and never repeats the password."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from wizard.core.connection import parse_url
from wizard.core.errors import InputError
from wizard.core.paste import (
    LINE_BREAKS,
    PSQL,
    QUOTES,
    WHITESPACE,
    clean_paste,
    direct_host_url,
    encode_password,
    sslmode_require_url,
)

PASSWORD = "Npg7SecretXyz"
URL = f"postgresql://neondb_owner:{PASSWORD}@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb?sslmode=require"
POOLER = URL.replace("-123456.", "-123456-pooler.")


@pytest.mark.parametrize(
    ("pasted", "removed"),
    [
        (f"psql '{URL}'", (PSQL, QUOTES)),  # the Neon console's snippet
        (f'psql "{URL}"', (PSQL, QUOTES)),
        (f"psql -d '{URL}'", (PSQL, QUOTES)),
        (f"psql --dbname={URL}", (PSQL,)),
        (f'"{URL}"', (QUOTES,)),
        (f"'{URL}'", (QUOTES,)),
        (f"\u201c{URL}\u201d", (QUOTES,)),  # typographic quotes from a chat or a document
        (f"`{URL}`", (QUOTES,)),  # Markdown's inline code
        (f"DATABASE_URL={URL}", ('"DATABASE_URL="',)),
        (f'DATABASE_URL = "{URL}"', ('"DATABASE_URL="', QUOTES)),  # a .env line
        (f"export DATABASE_URL='{URL}'", ('"export DATABASE_URL="', QUOTES)),
        (f'$env:DATABASE_URL = "{URL}"', ('"$env:DATABASE_URL="', QUOTES)),  # PowerShell
        (f'POSTGRES_URL_NON_POOLING="{URL}"', ('"POSTGRES_URL_NON_POOLING="', QUOTES)),  # any variable name
        (f"DATABASE_URL=\"psql '{URL}'\"", ('"DATABASE_URL="', QUOTES, PSQL)),  # layers nest
        (f"$ psql '{URL}'", ('the "$" prompt', PSQL, QUOTES)),  # copied from documentation
        (f"{URL}\n", (WHITESPACE,)),
        (f"  {URL} \t", (WHITESPACE,)),
        (f"\ufeff{URL}\u200b", (WHITESPACE,)),  # invisible characters from a web page
        (f'"{URL} "', (QUOTES, WHITESPACE)),
        (f"{URL[:50]}\n{URL[50:]}", (LINE_BREAKS,)),  # a long URL that wrapped while copying
    ],
)
def test_each_paste_shape_gives_the_url_and_says_what_was_removed(pasted: str, removed: tuple[str, ...]) -> None:
    cleaned = clean_paste(pasted)
    assert cleaned.url == URL
    assert cleaned.removed == removed
    assert cleaned.note.startswith("cleaned the pasted URL: removed ")
    assert PASSWORD not in cleaned.note and PASSWORD not in repr(cleaned)


def test_the_note_reads_as_one_list() -> None:
    assert clean_paste(f"\"psql '{URL}'\"").note == 'cleaned the pasted URL: removed the surrounding quotes and "psql"'


@pytest.mark.parametrize(
    "text",
    [URL, "host=db.example.com dbname=app user=bob password=hunter22", "postgresql://u@/app?host=/tmp/x y"],
)
def test_nothing_to_clean_says_nothing(text: str) -> None:
    cleaned = clean_paste(text)
    assert cleaned.url == text and cleaned.removed == () and cleaned.note == ""


def test_a_key_value_string_is_never_taken_for_an_assignment() -> None:
    assert clean_paste("'host=db.example.com dbname=app'").url == "host=db.example.com dbname=app"
    assert clean_paste("dbname=app host=x").removed == ()


def test_parse_url_cleans_every_entry_point_and_remembers_what_it_removed() -> None:
    target = parse_url(f"export DATABASE_URL=\"psql '{URL}'\"\n")
    assert target.url == URL and target.database == "neondb"
    assert target.cleaned == (WHITESPACE, '"export DATABASE_URL="', QUOTES, PSQL)
    assert target.cleaned_note.startswith("cleaned the pasted URL: removed the whitespace around it, ")
    assert parse_url(URL).cleaned == () and parse_url(URL).cleaned_note == ""
    assert PASSWORD not in repr(target) and PASSWORD not in target.describe()


@pytest.mark.parametrize(
    ("password", "characters", "how"),
    [
        ("p@ssW0rd12", ("@",), "write @ as %40"),
        ("pa:ssW0rd12", (":",), "write : as %3A"),
        ("pa/ssW0rd12", ("/",), "write / as %2F"),
        ("pa?ssW0rd12", ("?",), "write ? as %3F"),
        ("a@b:c/d?e#f", ("@", ":", "/", "?", "#"), "write @ as %40, : as %3A, / as %2F, ? as %3F and # as %23"),
        ("50%off pass", ("%", " "), "write % as %25 and each space as %20"),
    ],
)
def test_a_password_with_url_characters_is_offered_percent_encoded(
    password: str, characters: tuple[str, ...], how: str
) -> None:
    url = f"postgresql://alice:{password}@db.example.com:5433/app?sslmode=require"
    offer = encode_password(url)
    assert offer is not None
    assert offer.characters == characters and offer.how == how
    assert offer.masked == "postgresql://alice:****@db.example.com:5433/app?sslmode=require"
    assert password not in offer.masked and password not in repr(offer)
    params = conninfo_to_dict(offer.url)
    assert (params["password"], params["host"], params["port"], params["dbname"]) == (
        password,
        "db.example.com",
        "5433",
        "app",
    )


def test_an_already_encoded_or_plain_password_gets_no_offer() -> None:
    assert encode_password("postgresql://u:p%40ss%2Fw0rd@db.example.com/app") is None
    assert encode_password(URL) is None
    assert encode_password("postgresql://u@db.example.com/app") is None
    assert encode_password("host=x password=a@b") is None


@pytest.mark.parametrize(
    ("password", "named", "how"),
    [
        ("Secr@tPass1", '"@"', "write @ as %40"),
        ("Secr/tPass1", '"/"', "write / as %2F"),
        ("Se/cr@tPass1", '"/" and "@"', "write / as %2F and @ as %40"),
        ("Secr%tPass1", '"%"', "write % as %25"),
    ],
)
def test_a_misread_password_is_refused_with_the_exact_fix_and_without_the_password(
    password: str, named: str, how: str
) -> None:
    with pytest.raises(InputError) as error:
        parse_url(f"'postgresql://alice:{password}@db.example.com/app'")
    message, fix = error.value.message, error.value.fix
    assert message == f"The password in the URL contains {named}, which must be percent-encoded."
    assert fix[0] == f"In the password, {how}: postgresql://alice:****@db.example.com/app (password hidden here)."
    said = message + " ".join(fix) + error.value.detail
    assert password not in said and "Secr" not in said


def test_a_password_libpq_reads_correctly_is_accepted_as_it_is() -> None:
    # libpq splits the user part at the first ":" and ends it at the first "@": these work.
    for password in ("pa:ss:W0rd", "pa?ssW0rd", "pa#ssW0rd"):
        target = parse_url(f"postgresql://alice:{password}@db.example.com/app")
        assert target.host == "db.example.com" and password in target.secrets


def test_libpq_error_text_never_repeats_the_password() -> None:
    # Encoding would not save this one (the query is wrong too): libpq's own text is shown, masked.
    with pytest.raises(InputError) as error:
        parse_url("postgresql://alice:Secr3t%zzPass@db.example.com/app?bogus=1")
    assert "could not be read" in error.value.message and "Secr3t" not in error.value.message


def test_a_pooler_url_knows_its_direct_url_with_the_rest_as_typed() -> None:
    target = parse_url(f"psql '{POOLER}'")
    assert target.is_pooler and target.direct_url == URL
    assert target.redact(target.direct_url) == URL.replace(PASSWORD, "****")
    assert parse_url(URL).direct_url == ""
    assert direct_host_url(URL, "ep-cool-darkness-123456.us-east-2.aws.neon.tech") is None
    keywords = f"host=ep-x-1-pooler.eu-central-1.aws.neon.tech dbname=app password={PASSWORD}"
    assert direct_host_url(keywords, "ep-x-1-pooler.eu-central-1.aws.neon.tech") == keywords.replace("-pooler", "")


def test_sslmode_is_added_after_the_host_not_after_a_question_mark_in_the_password() -> None:
    assert sslmode_require_url("postgresql://u:pa?ss@db.example.com/app") == (
        "postgresql://u:pa?ss@db.example.com/app?sslmode=require"
    )
    assert sslmode_require_url("postgresql://u:pw@db.example.com/app?a=1") == (
        "postgresql://u:pw@db.example.com/app?a=1&sslmode=require"
    )


def test_a_psql_snippet_with_a_key_value_string_is_unwrapped_too() -> None:
    cleaned = clean_paste(f"psql 'host=db.example.com dbname=app password={PASSWORD}'")
    assert cleaned.url == f"host=db.example.com dbname=app password={PASSWORD}"
    assert cleaned.removed == (PSQL, QUOTES)


def test_a_psql_command_line_without_a_url_is_named_for_what_it_is() -> None:
    with pytest.raises(InputError) as error:
        parse_url(f"psql -h ep-x-1.us-east-2.aws.neon.tech -U alice -d neondb -W {PASSWORD}")
    assert error.value.message == "That is a psql command line, not a database URL."
    assert PASSWORD not in error.value.message + " ".join(error.value.fix)
