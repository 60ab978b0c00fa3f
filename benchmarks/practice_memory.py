"""Peak memory of the wizard's own process during a practice migration (target: under 120 MB).

A fresh child process runs the Textual app headless on the practice database: connect,
migrate, verify. It prints its peak resident memory (the embedded PostgreSQL server is
a separate process and is not counted), next to that of importing textual + psycopg alone.
The practice database is reset before and after.
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import asyncio, resource, sys
from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState

async def main() -> None:
    app = WizardApp(FlowState(practice=True), start="connect")
    async with app.run_test(size=(100, 32)) as pilot:
        async def settle() -> None:
            for _ in range(6):
                await app.workers.wait_for_complete()
                await pilot.pause()
        await pilot.press("ctrl+t")
        await settle()
        app.go("migrate")
        await settle()
        app.go("verify")
        await settle()
        assert app.state.verify is not None and app.state.verify.ok, "the practice migration did not verify"

asyncio.run(main())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024)
"""

BASELINE = "import resource, textual.app, psycopg; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"


def run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def reset() -> None:
    subprocess.run([sys.executable, "-m", "wizard", "practice", "--reset"], capture_output=True, check=True)


if __name__ == "__main__":
    print(f"textual + psycopg import alone: peak {run(BASELINE):.1f} MB")
    reset()
    try:
        print(f"practice migration in the wizard (connect, migrate, verify): peak {run(CHILD):.1f} MB")
    finally:
        reset()
