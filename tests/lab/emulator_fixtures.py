"""Pytest fixtures around the package's apiserver emulator.

Use from a test module with `pytest_plugins = ("tests.lab.emulator_fixtures",)` (or list it in the
root conftest's `pytest_plugins`). `emulator(scenario, **overrides)` starts an emulator that is
stopped when the test ends, whatever happened. `Emulator.client_ssl_context()` gives a client
context that trusts the cluster CA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kdoctor.emulator import Emulator

EmulatorFactory = Callable[..., Emulator]


@pytest.fixture
def emulator() -> Iterator[EmulatorFactory]:
    """A factory: `emulator("unknown-ca", identity="a")` → a started Emulator, stopped after the test."""
    started: list[Emulator] = []

    def start(scenario: str = "healthy", **overrides: Any) -> Emulator:
        instance = Emulator(scenario, **overrides)
        started.append(instance)
        return instance.start()

    yield start
    for instance in reversed(started):
        instance.stop()


@pytest.fixture
def healthy_emulator(emulator: EmulatorFactory) -> Emulator:
    """A started healthy emulator."""
    return emulator("healthy")
