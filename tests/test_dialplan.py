"""Several addresses for one name (kdoctor.dialplan): Go's dialing order as a table, and the survey against
real listeners on loopback."""

from __future__ import annotations

import asyncio
import socket

import pytest

from kdoctor.dialplan import DialPlan, describe_dial, go_dial_plan
from kdoctor.probes.addresses import survey_addresses


@pytest.mark.parametrize(
    ("addresses", "primaries", "fallbacks"),
    [
        (["::1", "127.0.0.1"], ("::1",), ("127.0.0.1",)),
        (["127.0.0.1", "::1"], ("127.0.0.1",), ("::1",)),
        (["10.0.0.1", "10.0.0.2", "2001:db8::1"], ("10.0.0.1", "10.0.0.2"), ("2001:db8::1",)),
        (["fe80::1%eth0", "10.0.0.1"], ("fe80::1%eth0",), ("10.0.0.1",)),
        ([], (), ()),
    ],
)
def test_go_dial_plan(addresses: list[str], primaries: tuple[str, ...], fallbacks: tuple[str, ...]) -> None:
    assert go_dial_plan(addresses) == DialPlan(primaries, fallbacks)


def test_describe_dial() -> None:
    plan = go_dial_plan(["::1", "127.0.0.1"])
    words = describe_dial("localhost", plan, {"::1": "refused", "127.0.0.1": "connected"})
    assert words == (
        "localhost has 2 addresses; Go's dialer tries ::1 refused, racing 127.0.0.1 connected from 300 ms on "
        "(happy eyeballs, RFC 6555); kubectl connects to 127.0.0.1"
    )
    slow = describe_dial(
        "api", go_dial_plan(["10.0.0.1", "10.0.0.2"]), {"10.0.0.1": "timeout", "10.0.0.2": "connected"}
    )
    assert "tries 10.0.0.1 timeout, then 10.0.0.2 connected" in slow
    assert "only after 10.0.0.1 times out" in slow


def test_survey_tells_each_address_apart() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        attempts = asyncio.run(survey_addresses(["127.0.0.2", "127.0.0.1", "127.0.0.1"], port, 2.0))
    finally:
        listener.close()
    assert [(a.address, a.outcome) for a in attempts] == [
        ("127.0.0.2", "refused"),
        ("127.0.0.1", "connected"),
    ]
    plan = go_dial_plan([a.address for a in attempts])
    assert "kubectl connects to 127.0.0.1" in describe_dial(
        "name", plan, {a.address: a.outcome for a in attempts}
    )
