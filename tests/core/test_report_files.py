"""Session reports are new files, one per run, even for runs that end in the same second."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wizard.core import paths
from wizard.core.connection import parse_url
from wizard.core.report import SessionReport


def test_runs_ending_in_the_same_second_each_get_their_own_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "reports_dir", lambda: tmp_path)
    target = parse_url("postgresql://app:Sekr3t@db.internal/shop")
    second = datetime(2026, 12, 1, 11, 14, 46, tzinfo=UTC)
    reports = [SessionReport("migrate", target, "16.4", started_at=second, outcome=f"run {n}") for n in range(12)]
    written: list[Path] = []
    start = threading.Barrier(len(reports))

    def write(report: SessionReport) -> None:
        start.wait()
        written.append(report.write())

    threads = [threading.Thread(target=write, args=(report,)) for report in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(written)) == len(reports) == len(list(tmp_path.iterdir()))
    assert {path.name for path in written} >= {"20261201T111446Z-migrate-shop.md", "20261201T111446Z-migrate-shop-2.md"}
    outcomes = {path.read_text(encoding="utf-8").split("run ")[-1].split()[0] for path in written}
    assert outcomes == {str(n) for n in range(12)}  # no report overwrote another
    assert "Sekr3t" not in "".join(path.read_text(encoding="utf-8") for path in written)
