"""A TCP connect to the host the client dials, address by address, with the failure told apart.

With one address and no proxy, the API session's own connect is the answer (`_session_connect`): one
connection per target carries the TCP connect, TLS and every request. Otherwise a bare connect,
separate from the session's on purpose: httpx (anyio) races the addresses (happy eyeballs) and
reports only that "all connection attempts failed"; this probe says which address refused, which
timed out and which answered. It sends nothing and closes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kdoctor.keys import API_SESSION, TCP_CONNECT, VERSION
from kdoctor.probes.resolve import RESOLUTION
from kdoctor.probes.route import ROUTE, Route

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = ["TCP_CONNECT", "ConnectAttempt", "TcpConnect", "classify_os_error", "connect_once"]

#: Addresses tried in order before giving up (a resolver may answer many).
_MAX_ATTEMPTS = 4

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN, errno.EHOSTDOWN}


@dataclass(frozen=True)
class ConnectAttempt:
    """One TCP connect to one address."""

    address: str
    port: int
    #: "connected", "refused", "timeout", "unreachable", "reset" or "error"
    outcome: str
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class TcpConnect:
    """The attempts, in order, and the address that answered (if any)."""

    host: str
    port: int
    via_proxy: str | None  # the proxy URL when the connect went to a proxy
    attempts: tuple[ConnectAttempt, ...]
    #: "connected", an attempt outcome of the last attempt, or "no-address" (resolution failed)
    outcome: str
    duration_ms: float

    @property
    def connected_address(self) -> str | None:
        for attempt in self.attempts:
            if attempt.outcome == "connected":
                return attempt.address
        return None


def classify_os_error(exc: BaseException) -> str:
    """refused / unreachable / reset / timeout / error for a socket-level failure."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return "unreachable"
    if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT:
        return "timeout"
    return "error"


async def connect_once(address: str, port: int, timeout: float) -> ConnectAttempt:
    """Open and immediately close one TCP connection to `address`:`port`."""
    started = time.perf_counter()
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        outcome = classify_os_error(exc)
        text = f"no answer within {timeout:g}s" if outcome == "timeout" else (exc.strerror or str(exc))
        return ConnectAttempt(address, port, outcome, text, _ms(started))
    duration = _ms(started)
    writer.close()
    # The connect succeeded; how the close goes says nothing about reachability.
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout)
    return ConnectAttempt(address, port, "connected", None, duration)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


async def _compute_tcp(ctx: Context) -> TcpConnect:
    route = await ctx.probe(ROUTE)
    resolution = await ctx.probe(RESOLUTION)
    host, port = route.dial.host, route.dial.port
    started = time.perf_counter()
    if not resolution.ok:
        return TcpConnect(host, port, route.proxy_url, (), "no-address", 0.0)
    reused = await _session_connect(ctx, route, resolution.addresses)
    if reused is not None:
        return reused
    attempts: list[ConnectAttempt] = []
    # One --timeout for the whole probe, split over the addresses tried, like a dialer's deadline.
    deadline = time.monotonic() + ctx.timeout
    for address in resolution.addresses[:_MAX_ATTEMPTS]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        attempt = await connect_once(address, port, remaining)
        attempts.append(attempt)
        if attempt.outcome == "connected":
            break
    outcome = attempts[-1].outcome if attempts else "timeout"
    return TcpConnect(host, port, route.proxy_url, tuple(attempts), outcome, _ms(started))


async def _session_connect(ctx: Context, route: Route, addresses: Sequence[str]) -> TcpConnect | None:
    """The API session's own TCP connect, when it tells everything a bare connect would.

    With one address to try and no proxy, the connection that carries TLS and every request (it
    opens for GET /version) answers the same question: did `address:port` accept? Reading its
    connect saves a connection per target, and when it had no answer in time, a second --timeout. With several addresses (httpx races them and names none
    that failed), through a proxy, or when the session did not get as far as a TCP connection, the
    bare connects below say which address did what.
    """
    if route.proxied or len(addresses) != 1 or route.server.scheme != "https":
        return None
    session = await ctx.probe(API_SESSION)
    version = await ctx.probe(VERSION)
    if version.error_kind == "connect-timeout" and session.peer_address is None:
        # The session's one connect to the one address had no answer within --timeout: a bare
        # connect would wait as long again to say the same (packets dropped on the way).
        waited = version.timings.total or ctx.timeout * 1000
        attempt = ConnectAttempt(
            addresses[0], route.dial.port, "timeout", f"no answer within {ctx.timeout:g}s", waited
        )
        return TcpConnect(route.dial.host, route.dial.port, route.proxy_url, (attempt,), "timeout", waited)
    timings = session.connection_timings
    if timings is None or timings.connect is None or session.peer_address != addresses[0]:
        return None
    attempt = ConnectAttempt(addresses[0], route.dial.port, "connected", None, timings.connect)
    return TcpConnect(
        route.dial.host, route.dial.port, route.proxy_url, (attempt,), "connected", timings.connect
    )


"""A TCP connect to the server, or to the proxy when one is in the path (`via_proxy` says so)."""
