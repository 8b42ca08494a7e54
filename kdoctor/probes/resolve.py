"""Name resolution of the host the client dials, through the system resolver, with a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kdoctor.keys import RESOLUTION
from kdoctor.probes.route import ROUTE

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = ["RESOLUTION", "Resolution", "is_ip_literal", "resolve_host"]

#: A resolver returning more than this is not telling us anything more.
_MAX_ADDRESSES = 16


@dataclass(frozen=True)
class Resolution:
    """What the system resolver answered for `host`."""

    host: str
    port: int
    ip_literal: bool
    addresses: tuple[str, ...] = ()  # in the resolver's order, duplicates removed
    #: None on success; else "no-such-host", "temporary-failure", "no-address", "timeout", "error"
    error_kind: str | None = None
    error: str | None = None
    duration_ms: float | None = None  # None when no lookup was made

    @property
    def ok(self) -> bool:
        return self.error_kind is None and bool(self.addresses)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def resolve_host(host: str, port: int, timeout: float) -> Resolution:
    """All A/AAAA answers for `host` (an IP literal is returned as is, without a lookup)."""
    if is_ip_literal(host):
        return Resolution(host, port, True, (str(ipaddress.ip_address(host)),))
    started = time.perf_counter()
    try:
        infos = await asyncio.wait_for(_getaddrinfo(host, port), timeout=timeout)
    except asyncio.TimeoutError:
        return Resolution(host, port, False, (), "timeout", f"no answer within {timeout:g}s", _ms(started))
    except socket.gaierror as exc:
        kind, text = _classify_gaierror(exc)
        return Resolution(host, port, False, (), kind, text, _ms(started))
    except (OSError, UnicodeError) as exc:
        return Resolution(host, port, False, (), "error", str(exc) or type(exc).__name__, _ms(started))
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        return Resolution(host, port, False, (), "no-address", "no A or AAAA records", _ms(started))
    return Resolution(host, port, False, tuple(addresses[:_MAX_ADDRESSES]), None, None, _ms(started))


def _getaddrinfo(host: str, port: int) -> asyncio.Future[list[Any]]:
    """getaddrinfo in a daemon thread of its own.

    A lookup the system resolver never answers (resolv.conf's timeout x attempts: 10 s by
    default) cannot be cancelled. In the loop's default executor it would hold the process at exit
    (asyncio.run joins that executor, Python joins its threads) long after --timeout gave the
    verdict; a daemon thread is simply abandoned.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[Any]] = loop.create_future()

    def deliver(outcome: Any, failed: bool) -> None:
        if future.done():
            return
        if failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def lookup() -> None:
        try:
            infos: Any = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
            failed = False
        except BaseException as exc:  # handed to the awaiting coroutine
            infos, failed = exc, True
        # The loop may be closed by the time a hung lookup returns: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, infos, failed)

    threading.Thread(target=lookup, name=f"kdoctor-getaddrinfo-{host[:40]}", daemon=True).start()
    return future


def _classify_gaierror(exc: socket.gaierror) -> tuple[str, str]:
    code = exc.args[0] if exc.args else None
    if code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return "no-such-host", "no such host"
    if code == socket.EAI_AGAIN:
        return "temporary-failure", "temporary failure in name resolution (resolver unreachable?)"
    return "error", str(exc.args[1]) if len(exc.args) > 1 else str(exc)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


async def _compute_resolution(ctx: Context) -> Resolution:
    route = await ctx.probe(ROUTE)
    return await resolve_host(route.dial.host, route.dial.port, ctx.timeout)


"""The addresses of the host the client dials: the server, or the proxy when one is in the path."""
