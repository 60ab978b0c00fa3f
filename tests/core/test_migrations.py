"""Migration files: found, checksummed and split by PostgreSQL's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from wizard.core.errors import InputError
from wizard.core.migrations import checksum, load_migrations, split_sql


def test_the_shipped_migrations_are_the_baseline_and_phase_2() -> None:
    migrations = load_migrations()
    assert [m.label for m in migrations] == ["001_baseline", "002_phase2_vision_api"]
    assert migrations[0].baseline and not migrations[1].baseline
    assert len(migrations[1].statements) == 14 and migrations[1].down_path is not None
    keys = migrations[1].expectations.object_keys()
    assert "table:image_analyses" in keys and "index:idx_attachments_storage_key" in keys


def test_baseline_attachments_has_exactly_the_eight_columns_and_twelve_tables() -> None:
    baseline = load_migrations()[0]
    tables = [s for s in baseline.statements if s.kind == "CreateStmt"]
    assert len(tables) == 12
    attachments = next(s for s in tables if s.node.relation.relname == "attachments")
    columns = [e.colname for e in attachments.node.tableElts if type(e).__name__ == "ColumnDef"]
    assert columns == [
        "id",
        "conversation_id",
        "message_id",
        "filename",
        "mime_type",
        "size",
        "url",
        "uploaded_at",
    ]
    assert "idx_attachments_conversation_id" not in baseline.sql


def test_split_keeps_line_numbers_and_handles_semicolons_in_strings_and_dollar_quotes() -> None:
    text = "-- header\nCREATE TABLE a (x int);\n\nCOMMENT ON TABLE a IS 'one; two';\nDO $$ BEGIN PERFORM 1; END $$;\n"
    statements, dropped = split_sql(text)
    assert [(s.index, s.line, s.kind) for s in statements] == [
        (1, 2, "CreateStmt"),
        (2, 4, "CommentStmt"),
        (3, 5, "DoStmt"),
    ]
    assert statements[1].sql == "COMMENT ON TABLE a IS 'one; two'" and dropped == 0


def test_begin_and_commit_in_a_file_are_left_out() -> None:
    statements, dropped = split_sql("BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\n")
    assert [s.kind for s in statements] == ["CreateStmt"] and dropped == 2


def test_a_syntax_error_names_the_file_and_line() -> None:
    with pytest.raises(InputError, match=r"broken\.sql has a syntax error near line 3"):
        split_sql("SELECT 1;\n\nCREATE TABLEE x ();\n", "broken.sql")


def test_checksum_ignores_windows_line_endings_only() -> None:
    assert checksum("a\nb\n") == checksum("a\r\nb\r\n")
    assert checksum("a\nb\n") != checksum("a\nc\n")


def test_a_missing_or_empty_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_migrations(tmp_path / "nope")
    with pytest.raises(InputError, match="holds no migration files"):
        load_migrations(tmp_path)


def test_a_migration_without_expectations_is_refused(tmp_path: Path) -> None:
    (tmp_path / "003_more.sql").write_text("SELECT 1;")
    with pytest.raises(InputError, match=r"003_more\.toml is missing"):
        load_migrations(tmp_path)
