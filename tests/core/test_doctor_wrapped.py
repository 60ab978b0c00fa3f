"""Messages as a terminal shows them: Windows PowerShell (5.1) wraps a program's first line on
stderr at the console's width inside its error record, and shows the other lines of a libpq
message of several lines apart from it."""

from __future__ import annotations

from wizard.core.doctor import diagnose
from wizard.core.message_text import unwrap_native_error

# psql's password failure as PowerShell 5.1 shows it in an 80-column console: the words the
# rule reads ("password authentication failed for user") are cut by the wrap.
WRAPPED = """\
pg_dump.exe : pg_dump: error: connection to server at "ep-cool-1.us-east-2.aws.neon.tech"
(3.1.2.3), port 5432 failed: FATAL:  password authentication failed for
user "neondb_owner"
At line:1 char:1
+ pg_dump $env:DATABASE_URL -Fc -f backup.dump
+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    + CategoryInfo          : NotSpecified: (pg_dump: error:...r "neondb_owner":String) [], RemoteException
    + FullyQualifiedErrorId : NativeCommandError
"""


def test_a_wrapped_error_record_is_one_line_again() -> None:
    lines = unwrap_native_error(WRAPPED).splitlines()
    assert lines[0] == (
        'pg_dump.exe : pg_dump: error: connection to server at "ep-cool-1.us-east-2.aws.neon.tech" (3.1.2.3),'
        ' port 5432 failed: FATAL:  password authentication failed for user "neondb_owner"'
    )
    assert lines[1] == "At line:1 char:1" and lines[-1].strip().endswith("NativeCommandError")


def test_a_wrapped_error_record_gets_its_messages_answer() -> None:
    found = diagnose(WRAPPED)
    assert (found.id, found.confidence) == ("password-failed", "high")


def test_the_position_line_in_another_language_ends_the_record_too() -> None:
    german = WRAPPED.replace("At line:1 char:1", "In Zeile:1 Zeichen:1")
    assert unwrap_native_error(german).splitlines()[1] == "In Zeile:1 Zeichen:1"
    assert diagnose(german).id == "password-failed"


def test_text_without_powershells_record_is_left_as_it_is() -> None:
    plain = WRAPPED.split("At line")[0]  # no "+ CategoryInfo": line breaks may be the program's own
    assert unwrap_native_error(plain) == plain
    no_position = WRAPPED.replace("At line:1 char:1\n", "")
    assert unwrap_native_error(no_position) == no_position


def test_the_first_line_of_a_translated_libpq_message_of_several_lines_is_enough() -> None:
    # PowerShell shows "server closed the connection unexpectedly" in its record and the two
    # explaining lines apart, indented; a log may keep only the first line.
    for first_line in (
        "o servidor fechou a conexão de forma não esperada",
        "Server beendete die Verbindung unerwartet",
        "сервер неожиданно закрыл соединение",
    ):
        text = f'psql: error: connection to server at "db.example.org" (10.1.2.3), port 5432 failed: {first_line}'
        assert diagnose(text).id == "connection-dropped", first_line
