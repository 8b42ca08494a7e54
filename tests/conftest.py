"""Session-wide test set-up: the tests reach loopback only (tests/lab/netguard)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

NETGUARD = Path(__file__).parent / "lab" / "netguard"
sys.path.insert(0, str(NETGUARD))

import netguard  # noqa: E402

netguard.install()

# The apiserver emulator fixture (`emulator(scenario, **overrides)`) for every test module.
pytest_plugins = ("tests.lab.emulator_fixtures",)

# Python subprocesses that inherit this environment get the guard too (sitecustomize.py).
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(NETGUARD), os.environ.get("PYTHONPATH", "")) if p)
