"""A dump read as a stream: statements line by line, COPY rows in blocks up to their end line,
whatever the size of the pieces the file arrives in."""

from __future__ import annotations

import io

import pytest

from wizard.core import sqlstream
from wizard.core.sqlstream import SqlStream

DUMP = (
    b"SET x = 1;\n"
    b"COPY public.t (a, b) FROM stdin;\n"
    b"1\tone\n"
    b"\n"  # a row of one empty column
    b"2\tback\\\\.slash\n"  # an escaped backslash before a dot: data, not the end line
    b"\\.\n"
    b"\n"
    b"COPY public.empty (a) FROM stdin;\n"
    b"\\.\n"
    b"SELECT 1;\n"
    b"COPY public.last (a) FROM stdin;\n"
    b"9\n"
    b"\\."  # the end line without its newline, at the very end of the file
)


def _walk(stream: SqlStream) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    while line := stream.readline():
        found.append(("sql", line))
        if line.startswith(b"COPY "):
            found.append(("rows", b"".join(stream.copy_data())))
    return found


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_statements_and_rows_come_out_the_same_whatever_the_chunk_size(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlstream, "CHUNK", chunk)
    stream = SqlStream(io.BufferedReader(io.BytesIO(DUMP)))  # type: ignore[arg-type]
    walked = _walk(stream)
    stream.close()
    assert walked == [
        ("sql", b"SET x = 1;\n"),
        ("sql", b"COPY public.t (a, b) FROM stdin;\n"),
        ("rows", b"1\tone\n\n2\tback\\\\.slash\n"),
        ("sql", b"\n"),
        ("sql", b"COPY public.empty (a) FROM stdin;\n"),
        ("rows", b""),
        ("sql", b"SELECT 1;\n"),
        ("sql", b"COPY public.last (a) FROM stdin;\n"),
        ("rows", b"9\n"),
    ]


def test_a_tool_that_failed_is_raised_when_the_stream_runs_out() -> None:
    def finish() -> None:
        raise RuntimeError("pg_restore failed")

    stream = SqlStream(io.BufferedReader(io.BytesIO(b"SELECT 1;\n")), finish)  # type: ignore[arg-type]
    assert stream.readline() == b"SELECT 1;\n"
    with pytest.raises(RuntimeError, match="pg_restore failed"):
        stream.readline()
    stream.close()


def test_rows_go_out_in_large_blocks_not_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = b"".join(b"%d\tsome text\n" % n for n in range(100_000))
    stream = SqlStream(io.BufferedReader(io.BytesIO(b"COPY t FROM stdin;\n" + rows + b"\\.\n")))  # type: ignore[arg-type]
    assert stream.readline() == b"COPY t FROM stdin;\n"
    blocks = list(stream.copy_data())
    stream.close()
    assert b"".join(blocks) == rows and len(blocks) < 10
