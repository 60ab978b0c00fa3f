"""`--web` without a browser: its command line, what each tab runs, and the redacted log."""

from __future__ import annotations

import argparse
import io
import logging
import socket
from pathlib import Path

from tests.cli_runner import run
from wizard.cli.parser import DEFAULT_WEB_PORT, build_parser, check_web
from wizard.cli.web_command import RedactingStream, tab_command
from wizard.core.defaults import DEFAULT_CONNECT_TIMEOUT


def _args(*words: str) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(list(words))
    check_web(parser, args)
    return args


def test_web_takes_a_target_and_a_port_but_no_command() -> None:
    assert _args("--web").port == DEFAULT_WEB_PORT
    assert _args("--practice", "--web", "--port", "9123").port == 9123
    for words, said in (
        (("--port", "9123"), "--port goes with --web"),
        (("--web", "status"), "it takes no command"),
        (("--web", "--port", "70000"), "1 to 65535"),
    ):
        result = run(*words)
        assert result.code == 2 and said in result.err, result.err


def test_each_tab_runs_the_guided_wizard_on_the_same_target_without_the_url(tmp_path: Path) -> None:
    url = "postgresql://app:S3cret-Pw_42x@db.example.com/shop"
    practice = tab_command(_args("--practice", "--web"))
    assert practice.endswith(f"-m wizard --practice --connect-timeout {float(DEFAULT_CONNECT_TIMEOUT)!r}")
    command = tab_command(_args("--database-url", url, "--migrations-dir", str(tmp_path), "--web"))
    assert "S3cret" not in command and "example.com" not in command
    assert f"--migrations-dir {tmp_path}" in command


def test_an_unknown_profile_stops_before_serving() -> None:
    result = run("--profile", "nope", "--web", "--port", "9")
    assert result.code == 3 and "no saved connection named 'nope'" in result.err


def test_the_server_log_masks_a_password_even_when_written_in_pieces() -> None:
    out = io.StringIO()
    stream = RedactingStream(out, ("S3cret-Pw_42x",))
    stream.write("tab said: connecting with S3cr")
    stream.write("et-Pw_42x now\nand a URL postgresql://app:other-pass@h/db ")
    stream.flush()
    assert out.getvalue() == "tab said: connecting with **** now\nand a URL postgresql://app:****@h/db "
    # textual-serve's and aiohttp's loggers write through it too.
    handler = logging.StreamHandler(RedactingStream(out, ()))
    logger = logging.getLogger("tests.web.redacted")
    logger.addHandler(handler)
    try:
        logger.warning('127.0.0.1 "GET /?u=postgresql://app:S3cret-Pw_42x@h/db HTTP/1.1" 200')
    finally:
        logger.removeHandler(handler)
    assert "S3cret" not in out.getvalue() and "postgresql://app:****@h/db" in out.getvalue()


def test_a_port_in_use_is_said_with_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--practice", "--web", "--port", str(port))
    assert result.code == 3, result.text
    assert f"Port {port} on 127.0.0.1 is already in use" in result.err and "--port" in result.err
