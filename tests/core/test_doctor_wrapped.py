"""Messages as a terminal shows them: Windows PowerShell (5.1) wraps a program's first line on
stderr at the console's width inside its error record, and shows the other lines of a libpq
message of several lines apart from it; a Windows console may show UTF-8 in its own code page."""

from __future__ import annotations

from wizard.core.doctor import diagnose
from wizard.core.message_text import repair_misdecoded, unwrap_native_error

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


def test_a_line_a_windows_console_misread_is_read_as_utf8_again() -> None:
    # UTF-8 shown as cp850 (the Spanish server's words) and as cp1252 (PowerShell's German)
    spanish = "ERROR:  llave duplicada viola restricción de unicidad «clientes_email_key»"
    assert repair_misdecoded(spanish.encode().decode("cp850")) == spanish
    assert diagnose(spanish.encode().decode("cp850")).id == "unique-violation"
    german = 'Die Benennung "psql" wurde nicht als Name eines ausführbaren Programms erkannt.'
    assert repair_misdecoded(german.encode().decode("cp1252")) == german
    for text in (spanish, german, "ОШИБКА:  отношение «x» не существует", "plain words"):
        assert repair_misdecoded(text) == text  # real text in any language is left alone


def test_powershells_record_of_a_command_it_cannot_find_is_the_missing_tool_in_any_language() -> None:
    record = """\
psql : Die Benennung "psql" wurde nicht als Name eines Cmdlet erkannt.
In Zeile:1 Zeichen:1
+ psql "postgresql://app@db.example.org/shop"
+ ~~~~
    + CategoryInfo          : ObjectNotFound: (psql:String) [], CommandNotFoundException
    + FullyQualifiedErrorId : CommandNotFoundException
"""
    assert diagnose(record).id == "tool-missing"


def test_a_url_wrapped_inside_a_value_is_the_line_break_not_the_value() -> None:
    assert diagnose('psql: error: invalid sslmode value: "require\n"').id == "url-has-spaces"
    assert diagnose('psql: error: invalid sslmode value: "requre"').id == "sslmode-invalid"
