"""`migration-wizard doctor [TEXT] [--json]`: pasted text or stdin, text or JSON, exit 0 when the
error is recognized (surely, or probably with the other answer too) and 1 when not, passwords
never echoed, and no UI imported."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time

import pytest

from tests.cli_runner import ROOT, Result, run
from wizard.cli import main

WRONG_PASSWORD = (
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
    'FATAL:  password authentication failed for user "app"'
)
UNKNOWN = "the flux capacitor refused to engage"
# Amazon RDS requires TLS: the refused plain connection probably lacks it (else: not allowed at all).
NO_HBA_PLAIN = (
    'connection failed: connection to server at "shop.c1x2y3z4w5.us-east-1.rds.amazonaws.com" (10.0.12.44),'
    ' port 5432 failed: FATAL:  no pg_hba.conf entry for host "203.0.113.7", user "app", database "appdb",'
    " no encryption"
)


def _run_with_stdin(stdin_text: str, *args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin_text)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["doctor", *args])
    finally:
        sys.stdin = saved
    return Result(code, out.getvalue(), err.getvalue())


def test_pasted_text_gets_the_title_cause_and_numbered_steps() -> None:
    result = run("doctor", WRONG_PASSWORD, env={"DATABASE_URL": None})
    assert result.code == 0, result.text
    assert result.out.startswith("The server refused the user name or password.")
    assert "Cause: The password is wrong, or the user name is wrong" in result.out
    assert "What to do:" in result.out and "  1. " in result.out and "  2. " in result.out
    assert "password authentication failed" in result.out  # the message it understood


def test_an_action_the_wizard_can_take_is_named() -> None:
    result = run("doctor", 'connection failed: connection to server at "10.0.0.1", port 5432 failed: FATAL:  '
                 "unsupported startup parameter: options")  # fmt: skip
    assert result.code == 0
    assert "The wizard can do this for you: switch to the direct host (without -pooler)." in result.out


def test_stdin_is_read_when_no_text_is_given_or_text_is_a_dash() -> None:
    for args in ((), ("-",)):
        result = _run_with_stdin(f"psql: error: {WRONG_PASSWORD}\n", *args)
        assert result.code == 0 and "refused the user name or password" in result.out


def test_a_real_pipe_answers_well_under_a_second() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "wizard", "doctor", "--json"],
        input="pg_dump: error: aborting because of server version mismatch\n"
        "pg_dump: detail: server version: 18.1; pg_dump version: 16.4\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "version-mismatch"
    assert took < 2.5, f"doctor took {took:.2f} s (the interpreter's own start included)"


def test_json_has_exactly_the_documented_shape() -> None:
    known = run("doctor", "--json", WRONG_PASSWORD)
    data = json.loads(known.out)
    assert known.code == 0
    assert set(data) == {"matched", "id", "title", "cause", "fix", "confidence", "alternatives"}
    assert data["matched"] is True and data["id"] == "password-failed"
    assert data["confidence"] == "high" and data["alternatives"] == []
    assert isinstance(data["title"], str) and isinstance(data["cause"], str)
    assert isinstance(data["fix"], list) and all(isinstance(step, str) for step in data["fix"]) and data["fix"]
    unknown = run("doctor", "--json", UNKNOWN)
    data = json.loads(unknown.out)
    assert unknown.code == 1
    assert data["matched"] is False and data["id"] is None and "unknown" in data["title"]
    assert UNKNOWN in data["cause"] and len(data["fix"]) >= 3
    assert data["confidence"] == "low" and data["alternatives"] == []


def test_a_message_with_two_likely_causes_gives_both_in_json_and_exits_0() -> None:
    result = run("doctor", "--json", NO_HBA_PLAIN)
    data = json.loads(result.out)
    assert result.code == 0  # recognized: probably the one, if not the other
    assert data["matched"] is False and data["confidence"] == "medium"
    assert data["id"] == "ssl-required" and "sslmode=require" in " ".join(data["fix"])
    assert [alt["id"] for alt in data["alternatives"]] == ["no-pg-hba"]
    assert all(set(alt) == {"id", "title", "cause", "fix"} and alt["fix"] for alt in data["alternatives"])


def test_a_message_with_two_likely_causes_says_probably_and_if_not_with_both_fixes() -> None:
    result = run("doctor", NO_HBA_PLAIN)
    assert result.code == 0, result.text
    first = result.out.splitlines()[0]
    assert first == (
        "Probably: The server requires an encrypted (SSL) connection."
        " If not: The server does not allow this connection."
    )
    assert "Probably: The server requires an encrypted (SSL) connection.  [ssl-required]" in result.out
    assert "If not: The server does not allow this connection.  [no-pg-hba]" in result.out
    assert result.out.count("What to do:") == 2 and "pg_hba.conf" in result.out.split("If not:")[2]


def test_unknown_text_says_so_and_exits_1() -> None:
    result = run("doctor", UNKNOWN)
    assert result.code == 1
    assert "Unknown error: the wizard does not recognize this message" in result.out
    assert UNKNOWN in result.out and "What to check:" in result.out


def test_no_text_is_bad_input() -> None:
    assert _run_with_stdin("  \n").code == 3
    assert run("doctor", "").code == 3


def test_a_sqlstate_given_by_hand_recognizes_a_translated_message() -> None:
    # A wording no catalog has (a driver's own, say): recognized only by the SQLSTATE given with it.
    unseen = "FEHLER:  Tabelle »bilder« gibt es hier nicht"
    assert run("doctor", unseen).code == 1
    result = run("doctor", "--sqlstate", "42P01", unseen)
    assert result.code == 0 and "[undefined-table]" in result.out
    # The server's own German wording is in the pinned catalogs: recognized without it.
    german = "FEHLER:  Relation »bilder« existiert nicht"
    assert "[undefined-table]" in run("doctor", german).out
    login = "FATAL:  Passwort-Authentifizierung für Benutzer »app« fehlgeschlagen"  # a login failure: known
    assert "refused the user name or password" in run("doctor", login).out


def test_a_message_starting_with_a_dash_goes_after_double_dash() -> None:
    text = "- host: 'db.example.com', port: '5432', hostaddr: '10.0.0.1': connection failed: Connection refused"
    assert run("doctor", "--", text).code == 0


@pytest.mark.parametrize("as_json", [False, True])
def test_passwords_in_the_text_are_never_echoed(as_json: bool) -> None:
    pasted = (
        "$ PGPASSWORD=pgpass-s3cret pg_dump 'postgresql://app:Url-S3cret@db.example.com/app'\n"
        f"odd: password=kv-s3cret {UNKNOWN}\n"
        "failed to resolve host 'pw-t4il@ep-a-b-123456.aws.neon.tech': [Errno -2] Name or service not known"
    )
    for text in (pasted, pasted.splitlines()[1], "weird failure for postgresql://app:Url-S3cret@host/db"):
        result = run("doctor", *(("--json",) if as_json else ()), text)
        for secret in ("pgpass-s3cret", "Url-S3cret", "kv-s3cret", "pw-t4il"):
            assert secret not in result.text, result.text


def test_doctor_needs_no_database_and_no_ui() -> None:
    code = "import wizard.cli.doctor_command, sys; print('textual' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"
    result = run("doctor", WRONG_PASSWORD, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.code == 0  # the URL is not used at all
