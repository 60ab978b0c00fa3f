"""Time from process start to the wizard's first interactive screen (target: under 0.4 s).

Each run is a fresh `python` process; the parent notes the time just before starting it
and the child prints the wall-clock time at which the Welcome screen is ready. Prints
the median and the spread over N runs, and the time to import textual + psycopg alone
for comparison.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

RUNS = 10

CHILD = """
import sys, time
from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState

class Timed(WizardApp):
    def on_ready(self) -> None:
        print(time.time(), flush=True)
        self.exit()

Timed(FlowState(practice=True)).run(headless=True)
"""

BASELINE = "import time, textual.app, psycopg; print(time.time())"


# An installed wizard has its bytecode compiled (pip does it); without this, a checkout run with
# PYTHONDONTWRITEBYTECODE would compile every module of the wizard on every start.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(code: str) -> float:
    started = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=ENV).stdout
    return float(out.strip().splitlines()[-1]) - started


def report(label: str, code: str) -> None:
    measure(code)  # a warm-up run, not counted: it writes the bytecode caches
    times = sorted(measure(code) for _ in range(RUNS))
    print(
        f"{label}: median {statistics.median(times):.3f} s, min {times[0]:.3f} s, max {times[-1]:.3f} s ({RUNS} runs)"
    )


if __name__ == "__main__":
    report("textual + psycopg import alone", BASELINE)
    report("process start to the Welcome screen", CHILD)
