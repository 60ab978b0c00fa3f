"""Skips for tests that need a system package, which CI turns into failures.

`.ci/run` installs every package the suite needs and sets WIZARD_TESTS_STRICT=1, so a
missing package there is a broken CI set-up, not a reason to skip.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

STRICT_ENV = "WIZARD_TESTS_STRICT"


def skip_or_fail(reason: str) -> NoReturn:
    if os.environ.get(STRICT_ENV) == "1":
        pytest.fail(f"{reason} ({STRICT_ENV}=1 makes this a failure: .ci/run should have installed it)")
    pytest.skip(reason)
