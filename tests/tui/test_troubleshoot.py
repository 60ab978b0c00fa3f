"""The troubleshooting panel (F1 or ?) and the errors on the screens: every one is explained by
the knowledge base, and the fixes the wizard can make itself are buttons that work."""

from __future__ import annotations

import psycopg
from textual import events
from textual.widgets import Input, OptionList, Static, TabbedContent, TextArea
from textual.widgets._footer import FooterKey

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from tests.tui.test_preflight import settle
from wizard.core.doctor import load_rules, rule_by_id
from wizard.tui.app import WizardApp
from wizard.tui.problems import problem_from
from wizard.tui.screens.connect import ConnectScreen
from wizard.tui.screens.migrate import MigrateScreen
from wizard.tui.screens.preflight import PreflightScreen
from wizard.tui.screens.troubleshoot import TroubleshootScreen
from wizard.tui.widgets.problem_box import ProblemBox


def _text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def _box(app: WizardApp) -> str:
    return str(app.screen.query_one(ProblemBox).query_one(".problem-text", Static).render())


async def test_f1_and_question_mark_open_the_panel_ready_for_a_pasted_message(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, TroubleshootScreen)
        assert app.screen.query_one(TabbedContent).active == "explain"  # no error yet: paste one
        assert app.screen.query_one("#paste", TextArea).has_focus
        assert "No error so far" in _text(app, "#latest-text")
        options = app.screen.query_one("#rules", OptionList)
        assert options.option_count == len(load_rules())  # every known problem, before any search
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TroubleshootScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, TroubleshootScreen)


async def test_search_by_words_and_by_sqlstate(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        search = app.screen.query_one("#search", Input)
        options = app.screen.query_one("#rules", OptionList)
        search.value = "28P01"
        await pilot.pause()
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids and all("28P01" in rule_by_id(i or "").sqlstates for i in ids)
        assert "password" in _text(app, "#rule-text").lower()  # the first match's cause and fix
        search.value = "lock holds"
        await pilot.pause()
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "lock-timeout" in ids and "password-failed" not in ids
        await pilot.press("down")  # from the search box: Enter moves to the list
        search.value = "zebra crossing quantum"
        await pilot.pause()
        assert options.option_count == 0 and "No known problem matches" in _text(app, "#rule-text")


async def test_a_pasted_message_is_answered_like_doctor_without_its_password(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        app.action_help("explain")
        await pilot.pause()
        paste = app.screen.query_one("#paste", TextArea)
        assert paste.has_focus
        paste.text = (
            'pg_dump: error: connection to server at "ep-x.neon.tech" (3.1.2.3), port 5432 failed: FATAL:  password'
            ' authentication failed for user "alex"\n(URL postgresql://alex:Hunter2secret@ep-x.neon.tech/neondb)'
        )
        await pilot.click("#explain-now")
        await pilot.pause()
        answer = _text(app, "#answer")
        assert "The server refused the user name or password" in answer and "What to do" in answer
        assert "Hunter2secret" not in answer
        paste.text = "the flux capacitor refused to engage"
        await pilot.pause(0.3)  # a button ignores clicks while it shows the last press
        await pilot.click("#explain-now")
        await pilot.pause()
        answer = _text(app, "#answer")
        assert "Not recognized" in answer and "general checklist" in answer  # honest, not a guess


async def test_a_paste_is_explained_at_once_and_enter_explains_typed_text(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        paste = app.screen.query_one("#paste", TextArea)
        # What the terminal sends for a paste (bracketed paste), to the focused paste box.
        paste.post_message(events.Paste('FATAL:  password authentication failed for user "alex"'))
        await pilot.pause()
        await pilot.pause()
        assert "password authentication failed" in paste.text
        assert "The server refused the user name or password" in _text(app, "#answer")  # no key pressed
        paste.text = ""
        await pilot.press(*"canceling statement due to lock timeout")
        assert "lock" not in _text(app, "#answer").lower()  # typing is not answered key by key
        await pilot.press("enter")
        await pilot.pause()
        assert "\n" not in paste.text  # Enter explains; it adds no line
        assert "lock" in _text(app, "#answer").lower()
        footer = [key.description for key in app.screen.query(FooterKey)]
        assert footer[:3] == ["Close", "Quit", "Explain"]  # the panel's own keys, F1 and quit first


async def test_a_message_with_two_likely_causes_is_answered_probably_and_if_not(make_app: AppFactory) -> None:
    text = (
        'connection failed: connection to server at "shop.c1x2y3z4w5.us-east-1.rds.amazonaws.com" (10.0.12.44),'
        ' port 5432 failed: FATAL:  no pg_hba.conf entry for host "203.0.113.7", user "alex", database "neondb",'
        " no encryption"
    )
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        problem_from(app.state, psycopg.OperationalError(text), "Connect")
        app.action_help("explain")
        await pilot.pause()
        app.screen.query_one("#paste", TextArea).text = text
        await pilot.click("#explain-now")
        await pilot.pause()
        answer = " ".join(_text(app, "#answer").split())
        assert answer.startswith(
            "Probably: The server requires an encrypted (SSL) connection."
            " If not: The server does not allow this connection."
        )
        assert "sslmode=require" in answer.split("If not:")[1]  # the likely answer's fix ...
        assert "pg_hba.conf" in answer.split("If not:")[2]  # ... and the other's, after it
        assert "Not recognized" not in answer and "general checklist" not in answer
        latest = " ".join(_text(app, "#latest-text").split())
        assert "Probably: The server requires an encrypted (SSL) connection." in latest and "If not:" in latest


async def test_a_failed_connection_is_explained_on_screen_and_in_the_panel(
    make_app: AppFactory, db: TestDatabase
) -> None:
    missing = db.url.replace(f"/{db.name}", "/no_such_database_here")
    app = make_app(missing, start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        shown = _box(app)
        rule = rule_by_id("database-missing")
        assert rule.fix[0][:40] in shown.replace("\n", " ")
        problem = app.state.last_problem
        assert problem is not None and problem.diagnosis.id == "database-missing" and problem.step == "Connect"
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen.query_one(TabbedContent).active == "latest"
        latest = _text(app, "#latest-text")
        assert "On the Connect step" in latest and rule.cause[:40] in latest.replace("\n", " ")


async def test_the_panel_percent_encodes_the_password_and_connects(make_app: AppFactory, debian_pg: object) -> None:
    server = debian_pg
    raw = f"postgresql://postgres:{server.password}@{server.host}:{server.port}/postgres?sslmode=require"  # type: ignore[attr-defined]
    assert "@" in server.password  # type: ignore[attr-defined]
    app = make_app(raw, start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert app.state.conn is None and "percent-encoded" in _box(app)
        await pilot.press("f1")
        await pilot.pause()
        button = app.screen.query_one("#do-percent_encode_password")
        await pilot.click(f"#{button.id}")
        await settle(app, pilot)
        assert isinstance(app.screen, ConnectScreen)
        assert app.state.conn is not None, _text(app, "#result")
        assert "%40" in app.screen.query_one("#url", Input).value
        assert not app.screen.query_one(ProblemBox).has_class("-shown")


async def test_the_problem_box_button_adds_sslmode_for_a_tls_only_server(
    make_app: AppFactory, debian_pg: object
) -> None:
    url = debian_pg.url("postgres", sslmode="disable")  # type: ignore[attr-defined]
    app = make_app(url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert app.state.conn is None
        problem = app.state.last_problem
        assert problem is not None and problem.action == "add_sslmode_require"
        await pilot.click("#problem-action")
        await settle(app, pilot)
        assert app.state.conn is not None
        assert app.screen.query_one("#url", Input).value.endswith("sslmode=require")


async def test_a_busy_table_fails_the_migration_and_retry_succeeds_once_free(
    make_app: AppFactory, db: TestDatabase
) -> None:
    app = make_app(db.url, start="connect")
    app.state.practice = False
    app.state.lock_timeout_ms, app.state.max_wait = 200, 1.0
    holder = psycopg.connect(db.url)
    holder.execute("LOCK TABLE attachments IN ACCESS SHARE MODE")  # like a long report query
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("ctrl+t")
            await settle(app, pilot)
            app.go("migrate")
            await settle(app, pilot)
            assert isinstance(app.screen, MigrateScreen)
            problem = app.state.last_problem
            assert problem is not None and problem.diagnosis.id == "lock-timeout", problem
            assert "held by" in problem.what and "Retry when the lock is free" in str(
                app.screen.query_one("#problem-action").render()
            )
            holder.rollback()  # the report query ends
            await pilot.click("#problem-action")
            await settle(app, pilot)
            assert isinstance(app.screen, MigrateScreen) and app.screen.phase == "done"
            assert db.scalar("SELECT to_regclass('public.image_analyses') IS NOT NULL")
    finally:
        holder.close()


async def test_a_lost_connection_on_the_checks_step_is_explained(make_app: AppFactory, db: TestDatabase) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert app.state.conn is not None
        with psycopg.connect(db.url, autocommit=True) as admin:
            pid = app.state.conn.info.backend_pid
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await pilot.click("#continue")
        await settle(app, pilot)
        assert isinstance(app.screen, PreflightScreen)
        problem = app.state.last_problem
        assert problem is not None and problem.step == "Check" and problem.diagnosis.matched, problem
        assert problem.fix[0] in _box(app).replace("\n", " ") or problem.fix[0][:30] in _box(app)
