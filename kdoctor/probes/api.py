"""The per-target API session: one verified TLS connection that every apiserver request reuses.

How it talks to the server is how kubectl would, with kdoctor's own safety rules on top:

- TLS is verified against the kubeconfig's CA (or the system roots when none is set), with
  `tls-server-name` as the name sent and checked; the client certificate, when the credential has
  one, is loaded into that context. HTTP/2 is off (one HTTP/1.1 connection, requests in turn):
  kubectl negotiates h2 by ALPN, but httpx needs the `h2` package for it, whose import (~15 ms)
  every run would pay, and nothing kdoctor judges differs between the two. The version each answer
  came in is kept (`ApiResponse.protocol`) and apiserver.version reports it.
- The proxy is the one `kdoctor.proxyrules` decided (client-go's rules), handed to httpx explicitly;
  httpx's own environment handling (`trust_env`) is never used.
- Credentials go only over a connection whose verification succeeded (or plain HTTP to loopback,
  e.g. `kubectl proxy`), never after a verification failure. With `insecure-skip-tls-verify` the
  session connects unverified and sends what kubectl sends (the user chose to trust that server);
  `credentials_reason` says so and tls.insecure reports it.
- Requests never raise on network trouble: `ApiResponse.error_kind` classifies what went wrong. A
  connection-level failure (refused, TLS, a connect or handshake timeout) is remembered and not
  retried, so a server that hangs costs one timeout per target, not one per check. Until the server
  has answered anything, silence is the route's fact too (a load balancer without backends) and is
  remembered like a refused connection.
- A server that answers some requests and leaves others hanging (an apiserver without etcd answers
  /version and /livez, never the SelfSubjectReview) still costs one timeout per target, not one per
  stalled request, and the requests it would answer are still asked:
  - Requests take turns on the one connection. One that has waited `PATIENCE` (a few of this server's
    round trips, at least 0.1 s) behind a request still unanswered no longer waits: from then on
    the session opens another connection for each request that finds every connection busy (at most
    `MAX_CONNECTIONS`). HTTP/1.1 cannot carry a second request past a stuck one. As in kubectl's
    Client.Timeout, the wait for a connection counts against the request's timeout.
  - A request with no answer in time is that request's fact (not the connection's); its connection
    is closed. The first such stall starts the target's end: requests get answers until one
    timeout after it started (after the switch to several connections, when that came later) plus
    `GRACE`. A request still unanswered then is cut and says so, naming that first stall; a request
    asked later is not sent (error kind "not-sent"), never reported as the server's failure.
- When verification fails, `TLS_HANDSHAKE` makes one more handshake, unverified, only to read the
  chain the server presents (see `kdoctor.probes.tls.capture_chain_unverified`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import importlib.util
import json
import os
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from kdoctor import __version__
from kdoctor.access import ACCESS, AccessSpec
from kdoctor.keys import (
    API_SESSION,
    CHAIN_ANALYSIS,
    CREDENTIALS,
    INTERCEPTION,
    LIVEZ,
    READYZ,
    RESOLUTION,
    TLS_HANDSHAKE,
    VERSION,
)
from kdoctor.netaddr import is_loopback
from kdoctor.probes.route import ROUTE, Route
from kdoctor.probes.tcp import classify_os_error
from kdoctor.probes.tls import (
    ChainAnalysis,
    PeerTls,
    ServerNameContext,
    analyse_chain,
    capture_chain_unverified,
    chain_from_ssl_object,
)
from kdoctor.redact import Secret

if TYPE_CHECKING:
    # lazy: httpx loads on the first request, not when the checks are listed (see _import_httpx)
    import httpx

    from kdoctor.context import Context
    from kdoctor.credentials import ResolvedCredential
    from kdoctor.probes.dial import RouteBackend
    from kdoctor.probes.route import ProxyFault

__all__ = [
    "API_SESSION",
    "CHAIN_ANALYSIS",
    "INTERCEPTION",
    "LIVEZ",
    "READYZ",
    "TLS_HANDSHAKE",
    "VERSION",
    "ApiResponse",
    "ApiSession",
    "Interception",
    "Timings",
    "close_session",
    "phase_timings",
]

#: Bodies are read up to this many bytes; an apiserver answer worth judging is far smaller.
MAX_BODY = 1024 * 1024
USER_AGENT = f"kdoctor/{__version__}"

#: Failures of the connection itself: a later request would meet the same fate, so it is not tried.
#: The timeouts of _PER_REQUEST are here too, for a server that has not answered anything yet.
_STICKY = frozenset(
    {
        "refused",
        "unreachable",
        "dns",
        "connect-timeout",
        "tls-handshake-timeout",
        "tls-verify",
        "tls-error",
        "tls-config",
        "proxy-error",
        "read-timeout",
        "write-timeout",
        "timeout",
    }
)
#: No answer in time to this request (headers or body): once the server has answered another request,
#: the request's own fact, not the connection's.
_PER_REQUEST = frozenset({"read-timeout", "timeout"})
_DROPPED_HEADERS = frozenset({"set-cookie"})
#: How long a request waits behind an unanswered one on the busy connection before the session opens
#: more connections (the floor; four of the server's round trips when that is longer, at most a
#: quarter of --timeout). Healthy answers come in milliseconds: this is never reached on them.
PATIENCE = 0.1
#: After the first stall's timeout, how long requests sent at about the same time still have to
#: finish (they went out on their new connection just after it).
GRACE = 0.1
#: Connections one target may hold open at once when requests stall.
MAX_CONNECTIONS = 6
#: The wait for a free connection is counted in steps of this many seconds.
_TICK = 0.01


@dataclass(frozen=True)
class Timings:
    """Per-phase durations in milliseconds; None for a phase this request did not go through."""

    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    first_byte: float | None = None
    total: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"dns": self.dns, "connect": self.connect, "tls": self.tls, "first_byte": self.first_byte}


@dataclass(frozen=True)
class ApiResponse:
    """One request's outcome: an HTTP answer, or `error_kind` saying why there is none.

    error kinds: refused, unreachable, dns, connect-timeout, tls-handshake-timeout, tls-verify
    (certificate verification failed), tls-error, tls-config (the CA or client certificate could
    not be loaded), proxy-error, read-timeout (no response headers in time), write-timeout,
    timeout (the request's overall budget), reset, protocol-error, error; not-sent (the target's
    time ran out before the request went out: `cut_by` names the request whose stall ended it).
    """

    method: str
    path: str
    status: int | None = None
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    truncated: bool = False
    json: Any = None
    timings: Timings = field(default_factory=Timings)
    error_kind: str | None = None
    error: str | None = None
    #: An Authorization header or client certificate went with this request.
    credentials_sent: bool = False
    #: The request opened the connection (its timings include connect and TLS).
    new_connection: bool = False
    #: The answer is an earlier request's connection failure, not a new attempt.
    repeated: bool = False
    #: The local clock (the context's) when the response headers arrived, for clock-skew checks.
    received_at: datetime | None = None
    #: Set when the proxy in the route stopped the connection (error_kind "proxy-error").
    proxy_fault: ProxyFault | None = None
    #: The HTTP version the answer came in ("HTTP/1.1"; HTTP/2 is not offered, see the module doc).
    protocol: str | None = None
    #: "METHOD path" of the target's first stalled request, when this request was cut short or not
    #: sent because that stall ended the target's time (see the module doc).
    cut_by: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k == wanted), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def failed_subchecks(self) -> list[str]:
        """The "[-]name failed: reason" lines of a health answer (/livez?verbose, /readyz?verbose)."""
        lines = self.body.decode("utf-8", "replace").splitlines()
        return [line.strip() for line in lines if line.strip().startswith("[-]")][:20]

    @property
    def not_sent(self) -> bool:
        """The target's time had run out: the request never went out (nothing is known of its answer)."""
        return self.error_kind == "not-sent"

    @property
    def stalled(self) -> bool:
        """No answer in time to this request (headers or body), on a connection that works."""
        return self.error_kind in _PER_REQUEST

    @property
    def server_could_not_serve(self) -> bool:
        """The apiserver took the request and did not serve it: no answer in time, a 5xx, or its
        storage's words (an apiserver without etcd leaves such requests hanging or fails them)."""
        if self.stalled or (self.status is not None and self.status >= 500):
            return True
        text = self.body[:4096].decode("utf-8", "replace").lower()
        return "etcdserver" in text or "the server is currently unable to handle the request" in text

    def preview(self, limit: int = 120) -> str:
        """The start of the body as one line of text, for evidence in a summary."""
        text = " ".join(self.body[: limit * 4].decode("utf-8", "replace").split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


class ApiSession:
    """The target's HTTP session. Create it through the `API_SESSION` probe; close with `aclose()`."""

    def __init__(
        self,
        access: AccessSpec,
        route: Route,
        credential: ResolvedCredential | None,
        *,
        timeout: float,
        clock: Callable[[], datetime] | None = None,
        credential_source: Callable[[], Awaitable[ResolvedCredential | None]] | None = None,
    ) -> None:
        """`credential_source`, when given, supplies the credential on first need instead of
        `credential`: only for a configuration in which no client certificate can be involved, since
        a certificate must be in the TLS context before the first handshake."""
        self.access = access
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.route = route
        self.credential = credential
        self._credential_source = credential_source
        self.timeout = timeout
        self.base_url = access.server.rstrip("/")
        self.https = route.server.scheme == "https"
        self.verifying = self.https and not access.insecure_skip_tls_verify
        #: The name sent as SNI and checked against the certificate.
        self.server_hostname = access.tls_server_name or route.server.host
        self.credentials_allowed, self.credentials_reason = self._channel_policy()
        #: TLS facts of the first connection (None until one was attempted over https).
        self.tls: PeerTls | None = None
        #: Timings of the request that opened the first connection (connect and TLS phases).
        self.connection_timings: Timings | None = None
        #: The address the connection went to (the proxy's when proxied).
        self.peer_address: str | None = None
        #: (error kind, message) when the client could not be set up (CA unreadable, SOCKS unsupported).
        self.config_error: tuple[str, str] | None = None
        #: The connections: one normally; more once requests stall (see the module doc).
        self._lanes: list[_Lane] = []
        self._verify: ssl.SSLContext | bool | None = None
        #: The network backend that dials along the route (set with the client); its traces hold the
        #: route's phase timings.
        self.backend: RouteBackend | None = None
        self._sticky: ApiResponse | None = None
        #: Some request got an HTTP answer: the server speaks, so a later silence is per request.
        self._answered = False
        #: Set (and replaced) whenever a connection is freed or a waiting request must look again.
        self._freed = asyncio.Event()
        #: The loop time from which every request that finds the connections busy gets its own.
        self._parallel_since: float | None = None
        #: This server's first answer's round trip (request sent to headers), in seconds.
        self._round_trip: float | None = None
        #: The first request left unanswered (after an answer), and when the target's time runs out.
        self._first_stall: ApiResponse | None = None
        self._times_up = asyncio.Event()
        self._times_up_handle: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._evidence: asyncio.Future[PeerTls] | None = None

    # --- policy -------------------------------------------------------------------------

    def _channel_policy(self) -> tuple[bool, str]:
        if self.access.insecure_skip_tls_verify and self.https:
            # kubectl sends the credential here: the user chose to trust whoever answers. kdoctor
            # judges kubectl's path with what kubectl sends, and tls.insecure says where it went.
            return True, (
                "insecure-skip-tls-verify is set: the credential goes to whoever answers, unverified, "
                "as kubectl sends it"
            )
        if not self.https:
            if is_loopback(self.route.server.host):
                return True, "plain HTTP to a loopback address (such as kubectl proxy)"
            return False, "plain HTTP to a non-loopback host: a credential would travel in clear text"
        source = self.access.ca_source or ("the configured CA" if self.access.ca_pem else "the system roots")
        return True, f"sent only after the server's certificate is verified against {source}"

    @property
    def credential_usable(self) -> bool:
        cred = self.credential
        return cred is not None and cred.usable and self.credentials_allowed

    async def _ensure_credential(self) -> None:
        # The source is a shared probe: concurrent callers all await the same computation.
        source = self._credential_source
        if source is not None:
            credential = await source()
            self.credential, self._credential_source = credential, None

    # --- connection -----------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        context = ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
        context.server_name_override = self.access.tls_server_name
        cred = self.credential
        if not self.verifying:
            # insecure-skip-tls-verify: the user asked for it, and kubectl presents its client
            # certificate on such a connection too.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            if self.credential_usable and cred is not None and cred.client_cert_pem and cred.client_key_pem:
                _load_client_cert(context, cred.client_cert_pem, cred.client_key_pem)
            return context
        if self.access.ca_error:
            raise ValueError(f"the configured CA cannot be used: {self.access.ca_error}")
        if self.access.ca_pem:
            # Like Go's pem.Decode, bytes outside the PEM blocks (a BOM, stray text) are skipped;
            # "replace" would put U+FFFD in the text, which ssl refuses with a TypeError.
            context.load_verify_locations(cadata=self.access.ca_pem.decode("ascii", "ignore"))
        else:
            context.load_default_certs()
        # Go trusts any certificate in the root pool as an anchor, intermediates included.
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        # Go ignores the subject CN since 1.15; OpenSSL would fall back to it (kdoctor.gotls).
        context.hostname_checks_common_name = False
        # Level 1 is Go's line: RSA keys of 1024 bits and more, no SHA-1 signatures. Distributions
        # default to level 2 (RSA >= 2048), which would refuse chains kubectl accepts.
        context.set_ciphers("DEFAULT:@SECLEVEL=1")
        if self.credential_usable and cred is not None and cred.client_cert_pem and cred.client_key_pem:
            _load_client_cert(context, cred.client_cert_pem, cred.client_key_pem)
        return context

    def _new_client(self) -> httpx.AsyncClient | None:
        """A client for one more connection, every one with the same TLS context; None: cannot be made."""
        if self.config_error is not None:
            return None
        if self._verify is None:
            try:
                self._verify = self._ssl_context() if self.https else False
            except (ssl.SSLError, ValueError, OSError, TypeError) as exc:
                self.config_error = ("tls-config", f"{type(exc).__name__}: {exc}")
                return None
        try:
            return self._make_client(self._verify)
        except ImportError:
            # httpx needs the optional socksio package for socks5:// proxies.
            self.config_error = (
                "proxy-error",
                f"kdoctor cannot use the {self.route.proxy_kind} {self.route.proxy_display}: "
                "SOCKS support needs the socksio package (pip install 'httpx[socks]')",
            )
        return None

    def _make_client(self, verify: ssl.SSLContext | bool) -> httpx.AsyncClient:
        _import_httpx()
        # lazy: httpx (and httpcore, anyio behind kdoctor's dialer) load on the first request, not when
        # the checks are listed (see _import_httpx)
        import httpcore
        import httpx

        # lazy, with httpx: the dialer's backend pulls in httpcore and anyio
        from kdoctor.probes.dial import RouteBackend

        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        transport = httpx.AsyncHTTPTransport(
            verify=verify, http1=True, http2=False, limits=limits, trust_env=False
        )
        # Same route as every other connection: httpx gets no proxy; the pool's network backend opens
        # each connection along the route (direct, CONNECT tunnel, SOCKS5) with kdoctor's dialer, and
        # httpcore starts the apiserver's TLS inside it. httpx has no public hook for a network
        # backend, hence its pool is replaced (httpx 0.27-0.29 keep it in `_pool`).
        backend = RouteBackend(self.route, self.timeout)
        if self.backend is None:
            self.backend = backend
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify if isinstance(verify, ssl.SSLContext) else None,
            max_connections=1,
            max_keepalive_connections=1,
            http1=True,
            http2=False,
            network_backend=backend,
        )
        return httpx.AsyncClient(
            transport=transport,
            trust_env=False,
            http1=True,
            http2=False,
            follow_redirects=False,
            timeout=httpx.Timeout(self.timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json, */*"},
        )

    async def aclose(self) -> None:
        if self._times_up_handle is not None:
            self._times_up_handle.cancel()
        clients = [lane.client for lane in self._lanes if lane.client is not None]
        self._lanes = []
        for client in clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), self.timeout)
        if self._closing:
            await asyncio.wait(self._closing, timeout=self.timeout)

    # --- requests -------------------------------------------------------------------------

    async def get(self, path: str, *, authenticated: bool, accept: str | None = None) -> ApiResponse:
        """GET `path`; with `authenticated`, the Authorization header goes along when the channel allows it.

        A client certificate belongs to the connection, not to a request: it is presented on every
        handshake whose server verification succeeded, so `authenticated=False` does not withhold it.
        """
        return await self._request("GET", path, None, authenticated, accept)

    async def post(self, path: str, json_body: Mapping[str, Any], *, authenticated: bool) -> ApiResponse:
        """POST `json_body` as JSON to `path`."""
        return await self._request("POST", path, json.dumps(json_body).encode(), authenticated)

    async def get_public(self, path: str) -> ApiResponse:
        """GET a path kube-apiserver serves to anyone (/version, /livez, /readyz, /healthz).

        Asked without credentials first, so the answer says nothing about the credential; a
        cluster that disabled anonymous access answers 401/403, and then the credential is used.
        """
        response = await self.get(path, authenticated=False)
        if response.status in (401, 403):
            await self._ensure_credential()
            if self.credential_usable:
                return await self.get(path, authenticated=True)
        return response

    async def _request(
        self, method: str, path: str, body: bytes | None, authenticated: bool, accept: str | None = None
    ) -> ApiResponse:
        if authenticated:
            await self._ensure_credential()
        loop = asyncio.get_running_loop()
        asked = loop.time()
        lane = await self._take_lane()
        # Like kubectl's Client.Timeout, the wait for a connection counts against the request's
        # timeout (half of it is always left for the answer).
        read_timeout = max(self.timeout - (loop.time() - asked), self.timeout / 2)
        try:
            if self._sticky is not None:
                return dataclasses.replace(self._sticky, method=method, path=path, repeated=True)
            if self.route.proxy_error:
                return ApiResponse(method, path, error_kind="proxy-error", error=self.route.proxy_error)
            if lane is None:
                return self._not_sent(method, path)
            if lane.client is None:
                lane.client = self._new_client()
            if lane.client is None:
                kind, message = self.config_error or ("error", "no HTTP client")
                response = ApiResponse(method, path, error_kind=kind, error=message)
            else:
                response = await self._send(
                    lane.client, method, path, body, authenticated, accept, read_timeout
                )
            if response.answered:
                self._answered = True
                if self._round_trip is None and response.timings.first_byte is not None:
                    self._round_trip = response.timings.first_byte / 1000
            elif lane.client is not None and (response.not_sent or (response.stalled and self._answered)):
                # The connection is stuck in this request (or half open): it goes, the next request
                # gets another.
                lane.stuck = True
                if response.cut_by is None:
                    self._stalled(response, asked)
            elif response.error_kind in _STICKY:
                self._sticky = response
            return response
        finally:
            if lane is not None:
                self._release(lane)

    async def _take_lane(self) -> _Lane | None:
        """A connection for one request, waiting for one if need be (see the module doc); None when
        the request is not to be sent: a connection failure to repeat, or the target's time is up."""
        loop = asyncio.get_running_loop()
        waited = 0.0
        while self._sticky is None and not self._times_up.is_set():
            lane = next((x for x in self._lanes if not x.busy), None)
            if lane is None and (
                not self._lanes or (self._parallel_since is not None and len(self._lanes) < MAX_CONNECTIONS)
            ):
                lane = _Lane()
                self._lanes.append(lane)
            if lane is not None:
                lane.busy = True
                return lane
            may_switch = self._parallel_since is None and self._answered
            if may_switch and waited >= self._patience():
                self._parallel_since = loop.time()
                continue
            freed, started = self._freed, loop.time()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(freed.wait(), _TICK if may_switch else None)
            # A loop held up by CPU-bound work counts one step, not the hold-up: the answer that frees
            # the connection may be waiting in the socket.
            waited += min(loop.time() - started, _TICK)
        return None

    def _patience(self) -> float:
        round_trips = 4 * self._round_trip if self._round_trip is not None else 0.0
        return min(max(PATIENCE, round_trips), self.timeout / 4)

    def _release(self, lane: _Lane) -> None:
        lane.busy = False
        if lane.stuck:
            self._lanes.remove(lane)
            if lane.client is not None:
                # httpcore closes a connection whose request failed, but a cancelled read leaves that to
                # its cancellation handling: closing the client makes it certain. In the background:
                # the answer is known, the close must not delay it.
                task = asyncio.ensure_future(self._close_client(lane.client))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self._wake()

    async def _close_client(self, client: httpx.AsyncClient) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.aclose(), self.timeout)

    def _wake(self) -> None:
        freed, self._freed = self._freed, asyncio.Event()
        freed.set()

    def _stalled(self, response: ApiResponse, asked: float) -> None:
        """The first request left unanswered sets when the target's time runs out (module doc)."""
        if self._first_stall is not None:
            return
        self._first_stall = response
        loop = asyncio.get_running_loop()
        start = asked if self._parallel_since is None else max(asked, self._parallel_since)
        self._times_up_handle = loop.call_at(max(start + self.timeout, loop.time()) + GRACE, self._time_is_up)

    def _time_is_up(self) -> None:
        self._times_up.set()
        self._wake()

    def _why_times_up(self) -> tuple[str, str]:
        first = self._first_stall
        label = f"{first.method} {first.path}" if first is not None else "a request"
        return label, f"the target's time ran out: {label} got no answer within {self.timeout:g}s"

    def _not_sent(self, method: str, path: str) -> ApiResponse:
        label, why = self._why_times_up()
        return ApiResponse(method, path, error_kind="not-sent", error=f"not sent: {why}", cut_by=label)

    async def _unless_times_up(self, exchange: Awaitable[_Answer]) -> _Answer:
        """`exchange`'s answer, or _TimesUp when the target's time runs out first."""
        task = asyncio.ensure_future(exchange)
        if self._times_up.is_set():
            task.cancel()
        else:
            times_up = asyncio.ensure_future(self._times_up.wait())
            try:
                await asyncio.wait((task, times_up), return_when=asyncio.FIRST_COMPLETED)
            except BaseException:
                task.cancel()
                raise
            finally:
                times_up.cancel()
            if task.done():
                return task.result()
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise _TimesUp

    def _auth_headers(self, authenticated: bool) -> dict[str, str | bytes]:
        cred = self.credential
        if not authenticated or cred is None or not self.credential_usable:
            return {}
        if cred.bearer is not None:
            # Bytes: Go's net/http sends a token's UTF-8 bytes as they are (obs-text); httpx would
            # encode a str as ASCII and raise on the first non-ASCII character.
            return {"Authorization": b"Bearer " + cred.bearer.reveal().encode("utf-8", "surrogateescape")}
        if cred.basic is not None:
            user, password = cred.basic
            pair = f"{user}:{password.reveal()}".encode("utf-8", "surrogateescape")
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        body: bytes | None,
        authenticated: bool,
        accept: str | None = None,
        read_timeout: float | None = None,
    ) -> ApiResponse:
        # lazy: httpx loads on the first request, not when the checks are listed (see _import_httpx)
        import httpx

        from kdoctor.probes.dial import ProxyFailure

        trace = _Trace()
        headers = self._auth_headers(authenticated)
        if accept:
            headers["Accept"] = accept
        if body is not None:
            headers["Content-Type"] = "application/json"
        cert_sent = bool(self.credential_usable and self.credential and self.credential.client_cert_pem)
        sent_credentials = bool(headers.get("Authorization")) or cert_sent
        try:
            request = client.build_request(
                method,
                self.base_url + path,
                headers=[
                    (k.encode(), v if isinstance(v, bytes) else v.encode("latin-1"))
                    for k, v in headers.items()
                ],
                content=body,
                extensions={"trace": trace.callback},
                timeout=httpx.Timeout(self.timeout, read=read_timeout or self.timeout),
            )
        except ValueError as exc:
            # httpx decodes an `xn--` host as IDNA and refuses a malformed one ("xn--.invalid");
            # Go sends such a name as it is. Nothing was sent: say so rather than crash the check.
            return ApiResponse(
                method,
                path,
                timings=Timings(),
                error_kind="error",
                error=f"kdoctor's HTTP client cannot address {self.base_url}: {type(exc).__name__}: {exc}",
            )
        started = time.perf_counter()
        answer: _Answer | None = None
        cut_by: str | None = None
        proxy_fault: ProxyFault | None = None
        error_kind: str | None = None
        error: str | None = None
        try:
            # The phases each have --timeout (httpx); this bounds a server that trickles bytes.
            answer = await self._unless_times_up(
                asyncio.wait_for(_exchange(client, request, self.timeout), self.timeout * 2)
            )
        except _TimesUp:
            cut_by, why = self._why_times_up()
            waited = time.perf_counter() - started
            if trace.completed("receive_response_headers"):
                error_kind, error = (
                    "timeout",
                    f"the response body did not complete within {waited:.2f}s: {why}",
                )
            elif trace.started("send_request_headers"):
                error_kind, error = "read-timeout", f"no response headers within {waited:.2f}s: {why}"
            else:
                error_kind, error = "not-sent", f"not sent (its connection was still opening): {why}"
        except _BodyTimeout:
            error_kind, error = "timeout", f"the response body did not complete within {self.timeout:g}s"
        except asyncio.TimeoutError:
            error_kind, error = "timeout", f"no complete answer within {self.timeout * 2:g}s"
        except ProxyFailure as exc:
            proxy_fault = exc.fault
            error_kind, error = "proxy-error", f"{exc.fault.message} (kubectl: {exc.fault.kubectl})"
        except httpx.HTTPError as exc:
            error_kind, error = self._classify(exc, trace)
        except (OSError, ssl.SSLError) as exc:
            error_kind, error = "error", f"{type(exc).__name__}: {exc}"
        total = _ms(started)
        self._note_connection(trace, error_kind, error)
        timings = Timings(
            connect=trace.duration("connect_tcp"),
            tls=trace.duration("start_tls"),
            first_byte=trace.first_byte(),
            total=total,
        )
        if trace.opened and self.connection_timings is None:
            self.connection_timings = timings
        if answer is None:
            return ApiResponse(
                method,
                path,
                timings=timings,
                error_kind=error_kind or "error",
                error=error,
                proxy_fault=proxy_fault,
                # Not sent: the connection was still opening, no header went out.
                credentials_sent=sent_credentials and trace.tls_done(self.https) and error_kind != "not-sent",
                new_connection=trace.opened,
                cut_by=cut_by,
            )
        return ApiResponse(
            method,
            path,
            answer.status,
            answer.reason,
            answer.headers,
            answer.body,
            answer.truncated,
            None if answer.truncated else _parse_json(answer.body),
            timings,
            credentials_sent=sent_credentials and trace.tls_done(self.https),
            new_connection=trace.opened,
            received_at=self._clock(),
            protocol=answer.protocol,
        )

    def _note_connection(self, trace: _Trace, error_kind: str | None, error: str | None) -> None:
        if trace.peer_address and self.peer_address is None:
            self.peer_address = trace.peer_address
        if self.tls is not None or not self.https:
            return
        if trace.ssl_object is not None:
            presented, verified = chain_from_ssl_object(trace.ssl_object)
            cipher = trace.ssl_object.cipher()
            self.tls = PeerTls(
                "verified" if self.verifying else "off",
                chain_der=presented,
                verified_chain_der=verified,
                server_hostname=self.server_hostname,
                tls_version=trace.ssl_object.version(),
                cipher=cipher[0] if cipher else None,
                duration_ms=trace.duration("start_tls"),
            )
        elif error_kind in ("tls-verify", "tls-error", "tls-handshake-timeout"):
            verify_error = trace.verify_error
            self.tls = PeerTls(
                "failed" if error_kind == "tls-verify" else "none",
                verify_code=verify_error.verify_code if verify_error is not None else None,
                verify_message=verify_error.verify_message if verify_error is not None else None,
                server_hostname=self.server_hostname,
                error_kind=error_kind,
                error=error,
                duration_ms=trace.duration("start_tls"),
            )

    def _classify(self, exc: BaseException, trace: _Trace) -> tuple[str, str]:
        # lazy: httpx loads on the first request, not when the checks are listed (see _import_httpx)
        import httpx

        causes = _causes(exc)
        verify_error = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
        if verify_error is not None:
            trace.verify_error = verify_error
            return "tls-verify", f"certificate verification failed: {verify_error.verify_message}"
        in_tls = trace.started("start_tls") and not trace.completed("start_tls")
        if isinstance(exc, httpx.ProxyError):
            return "proxy-error", f"the proxy refused the tunnel: {exc}"
        if isinstance(exc, httpx.ConnectTimeout):
            if in_tls:
                return "tls-handshake-timeout", (
                    f"TLS handshake timeout: TCP was accepted but no TLS answer came within {self.timeout:g}s"
                )
            return "connect-timeout", f"no TCP connection within {self.timeout:g}s"
        if isinstance(exc, httpx.ReadTimeout):
            return "read-timeout", f"no response headers within {self.timeout:g}s of the request"
        if isinstance(exc, httpx.WriteTimeout):
            return "write-timeout", f"the request could not be sent within {self.timeout:g}s"
        if isinstance(exc, httpx.TimeoutException):
            return "timeout", f"timed out after {self.timeout:g}s"
        if in_tls:
            return "tls-error", f"TLS handshake failed: {_words(exc, causes)}"
        if any(isinstance(c, socket.gaierror) for c in causes):
            return "dns", f"name resolution failed: {_words(exc, causes)}"
        if isinstance(exc, httpx.ConnectError):
            # anyio wraps the per-address errors in a plain OSError("All connection attempts failed").
            os_errors = [c for c in causes if isinstance(c, OSError)]
            os_error = next(
                (c for c in os_errors if c.errno is not None), os_errors[0] if os_errors else None
            )
            kind = classify_os_error(os_error) if os_error is not None else "error"
            kind = {"timeout": "connect-timeout", "error": "error"}.get(kind, kind)
            return kind, f"TCP connect failed: {_words(exc, causes)}"
        if any(isinstance(c, ConnectionResetError) for c in causes):
            return "reset", f"the connection was reset: {_words(exc, causes)}"
        if isinstance(exc, httpx.RemoteProtocolError):
            return "protocol-error", f"the server broke HTTP/1.1: {_words(exc, causes)}"
        if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
            return "reset", f"the connection failed mid-request: {_words(exc, causes)}"
        return "error", _words(exc, causes)

    # --- TLS evidence ---------------------------------------------------------------------

    async def handshake_facts(self) -> PeerTls:
        """The TLS facts of this target; after a verification failure, with the chain as evidence."""
        if not self.https:
            return PeerTls("none", error_kind="plain-http", error="the server URL is http://: no TLS")
        if self.tls is None:
            failure = self._sticky
            facts = PeerTls(
                "none",
                server_hostname=self.server_hostname,
                error_kind=failure.error_kind if failure else "not-connected",
                error=failure.error if failure else "no connection was made",
            )
            if failure is None or failure.error_kind != "tls-config" or not self.verifying:
                return facts
            # The CA (or client certificate) could not be loaded, so no verified connection exists;
            # the server can still show its chain to a connection that carries nothing.
            self.tls = dataclasses.replace(facts, verification="failed")
        if self.tls.verification != "failed":
            return self.tls
        if self._evidence is None:
            self._evidence = asyncio.ensure_future(
                capture_chain_unverified(
                    self.route.server,
                    server_hostname=self.server_hostname,
                    route=self.route,
                    timeout=self.timeout,
                )
            )
        evidence = await asyncio.shield(self._evidence)
        return dataclasses.replace(
            self.tls,
            chain_der=evidence.chain_der,
            tls_version=evidence.tls_version,
            cipher=evidence.cipher,
            captured_on="evidence",
            error=self.tls.error
            if evidence.error is None
            else f"{self.tls.error}; chain not captured: {evidence.error}",
        )


def _import_httpx() -> None:
    """Import httpx without its command-line client.

    httpx's `__init__` imports `httpx._main` (rich, pygments and click: some 70 ms) whenever those
    are installed, only to offer `httpx.main`, which kdoctor never calls. A None entry in
    sys.modules makes that one import fail the way it does when they are not installed, a case
    httpx handles; the entry is removed afterwards so nothing else is affected.

    httpcore also tries `import sniffio` on every request and lock; when sniffio is not installed
    (anyio no longer needs it) each try searches sys.path again. A None entry for it keeps the same
    outcome, ImportError, without the search.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    if "httpx" in sys.modules:
        return
    blocked = "httpx._main" not in sys.modules
    if blocked:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx  # noqa: F401
    finally:
        if blocked and "httpx._main" in sys.modules and sys.modules["httpx._main"] is None:
            del sys.modules["httpx._main"]


def _load_client_cert(context: ssl.SSLContext, cert_pem: bytes, key_pem: Secret) -> None:
    # ssl loads keys from files only: a private directory that lives only for the load.
    with tempfile.TemporaryDirectory(prefix="kdoctor-") as tmp:
        os.chmod(tmp, 0o700)
        cert_path = os.path.join(tmp, "client.crt")
        key_path = os.path.join(tmp, "client.key")
        with open(cert_path, "wb") as f:
            f.write(cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key_pem.reveal())
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            # The OpenSSL message names no key material, but say only what failed.
            raise ValueError(f"the client certificate or key could not be loaded ({exc.reason})") from None


class _Trace:
    """Collects httpcore trace events of one request: phase times and the live TLS object."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.ssl_object: Any = None
        self.peer_address: str | None = None
        self.verify_error: ssl.SSLCertVerificationError | None = None

    async def callback(self, event: str, info: Mapping[str, Any]) -> None:
        now = time.perf_counter()
        # Event names carry the emitting layer first ("connection.", "proxy.", "http11."); the
        # phase and its state are what matter. A proxy tunnel reports the CONNECT's own
        # request/response too; the last one is ours.
        event = ".".join(event.split(".")[-2:])
        self.times[event] = now
        if event == "connect_tcp.complete":
            stream = info.get("return_value")
            address = stream.get_extra_info("server_addr") if stream is not None else None
            if address:
                self.peer_address = str(address[0])
        elif event == "start_tls.complete":
            stream = info.get("return_value")
            if stream is not None:
                self.ssl_object = stream.get_extra_info("ssl_object")

    @property
    def opened(self) -> bool:
        return "connect_tcp.started" in self.times

    def started(self, phase: str) -> bool:
        return f"{phase}.started" in self.times

    def completed(self, phase: str) -> bool:
        return f"{phase}.complete" in self.times

    def tls_done(self, https: bool) -> bool:
        # A reused connection was verified when it was opened.
        return not https or not self.opened or self.completed("start_tls")

    def duration(self, phase: str) -> float | None:
        start, end = self.times.get(f"{phase}.started"), self.times.get(f"{phase}.complete")
        return round((end - start) * 1000, 3) if start is not None and end is not None else None

    def first_byte(self) -> float | None:
        sent = self.times.get("send_request_headers.started")
        received = self.times.get("receive_response_headers.complete")
        return round((received - sent) * 1000, 3) if sent is not None and received is not None else None


@dataclass(frozen=True)
class _Answer:
    """An HTTP answer as read off the wire."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool
    protocol: str


class _Lane:
    """One connection of the session: its client (one pooled connection), in use or not."""

    __slots__ = ("busy", "client", "stuck")

    def __init__(self) -> None:
        self.client: httpx.AsyncClient | None = None
        self.busy = False
        #: A request got no answer on it: closed when the request lets go of it.
        self.stuck = False


class _TimesUp(Exception):
    """The target's time ran out (its first stall's timeout and the grace) before the answer came."""


class _BodyTimeout(Exception):
    """The headers came, the body did not finish within --timeout (a server that trickles)."""


async def _exchange(client: httpx.AsyncClient, request: httpx.Request, body_timeout: float) -> _Answer:
    response = await client.send(request, stream=True)
    chunks: list[bytes] = []
    truncated = False

    async def read_body() -> None:
        nonlocal truncated
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_BODY:
                truncated = True
                break

    try:
        headers = tuple(
            (k.lower(), v) for k, v in response.headers.items() if k.lower() not in _DROPPED_HEADERS
        )
        # httpx's read timeout restarts with every byte: the body as a whole is one phase of
        # --timeout, so a server that trickles forever ends at it.
        try:
            await asyncio.wait_for(read_body(), body_timeout)
        except asyncio.TimeoutError:
            raise _BodyTimeout from None
    finally:
        await response.aclose()
    body = b"".join(chunks)[:MAX_BODY]
    return _Answer(
        response.status_code, response.reason_phrase, headers, body, truncated, response.http_version
    )


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _words(exc: BaseException, causes: list[BaseException]) -> str:
    for candidate in reversed(causes):
        text = str(candidate)
        if text:
            return text
    return type(exc).__name__


def _parse_json(data: bytes) -> Any:
    if not data or data.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# --- probes -------------------------------------------------------------------------------


async def _compute_session(ctx: Context) -> ApiSession:
    access = await ctx.probe(ACCESS)
    route = await ctx.probe(ROUTE)
    creds = access.credentials
    if creds.client_cert_pem is not None or creds.client_key_pem is not None or creds.exec is not None:
        # A client certificate (static, or one an exec plugin may return) belongs in the TLS
        # context, so it must be known before the first handshake.
        credential = await _credential(ctx)
        session = ApiSession(access, route, credential, timeout=ctx.timeout, clock=ctx.environment.now)
    else:
        # A token, basic-auth or nothing goes in a header: the unauthenticated requests (/version
        # first) need not wait for it.
        session = ApiSession(
            access,
            route,
            None,
            timeout=ctx.timeout,
            clock=ctx.environment.now,
            credential_source=lambda: _credential(ctx),
        )
    ctx.add_closer(session.aclose)
    return session


async def _credential(ctx: Context) -> ResolvedCredential | None:

    credential = await ctx.probe(CREDENTIALS)
    for secret in (credential.bearer, credential.client_key_pem):
        ctx.secrets.add(secret)
    if credential.basic is not None:
        ctx.secrets.add(credential.basic[1])
    return credential


"""The target's one HTTP session (see the module docstring)."""


async def _compute_version(ctx: Context) -> ApiResponse:
    session = await ctx.probe(API_SESSION)
    return await session.get_public("/version")


"""GET /version, once per target; the first request, so it opens the connection."""


async def _compute_livez(ctx: Context) -> ApiResponse:
    await ctx.probe(VERSION)
    return await (await ctx.probe(API_SESSION)).get_public("/livez?verbose")


async def _compute_readyz(ctx: Context) -> ApiResponse:
    await ctx.probe(VERSION)
    return await (await ctx.probe(API_SESSION)).get_public("/readyz?verbose")


async def _compute_tls(ctx: Context) -> PeerTls:
    session = await ctx.probe(API_SESSION)
    await ctx.probe(VERSION)
    return await session.handshake_facts()


"""The TLS facts of the target's connection (the chain, captured as evidence if verification failed)."""


async def _compute_analysis(ctx: Context) -> ChainAnalysis:

    session = await ctx.probe(API_SESSION)
    facts = await ctx.probe(TLS_HANDSHAKE)
    return analyse_chain(facts.chain_der, session.access.ca_pem, ctx.environment.now())


"""The presented chain judged against the configured CA (`kdoctor.probes.tls.analyse_chain`), once."""


@dataclass(frozen=True)
class Interception:
    """A TLS-intercepting proxy identified in the path (see `kdoctor.probes.tls.interception_issuer`)."""

    issuer: str
    #: The configured proxy that re-signs (display URL) and where it was set; None: no proxy is
    #: configured, so the interception is transparent (a network appliance on the way).
    proxy: str | None
    source: str | None

    @property
    def transparent(self) -> bool:
        return self.proxy is None


async def _compute_interception(ctx: Context) -> Interception | None:
    # lazy: probes.tls imports this module's session types (a cycle at import time)
    from kdoctor.probes.tls import interception_issuer

    session = await ctx.probe(API_SESSION)
    if not session.https or session.access.insecure_skip_tls_verify or not session.access.ca_pem:
        return None
    await ctx.probe(TLS_HANDSHAKE)
    analysis = await ctx.probe(CHAIN_ANALYSIS)
    route = session.route
    http_proxy = route.proxied and route.proxy_kind == "http-proxy"
    issuer = interception_issuer(analysis, http_proxy)
    if issuer is None:
        return None
    if route.proxied:
        return Interception(issuer, route.proxy_display, route.proxy_source)
    return Interception(issuer, None, None)


async def phase_timings(ctx: Context, response: ApiResponse | None = None) -> dict[str, float | None]:
    """The target's per-phase timings in ms: DNS, the session's TCP connect and TLS, and the first
    byte of `response` (None for a phase that did not happen). Results carry it as `timings_ms`."""

    resolution = await ctx.probe(RESOLUTION)
    session = ctx.peek(API_SESSION)
    connection = session.connection_timings if session is not None else None
    return {
        "dns": resolution.duration_ms,
        "connect": connection.connect if connection else None,
        "tls": connection.tls if connection else None,
        "first_byte": response.timings.first_byte if response is not None else None,
    }


async def close_session(ctx: Context) -> None:
    """Close the target's session if one was made (the runner's caller calls this after a target)."""
    session = ctx.peek(API_SESSION)
    if session is not None:
        await session.aclose()
