"""kdoctor.probes.resolve and kdoctor.probes.tcp against loopback: literals, localhost, and real
refused / timed-out / accepted connects."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from kdoctor.probes.resolve import is_ip_literal, resolve_host
from kdoctor.probes.tcp import classify_os_error, connect_once


def test_ip_literals_need_no_lookup() -> None:
    v4 = asyncio.run(resolve_host("127.0.0.1", 6443, 1.0))
    assert v4.ip_literal and v4.ok and v4.addresses == ("127.0.0.1",)
    assert v4.duration_ms is None
    v6 = asyncio.run(resolve_host("0:0::1", 6443, 1.0))
    assert v6.addresses == ("::1",)
    assert is_ip_literal("::1") and not is_ip_literal("localhost")


def test_localhost_resolves_through_the_system_resolver() -> None:
    result = asyncio.run(resolve_host("localhost", 6443, 2.0))
    assert not result.ip_literal
    assert result.ok, result.error
    assert set(result.addresses) & {"127.0.0.1", "::1"}
    assert len(result.addresses) == len(set(result.addresses))
    assert result.duration_ms is not None and result.duration_ms >= 0


@contextmanager
def listening(backlog: int = 8) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    try:
        yield sock
    finally:
        sock.close()


def test_connect_to_a_listener_succeeds() -> None:
    with listening() as sock:
        port = sock.getsockname()[1]
        attempt = asyncio.run(connect_once("127.0.0.1", port, 2.0))
    assert attempt.outcome == "connected"
    assert attempt.error is None


def test_connect_to_a_closed_port_is_refused() -> None:
    with listening() as sock:
        port = sock.getsockname()[1]
    attempt = asyncio.run(connect_once("127.0.0.1", port, 2.0))
    assert attempt.outcome == "refused"


def test_connect_that_gets_no_answer_times_out_in_time() -> None:
    # A listener whose accept queue is full drops new SYNs: the kernel's stand-in for a firewall.
    with listening(backlog=0) as sock:
        port = sock.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.1)
        started = time.monotonic()
        attempt = asyncio.run(connect_once("127.0.0.1", port, 0.5))
        elapsed = time.monotonic() - started
        for filler in fillers:
            filler.close()
    assert attempt.outcome == "timeout"
    assert elapsed < 1.5


def test_os_errors_are_told_apart() -> None:
    assert classify_os_error(ConnectionRefusedError(errno.ECONNREFUSED, "refused")) == "refused"
    assert classify_os_error(OSError(errno.ENETUNREACH, "Network is unreachable")) == "unreachable"
    assert classify_os_error(OSError(errno.EHOSTUNREACH, "No route to host")) == "unreachable"
    assert classify_os_error(OSError(errno.ETIMEDOUT, "timed out")) == "timeout"
    assert classify_os_error(asyncio.TimeoutError()) == "timeout"
    assert classify_os_error(ConnectionResetError(errno.ECONNRESET, "reset")) == "reset"
    assert classify_os_error(OSError(errno.EACCES, "denied")) == "error"


def test_resolver_errors_are_classified() -> None:
    from kdoctor.probes.resolve import _classify_gaierror

    assert _classify_gaierror(socket.gaierror(socket.EAI_NONAME, "Name or service not known")) == (
        "no-such-host",
        "no such host",
    )
    kind, text = _classify_gaierror(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    assert kind == "temporary-failure" and "temporary failure" in text
    assert _classify_gaierror(socket.gaierror(socket.EAI_FAIL, "Non-recoverable failure")) == (
        "error",
        "Non-recoverable failure",
    )
