"""No password in any message: whatever libpq, the server or a tool quoted, in every command's
output, its JSON, the session report, and on the screens; also for a URL libpq cannot read.

The passwords are generated (hypothesis) from pieces that break URLs: % (alone, half a code, a
bad code, a good one), @ : / ? # & =, spaces, quotes, backslashes and non-ASCII letters, around
one run of 6 to 10 letters and digits (at least one lower case, one upper case and one digit).
That run is what makes "not in the output" mean something: a password of a few characters, or
one of ordinary words ("user", two spaces), is found in any output whether it leaked or not, and
the wizard hides a password shorter than redaction.MIN_SECRET (a part of one shorter than
MIN_PIECE) only inside URLs, never in free text (hiding "ab" everywhere would mangle every
message). The run is also checked on its own: a piece of the password that libpq quoted is a
leak too.

No example database (database=None): nothing is written into the checkout, and a failure prints
the example to replay it with @example.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from string import ascii_letters, ascii_lowercase, ascii_uppercase, digits
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from psycopg.conninfo import conninfo_to_dict
from textual.widgets import Input, Static, TextArea

from tests.celerp_pg import CelerpPg
from tests.cli_runner import Result, run
from tests.conftest import TestDatabase
from wizard.core import paths
from wizard.core.connection import parse_url, redact
from wizard.core.errors import InputError
from wizard.core.redaction import hide_fragments, secrets_in
from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState

# Hypothesis keeps what it learns in .hypothesis/ in the current folder: in the suite's private home instead.
set_hypothesis_home_dir(Path(os.environ["XDG_CACHE_HOME"]) / "hypothesis")

USER, DATABASE = "app_user", "appdb"
NOWHERE = "127.0.0.1:1"  # nothing listens on port 1: a URL that parses fails at once

RUNS = st.tuples(
    st.text(ascii_letters + digits, min_size=3, max_size=7),
    st.sampled_from(ascii_lowercase),
    st.sampled_from(ascii_uppercase),
    st.sampled_from(digits),
).map(lambda parts: parts[1] + parts[0] + parts[3] + parts[2])
URL_BREAKERS = ("%", "%2", "%zz", "%41", "@", ":", "/", "?", "#", "&", "=", " ", "  ", '"', "'", "\\")
BREAKERS = st.sampled_from((*URL_BREAKERS, "ä", "é", "€", "日本", "\u00a0"))
# Any printable character; no line breaks (a pasted URL loses them: paste.clean_paste) and no
# control or invisible characters (an environment variable cannot hold a NUL).
ANY = st.text(st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn", "Cf", "Zl", "Zp")), min_size=1, max_size=3)
PIECES = st.lists(st.one_of(BREAKERS, ANY), max_size=3).map("".join)


@st.composite
def passwords(draw: st.DrawFn) -> tuple[str, str]:
    """(the password, its run of letters and digits)."""
    run_ = draw(RUNS)
    return draw(PIECES) + run_ + draw(PIECES), run_


def _kv_quoted(password: str) -> str:
    return "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"


SHAPES = {
    "encoded": lambda pw: f"postgresql://{USER}:{quote(pw, safe='')}@{NOWHERE}/{DATABASE}",
    "raw": lambda pw: f"postgresql://{USER}:{pw}@{NOWHERE}/{DATABASE}",
    "raw with a query": lambda pw: f"postgres://{USER}:{pw}@{NOWHERE}/{DATABASE}?sslmode=disable&connect_timeout=1",
    "stray space": lambda pw: f"postgresql://{USER}:{quote(pw, safe='')} @{NOWHERE}/{DATABASE}",
    "missing host": lambda pw: f"postgresql://{USER}:{pw}@/{DATABASE}",
    "bad port": lambda pw: f"postgresql://{USER}:{quote(pw, safe='')}@127.0.0.1:abc/{DATABASE}",
    "unknown option": lambda pw: f"postgresql://{USER}:{pw}@{NOWHERE}/{DATABASE}?foo=bar",
    "no database": lambda pw: f"postgresql://{USER}:{pw}@{NOWHERE}",
    "key=value": lambda pw: f"host=127.0.0.1 port=1 dbname={DATABASE} user={USER} password={_kv_quoted(pw)}",
    "key=value unquoted": lambda pw: f"host=127.0.0.1 port=1 dbname={DATABASE} user={USER} password={pw}",
    "no scheme": lambda pw: f"{USER}:{pw}@{NOWHERE}/{DATABASE}?sslmode=disable",
    "scheme without colon": lambda pw: f"postgresql//{USER}:{pw}@{NOWHERE}/{DATABASE}",
    "scheme with one slash": lambda pw: f"postgresql:/{USER}:{pw}@{NOWHERE}/{DATABASE}?sslmode=disable",
    "sqlalchemy": lambda pw: f"postgresql+psycopg://{USER}:{pw}@{NOWHERE}/{DATABASE}",
    "pasted from a .env file": lambda pw: f"export DATABASE_URL='postgresql://{USER}:{pw}@{NOWHERE}/{DATABASE}'",
    "the psql snippet": lambda pw: f"psql 'postgresql://{USER}:{quote(pw, safe='')}@{NOWHERE}/{DATABASE}'",
}
COMMANDS = (
    ("status",),
    ("status", "--json"),
    ("verify", "--json"),
    ("migrate", "--json", "--yes", "--skip-backup"),
)


def forms(password: str) -> set[str]:
    """The password as a person, a URL and JSON would write it."""
    return {
        password,
        quote(password, safe=""),
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
    }


def assert_hidden(text: str, password: str, run_: str, where: str) -> None:
    shown = sorted(form for form in (*forms(password), run_) if form in text)
    assert not shown, f"{shown} shown in {where}:\n{text}"


def _reports() -> dict[Path, float]:
    """The report files and when they were last written, to find those a run adds or changes."""
    folder = paths.reports_dir()
    return {path: path.stat().st_mtime for path in folder.rglob("*") if path.is_file()}


def _assert_reports_hidden(before: dict[Path, float], password: str, run_: str) -> None:
    for path, written in _reports().items():
        if before.get(path) != written:
            assert_hidden(path.read_text(errors="replace"), password, run_, str(path))


def _run_everywhere(url: str, password: str, run_: str, command: tuple[str, ...], by_env: bool) -> Result:
    started = _reports()
    if by_env:
        result = run(*command, "--connect-timeout", "1", env={"DATABASE_URL": url})
    else:
        result = run(*command, "--connect-timeout", "1", "--database-url", url)
    assert result.code != 0, result.text
    assert "Traceback" not in result.text and "Unexpected error" not in result.text, result.text
    assert_hidden(result.out, password, run_, f"stdout of {command}")
    assert_hidden(result.err, password, run_, f"stderr of {command}")
    _assert_reports_hidden(started, password, run_)
    return result


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=passwords(),
    shape=st.sampled_from(sorted(SHAPES)),
    command=st.sampled_from(COMMANDS),
    by_env=st.booleans(),
)
@example(secret=('p%zz"Qw3rty', "Qw3rty"), shape="raw", command=("status",), by_env=False)
@example(secret=("Qw3rty pass", "Qw3rty"), shape="raw", command=("status", "--json"), by_env=True)
@example(secret=("x=Qw3rty@y", "Qw3rty"), shape="no scheme", command=("status",), by_env=False)
@example(secret=("ab cd Qw3rty", "Qw3rty"), shape="key=value unquoted", command=("verify", "--json"), by_env=False)
def test_no_command_shows_the_password_of_any_url(
    secret: tuple[str, str], shape: str, command: tuple[str, ...], by_env: bool
) -> None:
    password, run_ = secret
    _run_everywhere(SHAPES[shape](password), password, run_, command, by_env)


@settings(max_examples=200, deadline=None, database=None)
@given(secret=passwords(), shape=st.sampled_from(sorted(set(SHAPES) - {"no scheme"})), as_json=st.booleans())
@example(secret=("Qw3rty pass", "Qw3rty"), shape="raw", as_json=False)
@example(secret=('it"s Qw3rty', "Qw3rty"), shape="key=value", as_json=True)
def test_doctor_never_repeats_the_password_of_a_pasted_url(secret: tuple[str, str], shape: str, as_json: bool) -> None:
    """`doctor` has no URL of its own: it hides what stands between a URL's user name and its last
    "@", and key=value passwords. (Without a scheme, user:password@host cannot be told apart
    from the words around it, so that shape is not pasted here.)"""
    password, run_ = secret
    url = SHAPES[shape](password)
    text = (
        f"psql: error: could not connect using {url}\n"
        f'FATAL:  password authentication failed for user "{USER}"\n'
        f"the app said: DATABASE_URL={url} (again {url})"
    )
    result = run("doctor", *(["--json"] if as_json else []), text)
    assert "Traceback" not in result.text, result.text
    assert_hidden(result.text, password, run_, "doctor's output")


# --- libpq's own messages -------------------------------------------------------------------


def _libpq_says(text: str) -> str:
    with pytest.raises(psycopg.ProgrammingError) as error:
        conninfo_to_dict(text)
    return str(error.value).strip()


@pytest.mark.parametrize(
    ("url", "password", "says"),
    [
        # A raw % that starts no %XX code.
        ("postgresql://alice:Tr0ub%dor@db.example.com/app", "Tr0ub%dor", "invalid percent-encoded token"),
        ("postgresql://alice:c0rrect horse@db.example.com/app", "c0rrect horse", "unexpected spaces found in"),
        # No scheme: libpq reads key=value pairs and quotes the first "key", user name and password.
        ("alice:Batt3ry=staple@db.example.com/app", "Batt3ry=staple", "invalid connection option"),
    ],
)
def test_the_three_messages_that_quoted_a_password_are_masked(url: str, password: str, says: str) -> None:
    message = _libpq_says(url)
    assert says in message and password.split("=")[0] in message  # what libpq said, before masking
    for shown in (hide_fragments(message, url), redact(message, secrets_in(url))):
        assert password not in shown and password.split("=")[0] not in shown and says in shown
    with pytest.raises(InputError) as error:
        parse_url(url)
    text = " ".join((error.value.message, *error.value.fix))
    assert password not in text and quote(password, safe="") not in text and "Tr0ub" not in text


def test_a_quoted_part_that_is_not_the_password_is_still_shown() -> None:
    url = "postgresql://alice:Secr3t99@db.example.com/app?foo=bar"
    assert hide_fragments(_libpq_says(url), url) == 'invalid URI query parameter: "foo"'


def test_a_url_that_cannot_be_read_hides_everything_between_the_colon_and_the_last_at() -> None:
    for text in (
        "could not use postgresql://alice:pa ss@w'rd\"x@db.example.com/app here",
        'DATABASE_URL="postgres://alice:pa ss@w\'rd"x@db.example.com/app"',
    ):
        shown = redact(text)
        assert "pa ss" not in shown and "rd" not in shown.split("@")[0] and "@db.example.com/app" in shown


def test_key_value_passwords_are_masked_quoted_or_not() -> None:
    assert redact("host=x password='a b\\'c' dbname=y") == "host=x password=**** dbname=y"
    assert redact("host=x password=a b c dbname=y") == "host=x password=**** dbname=y"
    assert redact("host=x password='it's' dbname=y") == "host=x password=**** dbname=y"
    assert redact("postgresql://u@h/db?password=s3cret&sslmode=require") == (
        "postgresql://u@h/db?password=****&sslmode=require"
    )


# --- against real servers ------------------------------------------------------------------

WRONG = ["Wr0ng p@ss/w#rd?", "Qu0te\"d'pass%", "Ümläut€Pass1 %zz", "semi;colon&amp=Pass9"]


@pytest.mark.parametrize("password", WRONG)
def test_a_wrong_password_refused_by_the_server_is_never_shown(celerp_pg: CelerpPg, password: str) -> None:
    url = celerp_pg.url("postgres", password=password)
    for command in (("status",), ("status", "--json"), ("migrate", "--json", "--yes", "--skip-backup")):
        result = _run_everywhere(url, password, password, command, by_env=command[0] == "status")
        assert result.code == 3 and "refused the user name or password" in result.err, result.text


@pytest.mark.parametrize("password", WRONG[:2])
def test_a_run_that_succeeds_never_shows_the_password(db: TestDatabase, password: str) -> None:
    """The embedded server trusts its socket, so any password gets in: the whole run, its JSON and
    its report, with the password in the URL all along."""
    url = db.url.replace("postgres:@", f"postgres:{quote(password, safe='')}@")
    started = _reports()
    for command in (("status", "--json"), ("migrate", "--json", "--yes", "--skip-backup"), ("verify", "--json")):
        result = run(*command, env={"DATABASE_URL": url})
        assert result.code == 0, result.text
        assert_hidden(result.text, password, password, " ".join(command))
    assert _reports() != started  # migrate wrote its report
    _assert_reports_hidden(started, password, password)


# --- the screens ---------------------------------------------------------------------------


def _app(start: str) -> WizardApp:
    return WizardApp(FlowState(connect_timeout=5), start=start)


async def test_the_connect_screen_error_never_shows_the_password() -> None:
    app = _app("connect")
    async with app.run_test(size=(100, 40)) as pilot:
        field = app.screen.query_one("#url", Input)
        for url, password in (
            ("postgresql://alice:Tr0ub%dor@db.example.com/app", "Tr0ub%dor"),
            ("postgresql://alice:c0rrect horse@db.example.com/app?foo=bar", "c0rrect horse"),
            ("postgresql//alice:Batt3ry=staple@db.example.com/app", "Batt3ry"),
            ("host=db.example.com dbname=app password=c0rrect horse", "c0rrect"),
        ):
            field.value = url
            await pilot.pause()
            shown = str(app.screen.query_one("#problem", Static).render())
            assert shown and password not in shown, shown
            await pilot.press("ctrl+t")  # the whole explanation, in the problem box
            await pilot.pause()
            box = " ".join(str(w.render()) for w in app.screen.query(Static))
            assert password not in box and quote(password, safe="") not in box, box


async def test_the_troubleshooting_panel_never_echoes_a_pasted_password() -> None:
    app = _app("welcome")
    async with app.run_test(size=(100, 32)) as pilot:
        app.action_help("explain")
        await pilot.pause()
        app.screen.query_one("#paste", TextArea).text = (
            'psql: error: invalid percent-encoded token: "x"\n'
            "while connecting with postgresql://alice:c0rr%ect horse\"x'@db.example.com/app, again"
            " host=db.example.com password='c0rr%ect horse\"x\\'' dbname=app"
        )
        await pilot.click("#explain-now")
        await pilot.pause()
        answer = str(app.screen.query_one("#answer", Static).render())
        assert "c0rr" not in answer and "horse" not in answer, answer
        assert "db.example.com" in answer  # the rest of the message is still there


def test_another_sessions_query_that_sets_a_password_is_shown_without_it(db: TestDatabase) -> None:
    """A lock holder's query is another session's SQL: the wizard shows it (to name the blocker),
    never the password it sets, also when pg_stat_activity's text is cut before the closing quote."""
    from wizard.core.blockers import blockers
    from wizard.core.redaction import hide_sql_passwords

    role = "blocker_" + db.name
    with psycopg.connect(db.url, autocommit=True) as other, psycopg.connect(db.url, autocommit=True) as conn:
        other.execute(f"CREATE ROLE {role}")
        other.execute("BEGIN")
        other.execute("LOCK TABLE attachments IN ACCESS SHARE MODE")
        other.execute(f"ALTER ROLE {role} WITH PASSWORD 'Hunter2-It''s-x9Q' VALID UNTIL 'infinity'")
        (holder,) = blockers(conn, "public", ("attachments",))
        other.execute("ROLLBACK")
        other.execute(f"DROP ROLE {role}")
    assert holder.query.startswith(f"ALTER ROLE {role} WITH PASSWORD ") and "infinity" in holder.query
    assert "Hunter2" not in holder.query and "x9Q" not in holder.query
    cut = hide_sql_passwords("CREATE ROLE app LOGIN ENCRYPTED PASSWORD 'Hunter2-x9")  # cut at 120 characters
    assert "Hunter2" not in cut and cut.startswith("CREATE ROLE app LOGIN ENCRYPTED PASSWORD ")
    assert "Hunter2" not in redact("ALTER USER app PASSWORD E'Hunter2\\'x9Q' LOGIN")
