"""One dialer for every connection kdoctor opens to the apiserver, along the route kubectl takes.

`open_route` opens a byte stream to the apiserver's host and port the way client-go's transport
does for the proxy decision (`kdoctor.proxyrules`): directly; through an HTTP proxy's CONNECT tunnel,
over plain TCP for an `http://` proxy URL or over TLS to the proxy for an `https://` one (Go's
net/http `Transport.dialConn`); or through a SOCKS5 proxy (Go's `golang.org/x/net/internal/socks`,
which client-go uses for `socks5://` proxy URLs). The API session (through `RouteBackend`, an
httpcore network backend), the evidence-only TLS handshake and the load-balancer fingerprinting
handshakes all dial through it, so none of them can look at a path kubectl would not use.

When the proxy itself stops the connection (it never answers CONNECT, answers it with an error
status or 407, closes the connection, or does not speak TLS behind an `https://` URL) the dialer
raises `ProxyFailure`, whose `fault` names the proxy, what it did, kubectl's words for it and the
phase timings. A TCP connect that fails (to the server, or to the proxy) raises OSError or
TimeoutError as a plain connect would.
"""

from __future__ import annotations

import base64
import contextlib
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio
import anyio.abc
import httpcore
from anyio.streams.tls import TLSStream

from kdoctor.probes import Endpoint, parse_endpoint
from kdoctor.probes.route import ProxyFailure, ProxyFault

if TYPE_CHECKING:
    from kdoctor.probes.route import Route

__all__ = ["DialTrace", "ProxyFailure", "ProxyFault", "RouteBackend", "close_quietly", "open_route"]

_MAX_HEAD = 16 * 1024
_SOCKS_REPLIES = {
    # golang.org/x/net/internal/socks: Reply.String()
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


@dataclass
class DialTrace:
    """Per-phase milliseconds of one route: the TCP connect (to the proxy when proxied), the TLS
    handshake with an https:// proxy, and the tunnel set-up (CONNECT's answer, the SOCKS exchange)."""

    connect: float | None = None
    proxy_tls: float | None = None
    tunnel: float | None = None
    peer_address: str | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"connect": self.connect, "proxy_tls": self.proxy_tls, "tunnel": self.tunnel}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


async def open_route(
    target: Endpoint, route: Route, timeout: float, trace: DialTrace | None = None
) -> anyio.abc.ByteStream:
    """A byte stream to `target` along `route` (no TLS to the target: the caller starts it).

    Every phase (TCP connect, proxy TLS, tunnel answer) is bounded by `timeout`.
    """
    trace = trace if trace is not None else DialTrace()
    if route.proxy_url is None:
        return await _connect(target.host, target.port, timeout, trace)
    proxy = parse_endpoint(route.proxy_url)
    stream = await _connect(proxy.host, proxy.port, timeout, trace)
    try:
        if proxy.scheme in ("socks5", "socks5h"):
            await _socks5(stream, target, route, timeout, trace)
            return stream
        if proxy.scheme == "https":
            stream = await _proxy_tls(stream, proxy, route, timeout, trace)
        await _http_connect(stream, target, route, timeout, trace)
        return stream
    except BaseException:
        await close_quietly(stream)
        raise


async def _connect(host: str, port: int, timeout: float, trace: DialTrace) -> anyio.abc.ByteStream:
    started = time.perf_counter()
    with anyio.fail_after(timeout):
        stream: anyio.abc.ByteStream = await anyio.connect_tcp(host, port)
    trace.connect = _ms(started)
    address = stream.extra(anyio.abc.SocketAttribute.remote_address, None)
    if isinstance(address, tuple):
        trace.peer_address = str(address[0])
    return stream


async def close_quietly(stream: anyio.abc.AsyncResource) -> None:
    """Close `stream` within a second; a failing close says nothing about the route."""
    with (
        anyio.move_on_after(1, shield=True),
        contextlib.suppress(OSError, anyio.BrokenResourceError, ssl.SSLError),
    ):
        await stream.aclose()


def _fault(
    route: Route, kind: str, phase: str, what: str, kubectl: str, trace: DialTrace, **kw: Any
) -> ProxyFailure:
    return ProxyFailure(
        ProxyFault(
            kind,
            route.proxy_display or "?",
            route.proxy_source,
            phase,
            what,
            kubectl,
            phases_ms=trace.as_dict(),
            **kw,
        )
    )


async def _proxy_tls(
    stream: anyio.abc.ByteStream, proxy: Endpoint, route: Route, timeout: float, trace: DialTrace
) -> anyio.abc.ByteStream:
    context = proxy_tls_context(route)
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            wrapped = await TLSStream.wrap(
                stream,
                hostname=route.proxy_tls_server_name or proxy.host,
                ssl_context=context,
                standard_compatible=False,
            )
    except TimeoutError:
        trace.proxy_tls = _ms(started)
        raise _fault(
            route,
            "no-answer",
            "proxy-tls",
            f"accepted the connection but never answered the TLS handshake within {timeout:g}s: the URL says "
            "https://, but the proxy seems to speak plain HTTP (it waits for a request line)",
            "net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)",
            trace,
        ) from None
    except ssl.SSLCertVerificationError as exc:
        trace.proxy_tls = _ms(started)
        raise _fault(
            route,
            "tls-verify",
            "proxy-tls",
            f"presented a certificate that does not verify against "
            f"{'the cluster CA' if route.proxy_tls_ca_pem else 'the system roots'}: {exc.verify_message} "
            "(kubectl verifies an https:// proxy with the cluster's TLS settings)",
            f"proxyconnect tcp: tls: failed to verify certificate: {exc.verify_message}",
            trace,
        ) from None
    except (ssl.SSLError, anyio.EndOfStream, anyio.BrokenResourceError, OSError) as exc:
        trace.proxy_tls = _ms(started)
        closed = isinstance(
            exc, (anyio.EndOfStream, anyio.BrokenResourceError, ssl.SSLEOFError, ConnectionResetError)
        )
        if closed:
            raise _fault(
                route,
                "closed",
                "proxy-tls",
                f"{'reset' if isinstance(exc, ConnectionResetError) else 'closed'} the connection at the TLS "
                "handshake: the URL says https://, but the proxy does not speak TLS (a plain-HTTP proxy behind "
                "an https:// URL)",
                "proxyconnect tcp: read: connection reset by peer"
                if isinstance(exc, ConnectionResetError)
                else "proxyconnect tcp: EOF",
                trace,
            ) from None
        raise _fault(
            route,
            "not-tls",
            "proxy-tls",
            f"answered the TLS handshake with something that is not TLS ({_ssl_words(exc)}): the URL says "
            "https://, but the proxy speaks plain HTTP",
            "proxyconnect tcp: tls: first record does not look like a TLS handshake",
            trace,
        ) from None
    trace.proxy_tls = _ms(started)
    return wrapped


def proxy_tls_context(route: Route) -> ssl.SSLContext:
    """The context an https:// proxy is verified with: the cluster's roots and settings, as Go's transport
    uses the cluster's tls.Config for the proxy too (a kubeconfig CA replaces the system roots there)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if route.proxy_tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if route.proxy_tls_ca_pem:
        context.load_verify_locations(cadata=route.proxy_tls_ca_pem.decode("ascii", "replace"))
    else:
        context.load_default_certs()
    # Go trusts any certificate in the root pool as an anchor, intermediates included.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def _ssl_words(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc or type(exc).__name__)


def _proxy_authorization(proxy_url: str) -> str:
    """The Proxy-Authorization line for user:password in the proxy URL, as Go's transport sends it.

    It authenticates to the proxy, which sees it on every CONNECT anyway; none of the apiserver's
    credentials is involved.
    """
    parts = urlsplit(proxy_url)
    if parts.username is None:
        return ""
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return f"Proxy-Authorization: Basic {base64.b64encode(pair).decode('ascii')}\r\n"


async def _http_connect(
    stream: anyio.abc.ByteStream, target: Endpoint, route: Route, timeout: float, trace: DialTrace
) -> None:
    assert route.proxy_url is not None
    request = f"CONNECT {target.netloc} HTTP/1.1\r\nHost: {target.netloc}\r\n{_proxy_authorization(route.proxy_url)}\r\n"
    started = time.perf_counter()
    head = b""
    try:
        with anyio.fail_after(timeout):
            await stream.send(request.encode("ascii"))
            while b"\r\n\r\n" not in head and len(head) < _MAX_HEAD:
                head += await stream.receive(_MAX_HEAD - len(head))
    except TimeoutError:
        trace.tunnel = _ms(started)
        raise _fault(
            route,
            "no-answer",
            "connect",
            f"accepted the connection but never answered CONNECT {target.netloc} within {timeout:g}s"
            + (f" (it sent {len(head)} bytes of an unfinished answer)" if head else ""),
            "context deadline exceeded, or Client.Timeout exceeded while awaiting headers",
            trace,
        ) from None
    except (anyio.EndOfStream, anyio.BrokenResourceError, OSError, ssl.SSLError) as exc:
        trace.tunnel = _ms(started)
        reset = isinstance(exc, ConnectionResetError) or "reset" in str(exc).lower()
        raise _fault(
            route,
            "closed",
            "connect",
            f"{'reset' if reset else 'closed'} the connection instead of answering CONNECT {target.netloc}"
            + (f" (after {len(head)} bytes)" if head else ""),
            "read: connection reset by peer" if reset else "EOF",
            trace,
        ) from None
    trace.tunnel = _ms(started)
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")[:200]
    parts = status_line.split(" ", 2)
    if (
        b"\r\n\r\n" not in head
        or len(parts) < 2
        or not parts[0].startswith("HTTP/")
        or not parts[1].isdigit()
    ):
        raise _fault(
            route,
            "protocol",
            "connect",
            f"answered CONNECT with something that is not HTTP: {status_line[:80]!r}",
            "malformed HTTP response",
            trace,
        )
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    if 200 <= status < 300:
        if head.index(b"\r\n\r\n") + 4 != len(head):
            raise _fault(
                route,
                "protocol",
                "connect",
                "sent data after its answer to CONNECT",
                "unexpected data",
                trace,
            )
        return
    # Go's transport returns the answer's reason phrase as the error ("Proxy Authentication Required").
    kind = "auth" if status == 407 else "status"
    raise _fault(
        route,
        kind,
        "connect",
        f"answered CONNECT {target.netloc} with {status} {reason}".rstrip(),
        reason or str(status),
        trace,
        status=status,
        status_line=status_line,
    )


async def _read_exact(stream: anyio.abc.ByteStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await stream.receive(size - len(data))
    return data


async def _socks5(
    stream: anyio.abc.ByteStream, target: Endpoint, route: Route, timeout: float, trace: DialTrace
) -> None:
    """RFC 1928 CONNECT (with RFC 1929 user/password when the URL has them), as Go's socks dialer."""
    assert route.proxy_url is not None
    parts = urlsplit(route.proxy_url)
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password or "")
    host = target.host
    try:
        import ipaddress

        ip = ipaddress.ip_address(host)
        address = (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
    except ValueError:
        # Go's socks dialer sends a name as is: the proxy resolves it.
        raw = host.encode("idna")[:255]
        address = b"\x03" + bytes([len(raw)]) + raw
    kubectl_prefix = f"socks connect tcp {parse_endpoint(route.proxy_url).netloc}->{target.netloc}"
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            await stream.send(b"\x05\x02\x00\x02" if user is not None else b"\x05\x01\x00")
            version, method = await _read_exact(stream, 2)
            if version != 5:
                raise _fault(
                    route,
                    "protocol",
                    "socks",
                    "does not speak SOCKS5",
                    f"{kubectl_prefix}: unexpected protocol version {version}",
                    trace,
                )
            if method == 0xFF:
                raise _fault(
                    route,
                    "auth",
                    "socks",
                    "accepts none of the offered authentication methods (it wants credentials in the proxy URL?)",
                    f"{kubectl_prefix}: no acceptable authentication methods",
                    trace,
                )
            if method == 2:
                if user is None:
                    raise _fault(
                        route,
                        "auth",
                        "socks",
                        "asked for a user and password",
                        f"{kubectl_prefix}: unsupported authentication method 2",
                        trace,
                    )
                u, p = user.encode()[:255], password.encode()[:255]
                await stream.send(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
                _ver, status = await _read_exact(stream, 2)
                if status != 0:
                    raise _fault(
                        route,
                        "auth",
                        "socks",
                        "refused the user and password in the proxy URL",
                        f"{kubectl_prefix}: username/password authentication failed",
                        trace,
                    )
            await stream.send(b"\x05\x01\x00" + address + target.port.to_bytes(2, "big"))
            reply = await _read_exact(stream, 4)
            if reply[1] != 0:
                words = _SOCKS_REPLIES.get(reply[1], f"unknown code {reply[1]}")
                raise _fault(
                    route,
                    "socks",
                    "socks",
                    f"refused to connect to {target.netloc}: {words}",
                    f"{kubectl_prefix}: unknown error {words}",
                    trace,
                )
            kind = reply[3]
            rest = 4 if kind == 1 else 16 if kind == 4 else (await _read_exact(stream, 1))[0]
            await _read_exact(stream, rest + 2)
    except TimeoutError:
        trace.tunnel = _ms(started)
        raise _fault(
            route,
            "no-answer",
            "socks",
            f"accepted the connection but never finished the SOCKS5 exchange within {timeout:g}s",
            "context deadline exceeded",
            trace,
        ) from None
    except (anyio.EndOfStream, anyio.BrokenResourceError, OSError) as exc:
        trace.tunnel = _ms(started)
        reset = isinstance(exc, ConnectionResetError)
        raise _fault(
            route,
            "closed",
            "socks",
            f"{'reset' if reset else 'closed'} the connection during the SOCKS5 exchange",
            f"{kubectl_prefix}: EOF",
            trace,
        ) from None
    trace.tunnel = _ms(started)


# --- httpcore backend ---------------------------------------------------------------------------


class RouteBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend whose every TCP connection is `open_route` along one route.

    httpx is then given no proxy at all: the tunnel is made here, and httpcore starts the
    apiserver's TLS inside it, as Go does inside a CONNECT tunnel.
    """

    def __init__(self, route: Route, timeout: float) -> None:
        self.route = route
        self.timeout = timeout
        self.traces: list[DialTrace] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> Any:
        # lazy: httpcore's anyio backend loads with the first request, not with the dialer
        from httpcore._backends.anyio import AnyIOStream

        trace = DialTrace()
        self.traces.append(trace)
        target = Endpoint(self.route.server.scheme, host, port)
        try:
            stream = await open_route(target, self.route, timeout or self.timeout, trace)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc) or "timed out") from exc
        except (OSError, anyio.BrokenResourceError) as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return AnyIOStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> Any:
        raise NotImplementedError("kdoctor dials TCP only")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
