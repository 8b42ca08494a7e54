"""A kube-apiserver emulator shipped with kdoctor: real TLS and HTTP/1.1 on loopback, named faults.

`kdoctor demo` runs the doctor against it, and the tests use the same scenarios::

    from kdoctor.emulator import Emulator

    with Emulator("unknown-ca") as api:
        api.write_kubeconfig(path)        # trusts api.ca_pem, which did not sign the serving cert
        ...                               # api.requests: every request received, headers included

Importing this package is cheap; `cryptography` is imported when an emulator is created.
"""

from __future__ import annotations

from kdoctor.emulator.scenarios import (
    SCENARIOS,
    EmulatorConfig,
    NonResourceRule,
    Rule,
    Scenario,
    Service,
    ServicePort,
    UserInfo,
    list_scenarios,
)
from kdoctor.emulator.server import ConnectionRecord, Emulator, RequestRecord

__all__ = [
    "SCENARIOS",
    "ConnectionRecord",
    "Emulator",
    "EmulatorConfig",
    "NonResourceRule",
    "RequestRecord",
    "Rule",
    "Scenario",
    "Service",
    "ServicePort",
    "UserInfo",
    "list_scenarios",
]
