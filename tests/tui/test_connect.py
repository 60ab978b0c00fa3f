"""The Connect screen: paste-tolerant, explains bad URLs inline, tests the connection."""

from __future__ import annotations

from textual.widgets import Button, Input, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.tui.messages import Connected, ConnectFailed
from wizard.tui.widgets.problem_box import ProblemBox


def _text(app: object, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def test_pasting_the_neon_psql_snippet_fills_the_url_and_masks_the_password(make_app: AppFactory) -> None:
    app = make_app(start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        url = app.screen.query_one("#url", Input)
        url.value = (
            "psql 'postgresql://alex:AbC123xyz@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb?sslmode=require'"
        )
        await pilot.pause()
        assert (
            url.value
            == "postgresql://alex:AbC123xyz@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb?sslmode=require"
        )
        assert url.password  # the field itself never shows the characters
        shown = _text(app, "#shown-back")
        assert "ep-cool-darkness-123456" in shown and "neondb" in shown and "AbC123xyz" not in shown


async def test_export_and_quotes_are_stripped(make_app: AppFactory) -> None:
    app = make_app(start="connect")
    async with app.run_test() as pilot:
        url = app.screen.query_one("#url", Input)
        url.value = '  export DATABASE_URL="postgresql://u:pw123456@db.example.com/app"  '
        await pilot.pause()
        assert url.value == "postgresql://u:pw123456@db.example.com/app"


async def test_the_screen_says_what_it_removed_from_a_paste_as_headless_does(make_app: AppFactory) -> None:
    from wizard.core.paste import clean_paste

    pasted = "DATABASE_URL=\"psql 'postgresql://u:Pw1234567@db.example.com/app'\""
    app = make_app(start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        url = app.screen.query_one("#url", Input)
        url.value = pasted
        await pilot.pause()
        assert url.value == clean_paste(pasted).url == "postgresql://u:Pw1234567@db.example.com/app"
        notes = _text(app, "#notes")
        assert 'Cleaned the pasted URL: removed "DATABASE_URL=", the surrounding quotes and "psql".' in notes
        assert "Pw1234567" not in notes
        url.value = "postgresql://u:Pw1234567@db.example.com/other"  # typed over: the note goes
        await pilot.pause()
        assert "Cleaned" not in _text(app, "#notes")


async def test_a_key_value_string_keeps_its_spaces_while_typed(make_app: AppFactory) -> None:
    app = make_app(start="connect")
    async with app.run_test() as pilot:
        url = app.screen.query_one("#url", Input)
        url.value = "host=db.example.com "
        await pilot.pause()
        assert url.value == "host=db.example.com "  # the next keyword can follow
        url.value += "dbname=app user=bob"
        await pilot.pause()
        assert "db.example.com" in _text(app, "#shown-back") and "app" in _text(app, "#shown-back")


async def test_a_bad_url_is_explained_inline(make_app: AppFactory) -> None:
    app = make_app(start="connect")
    async with app.run_test() as pilot:
        app.screen.query_one("#url", Input).value = "mysql://u:pw@host/db"
        await pilot.pause()
        assert "not a PostgreSQL URL" in _text(app, "#problem")


async def test_a_password_with_an_at_sign_is_offered_encoded(make_app: AppFactory) -> None:
    app = make_app(start="connect")
    async with app.run_test() as pilot:
        url = app.screen.query_one("#url", Input)
        url.value = "postgresql://u:p@ss@db.example.com/app"
        await pilot.pause()
        assert "percent-encoded" in _text(app, "#problem")
        assert app.screen.query_one("#encode", Button).display
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert url.value == "postgresql://u:p%40ss@db.example.com/app"
        assert _text(app, "#problem") == ""


async def test_a_pooler_host_is_explained_and_switched_to_the_direct_host(make_app: AppFactory) -> None:
    app = make_app("postgresql://u:pw12345@ep-x-123-pooler.us-east-2.aws.neon.tech/neondb", start="connect")
    async with app.run_test() as pilot:
        assert "pooled endpoint" in _text(app, "#notes")
        assert "sslmode=require" in _text(app, "#notes")
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert "-pooler" not in app.screen.query_one("#url", Input).value


async def test_using_the_direct_host_clears_the_pooler_hosts_error(make_app: AppFactory) -> None:
    # A Neon pooler host name, reached at a closed local port: the test fails at once, offline too.
    url = "postgresql://u:pw12345@ep-x-123-pooler.us-east-2.aws.neon.tech:9/neondb?hostaddr=127.0.0.1"
    app = make_app(url, start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("enter")  # in the URL field: test it
        await app.workers.wait_for_complete()
        await pilot.pause()
        box = app.screen.query_one(ProblemBox)
        assert box.display and "ep-x-123-pooler" in _text(app, "#failure .problem-text")
        await pilot.click("#direct")  # "Use the direct host (Ctrl+D)"
        await pilot.pause()
        assert "Will connect to: host ep-x-123.us-east-2" in _text(app, "#shown-back")
        assert not box.display and box.problem is None  # the error was about the pooler host
        await pilot.press("ctrl+t")  # tested again: a new error is about the new host
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert box.display and "ep-x-123.us-east-2" in _text(app, "#failure .problem-text")


async def test_test_connection_shows_the_server_and_never_the_password(make_app: AppFactory, db: TestDatabase) -> None:
    messages: list[object] = []
    app = make_app(db.url.replace("postgres:@", "postgres:Hidden99pw@"), start="connect")
    async with app.run_test(message_hook=messages.append) as pilot:
        await pilot.click("#test")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(isinstance(m, Connected) for m in messages)
        result = _text(app, "#result")
        assert "Connected" in result and "PostgreSQL 18" in result and db.name in result
        assert "Hidden99pw" not in result
        assert not app.screen.query_one("#continue", Button).disabled


async def test_a_wrong_database_name_fails_inline(make_app: AppFactory, db: TestDatabase) -> None:
    messages: list[object] = []
    app = make_app(db.url.replace(f"/{db.name}?", "/nope_db?"), start="connect")
    async with app.run_test(message_hook=messages.append) as pilot:
        await pilot.click("#test")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(isinstance(m, ConnectFailed) for m in messages)
        assert "database does not exist" in _text(app, "#failure .problem-text")
        assert app.screen.query_one("#continue", Button).disabled


async def test_remember_a_tested_connection_then_pick_it_next_time(
    make_app: AppFactory, db: TestDatabase, memory_keyring: object
) -> None:
    from textual.widgets import OptionList

    from wizard.core import profiles

    url = db.url.replace("postgres:@", "postgres:Remembered1@")
    app = make_app(url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#test")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query_one("#profile-name", Input).value == db.name  # prefilled from the database
        app.screen.query_one("#profile-name", Input).value = "local"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [p.name for p in profiles.list_profiles()] == ["local"]
        assert "Remembered as 'local'" in _text(app, "#profiles-status")
    # Next time: nothing pasted, pick it from the list.
    app = make_app("", start="connect")
    messages: list[object] = []
    async with app.run_test(size=(100, 40), message_hook=messages.append) as pilot:
        options = app.screen.query_one("#profiles", OptionList)
        assert options.option_count == 1
        options.focus()
        await pilot.press("down", "enter")
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert any(isinstance(m, Connected) for m in messages)
        assert "Remembered1" not in _text(app, "#result") and "Connected" in _text(app, "#result")
        await pilot.press("tab")
        options.focus()
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert profiles.list_profiles() == []


async def test_an_unusable_keyring_says_why_instead_of_failing(
    make_app: AppFactory, db: TestDatabase, no_keyring: object
) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#test")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = _text(app, "#profiles-status")
        assert "OS keyring" in status and "DATABASE_URL" in status


async def test_a_wrong_password_is_explained_without_showing_it(make_app: AppFactory, debian_pg: object) -> None:
    url = debian_pg.url("postgres", password="Wr0ngTuiPass")  # type: ignore[attr-defined]
    app = make_app(url, start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = str(app.screen.query_one("#failure .problem-text", Static).render())
        assert "refused the user name or password" in shown and "Wr0ngTuiPass" not in shown
        assert app.state.last_problem is not None and "Wr0ngTuiPass" not in repr(app.state.last_problem)


async def test_a_slow_first_answer_says_a_neon_compute_may_be_waking(make_app: AppFactory) -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    port = listener.getsockname()[1]
    app = make_app(f"postgresql://app:pw123456@127.0.0.1:{port}/neondb?sslmode=disable", start="connect")
    app.state.connect_timeout = 4
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause(2.6)
        assert "suspended Neon compute takes a few seconds to wake" in _text(app, "#result")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "did not answer in time" in _text(app, "#failure .problem-text")
    listener.close()
