"""Installs the loopback-only network guard in test subprocesses (see netguard.py)."""

import netguard

netguard.install()
