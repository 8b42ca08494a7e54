"""The emulator's listener: real TLS and HTTP/1.1 on loopback, in a background thread.

The listener runs its own asyncio loop in a daemon thread, so synchronous tests and an asyncio
program in the main thread (the demo runs kdoctor in the same process) can both use it. Every wait
it makes is bounded, and `stop()` closes every socket and joins the thread promptly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import email.utils
import ipaddress
import itertools
import json
import os
import platform
import secrets
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from kdoctor.emulator.apiserver import ApiServer
from kdoctor.emulator.messages import Request, RequestInfo, Response, request_info
from kdoctor.emulator.pki import (
    DEFAULT_SERVING_DNS,
    DEFAULT_SERVING_IPS,
    LEGACY_ISSUER,
    CertKey,
    ServiceAccountKeys,
    make_ca,
    make_client_cert,
    make_leaf,
    make_serving_cert,
    pooled_rsa_key,
    resign_with_sha1,
)
from kdoctor.emulator.scenarios import SCENARIOS, EmulatorConfig, Rule, UserInfo, build_config

_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_MAX_HEAD = 64 * 1024
_MAX_BODY = 3 * 1024 * 1024
_MAX_REQUESTS_PER_CONNECTION = 10_000
ADMIN_USER = UserInfo("kubernetes-admin", ("system:masters",))
LIMITED_USER = UserInfo("jane", ("developers",))
LIMITED_RULES = (
    Rule(("get", "list", "watch"), ("",), ("pods", "services", "configmaps"), namespaces=("default",)),
)


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator received, as it received it (credentials included: tests need them)."""

    connection_id: int
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_cert_subject: str | None
    user: str | None
    status: int
    time: float
    #: False for a plain-HTTP request on the TLS port (answered 400 like Go's TLS server).
    tls: bool = True

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    @property
    def attributes(self) -> RequestInfo:
        """What RBAC saw: verb, API group, resource, namespace, name (or a non-resource path)."""
        return request_info(self.method, self.path)


@dataclass
class ConnectionRecord:
    """One accepted TCP connection."""

    connection_id: int
    peer: str
    tls: bool
    client_cert_subject: str | None = None
    requests: int = 0


@dataclass
class _Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RequestRecord] = field(default_factory=list)
    connections: list[ConnectionRecord] = field(default_factory=list)
    handshake_errors: list[str] = field(default_factory=list)


class Emulator:
    """A kube-apiserver emulator on loopback, started with a named fault scenario.

    >>> with Emulator("healthy") as api:
    ...     kubeconfig = api.write_kubeconfig(tmp / "config")
    """

    def __init__(self, scenario: str = "healthy", **overrides: Any) -> None:
        self.scenario = scenario
        self.config: EmulatorConfig = build_config(scenario, **overrides)
        self.description = SCENARIOS[scenario].description
        self._log = _Log()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._ssl_context: ssl.SSLContext | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._conn_ids = itertools.count(1)
        self._port = 0
        self._make_pki()
        self.sa_keys = self.config.sa_keys or ServiceAccountKeys()
        if self.config.tokens is None:
            self.admin_token = "kdoctor-demo-" + secrets.token_hex(16)
            self.limited_token = "kdoctor-jane-" + secrets.token_hex(16)
            self.tokens: dict[str, UserInfo] = {
                self.admin_token: ADMIN_USER,
                self.limited_token: LIMITED_USER,
            }
            rules = {"jane": LIMITED_RULES, **self.config.rules}
            self.config = build_config(scenario, **{**overrides, "rules": rules})
        else:
            self.tokens = dict(self.config.tokens)
            admin = [t for t, u in self.tokens.items() if "system:masters" in u.groups]
            self.admin_token = admin[0] if admin else next(iter(self.tokens), "")
            self.limited_token = ""
        self.identity = self.config.identity or "apiserver-" + secrets.token_hex(13)
        self._api: ApiServer | None = None

    # --- PKI ------------------------------------------------------------------------------------------

    def _make_pki(self) -> None:
        cfg = self.config
        now = datetime.now(timezone.utc).replace(microsecond=0)
        fault = cfg.serving
        # RSA where the fault is about the CA key: kubectl then names "crypto/rsa: verification error".
        ca_key = pooled_rsa_key("ca-rotated/configured") if fault in ("ca-rotated", "sha1") else None
        self.ca: CertKey = cfg.ca or make_ca("kubernetes", key=ca_key)
        # Client certificates from this CA pass the handshake and are refused by the x509
        # authenticator with 401, as a certificate from another cluster's CA would be.
        self.foreign_ca: CertKey = make_ca("foreign-client-ca")
        self.intermediate: CertKey | None = None
        dns = list(DEFAULT_SERVING_DNS)
        ips = list(DEFAULT_SERVING_IPS)
        if cfg.host not in ips and cfg.host not in dns:
            (ips if _is_ip(cfg.host) else dns).append(cfg.host)
        for san in cfg.extra_sans:
            (ips if _is_ip(san) else dns).append(san)
        not_before: datetime | None = None
        not_after: datetime | None = None
        issuer: CertKey | None = self.ca
        if fault == "expired":
            not_before, not_after = now - timedelta(days=400), now - timedelta(days=35)
        elif fault == "not-yet-valid":
            not_before, not_after = now + timedelta(days=30), now + timedelta(days=395)
        elif fault == "expiring-soon":
            not_before, not_after = now - timedelta(days=355), now + timedelta(days=10)
        elif fault == "san-mismatch":
            dns = [d for d in DEFAULT_SERVING_DNS if d != "localhost"]
            ips = ["10.96.0.1"]
        elif fault == "unknown-ca":
            issuer = make_ca("other-cluster-ca")
        elif fault == "ca-rotated":
            issuer = make_ca("kubernetes", key=pooled_rsa_key("ca-rotated/rebuilt"))
        elif fault == "self-signed":
            issuer = None
        if fault == "missing-intermediate" or (cfg.intermediate and issuer is self.ca):
            self.intermediate = make_ca("kubernetes-intermediate-ca", issuer=self.ca)
            issuer = self.intermediate
        #: Who signed the serving certificate (None: itself).
        self.serving_issuer: CertKey | None = issuer
        self.serving: CertKey
        if fault == "cn-only":
            # Before Go 1.15 the CN named the host; OpenSSL still accepts that, Go does not.
            self.serving = make_leaf("localhost", issuer=issuer, server=True)
        else:
            self.serving = make_serving_cert(
                issuer, dns_names=dns, ip_addresses=ips, not_before=not_before, not_after=not_after
            )
        if fault == "sha1" and issuer is not None:
            self.serving = CertKey(resign_with_sha1(self.serving.cert, issuer.key), self.serving.key)
        chain = [self.serving]
        if self.intermediate is not None and fault != "missing-intermediate":
            chain.append(self.intermediate)
        self.served_chain: tuple[CertKey, ...] = tuple(chain)

    @property
    def ca_pem(self) -> bytes:
        """The cluster CA a kubeconfig should trust (for unknown-ca / ca-rotated: not the signer)."""
        return self.ca.cert_pem

    def replica(self, *, host: str | None = None, port: int | None = None, **overrides: Any) -> Emulator:
        """Another apiserver of the same cluster, not started: same CA, service-account key, tokens
        and RBAC rules, its own identity and serving certificate (what a load balancer in front of
        two apiservers shows).

        The identity Leases of both list both apiservers. On another loopback address (`host`,
        e.g. "127.0.0.3"), the replica takes this one's port unless told otherwise, and the
        `default/kubernetes` endpoints of both list both addresses, as in a real HA cluster.
        """
        config = self.config
        new_host = host or config.host
        if port is None:
            port = self._port if new_host != config.host else 0
        identity = overrides.pop("identity", None) or "apiserver-" + secrets.token_hex(13)
        peers = (self.identity, *config.peer_identities)
        settings: dict[str, Any] = {
            "host": new_host,
            "port": port,
            "ca": self.ca,
            "sa_keys": self.sa_keys,
            "tokens": self.tokens,
            "rules": config.rules,
            "identity": identity,
            "peer_identities": peers,
        }
        mine: dict[str, Any] = {"peer_identities": (*config.peer_identities, identity)}
        if new_host != config.host and port == self._port:
            addresses = (*(config.endpoint_addresses or (config.host,)), new_host)
            settings.update(endpoint_addresses=addresses, endpoint_port=port)
            mine.update(endpoint_addresses=addresses, endpoint_port=port)
        settings.update(overrides)
        other = Emulator(self.scenario, **settings)
        other.admin_token, other.limited_token = self.admin_token, self.limited_token
        self._reconfigure(**mine)
        return other

    def _reconfigure(self, **changes: Any) -> None:
        # Frozen config, swapped whole: a request in flight sees the old or the new one, never a mix.
        self.config = dataclasses.replace(self.config, **changes)
        if self._api is not None:
            self._api.config = self.config

    def client_ssl_context(self, cert: tuple[bytes, bytes] | None = None) -> ssl.SSLContext:
        """A client ssl context that trusts the cluster CA and presents `cert` (cert PEM, key PEM)."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        if cert is not None:
            with tempfile.TemporaryDirectory(prefix="kdoctor-client-") as tmp:
                cert_path, key_path = Path(tmp) / "client.crt", Path(tmp) / "client.key"
                cert_path.write_bytes(cert[0])
                key_path.write_bytes(cert[1])
                key_path.chmod(0o600)
                context.load_cert_chain(cert_path, key_path)
        return context

    def _server_ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.config.serving == "sha1":
            # OpenSSL refuses to present a SHA-1 certificate at its default security level.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        # The ssl module loads certificates from files only; they live just long enough to be read.
        with tempfile.TemporaryDirectory(prefix="kdoctor-emulator-") as tmp:
            chain, key = Path(tmp) / "serving.crt", Path(tmp) / "serving.key"
            chain.write_bytes(b"".join(c.cert_pem for c in self.served_chain))
            key.write_bytes(self.serving.key_pem)
            key.chmod(0o600)
            context.load_cert_chain(chain, key)
        context.load_verify_locations(cadata=(self.ca.cert_pem + self.foreign_ca.cert_pem).decode())
        context.verify_mode = ssl.CERT_OPTIONAL
        # X509_V_FLAG_NO_CHECK_TIME: an expired client certificate passes the handshake and is then
        # refused with 401 by the authenticator, as kube-apiserver does.
        with contextlib.suppress(ValueError, OverflowError):
            context.verify_flags |= _X509_V_FLAG_NO_CHECK_TIME
        _send_only_configured_chain(context)
        context.set_alpn_protocols(["http/1.1"])
        return context

    # --- lifecycle ------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def url(self) -> str:
        named = self.config.url_host or self.host
        host = f"[{named}]" if ":" in named else named
        return f"https://{host}:{self._port}"

    def start(self, timeout: float = 5.0) -> Emulator:
        """Start listening; returns once the port is bound."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_exception)
        self._loop = loop
        self._thread = threading.Thread(
            target=_run_loop, args=(loop,), name=f"emulator-{self.scenario}", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), loop).result(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    async def _listen(self) -> None:
        cfg = self.config
        family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
        listener = socket.create_server((cfg.host, cfg.port), family=family, backlog=128)
        listener.setblocking(False)
        self._listener = listener
        self._port = listener.getsockname()[1]
        if cfg.mode != "hang":
            self._ssl_context = self._server_ssl_context()
        self._api = ApiServer(
            self.config,
            tokens=self.tokens,
            sa_keys=self.sa_keys,
            cluster_ca=self.ca.cert,
            identity=self.identity,
            port=self._port,
        )
        # Accepting in a reader callback (not an awaited sock_accept) means no accepted socket can be
        # lost between accept() and a cancelled await when stop() runs.
        asyncio.get_running_loop().add_reader(listener.fileno(), self._on_acceptable, listener)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection, end the loop and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = None
        self._thread = None

    async def _shutdown(self) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._listener.close()
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()
        for task in list(self._tasks):
            task.cancel()
        # A task cancelled before it first ran never reaches its `finally`: close its socket here.
        for conn in list(self._sockets):
            conn.close()
        self._sockets.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Failed handshakes are the point of most scenarios; record them instead of printing.
        exception = context.get("exception")
        with self._log.lock:
            self._log.handshake_errors.append(str(exception or context.get("message", "")))

    # --- logs -----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far (a copy)."""
        with self._log.lock:
            return list(self._log.requests)

    @property
    def connections(self) -> list[ConnectionRecord]:
        """Every connection accepted so far (a copy)."""
        with self._log.lock:
            return list(self._log.connections)

    @property
    def handshake_errors(self) -> list[str]:
        with self._log.lock:
            return list(self._log.handshake_errors)

    def clear_log(self) -> None:
        with self._log.lock:
            self._log.requests.clear()
            self._log.connections.clear()
            self._log.handshake_errors.clear()

    # --- connection handling --------------------------------------------------------------------------

    def _on_acceptable(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(64):  # a burst of connections, then let the loop breathe
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. out of file descriptors; the reader fires again
            conn.setblocking(False)
            # A Go apiserver sets TCP_NODELAY; asyncio does so only for sockets it accepts itself, not
            # for this listener. Without it a small response can wait ~40 ms on the peer's delayed ACK.
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets.add(conn)
            task = loop.create_task(self._dispatch(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, conn: socket.socket) -> None:
        """One accepted connection: hang, answer plain HTTP like Go's TLS server, or serve over TLS."""
        loop = asyncio.get_running_loop()
        owned: socket.socket | None = conn
        try:
            peer = conn.getpeername()
        except OSError:
            peer = ("",)
        record = ConnectionRecord(next(self._conn_ids), str(peer[0]), tls=False)
        with self._log.lock:
            self._log.connections.append(record)
        try:
            if self.config.mode == "hang":
                await self._hang(conn)
                return
            first = await _peek(conn, 5, timeout=10.0)
            if not first:
                return
            if first[0] != 0x16:  # not a TLS handshake record
                if first in _HTTP_PREFIXES:
                    head = await _read_plain_head(conn)
                    parsed = _parse_head(head)
                    if parsed is not None:
                        method, target, headers = parsed
                        self._record(record, Request(method, target, headers), None, 400, tls=False)
                    await _answer_plain_http(conn)
                return
            reader = asyncio.StreamReader(limit=_MAX_HEAD)
            protocol = asyncio.StreamReaderProtocol(reader)
            try:
                transport, _ = await loop.connect_accepted_socket(
                    lambda: protocol, conn, ssl=self._ssl_context, ssl_handshake_timeout=10.0
                )
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
                with self._log.lock:
                    self._log.handshake_errors.append(f"connection {record.connection_id}: {exc}")
                return
            owned = None  # the transport owns the socket now
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            await self._serve(reader, writer, record)
        except (asyncio.TimeoutError, OSError):
            pass
        finally:
            self._sockets.discard(conn)
            if owned is not None:
                owned.close()

    async def _hang(self, conn: socket.socket) -> None:
        """Accept TCP, swallow the ClientHello, never answer (a black-holed LB or the wrong port)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.hang_seconds
        while (remaining := deadline - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(loop.sock_recv(conn, 65536), remaining)
            except asyncio.TimeoutError:
                return
            if not chunk:
                return

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: ConnectionRecord
    ) -> None:
        self._writers.add(writer)
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        with self._log.lock:
            connection.tls = True
            connection.client_cert_subject = _subject_of(der) if der else None
        try:
            for _ in range(_MAX_REQUESTS_PER_CONNECTION):
                request = await self._read_request(reader, der)
                if request is None:
                    break
                connection.requests += 1
                if self.config.mode == "slow-headers" or (
                    self._api is not None and self._api.unanswered(request)
                ):
                    self._record(connection, request, None, 0)
                    await asyncio.sleep(self.config.slow_headers_seconds)
                    break
                response = self._respond(request)
                self._record(connection, request, response.user, response.status)
                keep_alive = (request.header("Connection") or "").lower() != "close"
                writer.write(self._serialize(response, keep_alive, head_only=request.method == "HEAD"))
                await asyncio.wait_for(writer.drain(), self.config.idle_timeout)
                if not keep_alive:
                    break
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _read_request(self, reader: asyncio.StreamReader, der: bytes | None) -> Request | None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.config.idle_timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        parsed = _parse_head(head)
        if parsed is None:
            return None
        method, target, headers = parsed
        lookup = {k.lower(): v for k, v in headers}
        body = b""
        if lookup.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
        elif "content-length" in lookup:
            length = int(lookup["content-length"])
            if length > _MAX_BODY:
                return None
            body = await asyncio.wait_for(reader.readexactly(length), self.config.idle_timeout)
        return Request(method, target, headers, body, der)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        for _ in range(100_000):
            size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), self.config.idle_timeout)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await asyncio.wait_for(reader.readuntil(b"\r\n"), self.config.idle_timeout)
                break
            if len(body) + size > _MAX_BODY:
                raise ValueError("body too large")
            body += await asyncio.wait_for(reader.readexactly(size + 2), self.config.idle_timeout)
            del body[-2:]
        return bytes(body)

    def _respond(self, request: Request) -> Response:
        assert self._api is not None
        try:
            return self._api.handle(request)
        except Exception as exc:  # a bug in the emulator must look like a server error, not a hang
            from kdoctor.emulator.messages import status_body

            body = status_body(500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}")

            return Response(500, json.dumps(body).encode())

    def _record(
        self,
        connection: ConnectionRecord,
        request: Request,
        user: str | None,
        status: int,
        *,
        tls: bool = True,
    ) -> None:
        record = RequestRecord(
            connection_id=connection.connection_id,
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            client_cert_subject=connection.client_cert_subject,
            user=user,
            status=status,
            time=time.time(),
            tls=tls,
        )
        with self._log.lock:
            self._log.requests.append(record)

    def _serialize(self, response: Response, keep_alive: bool, *, head_only: bool = False) -> bytes:
        date = email.utils.formatdate(time.time() + self.config.clock_offset, usegmt=True)
        headers: list[tuple[str, str]] = []
        if self.config.mode != "html":
            headers.append(("Audit-Id", str(uuid.uuid4())))
            headers.append(("Cache-Control", "no-cache, private"))
        headers.append(("Content-Type", response.content_type))
        headers += response.headers
        headers.append(("Date", date))
        headers.append(("Content-Length", str(len(response.body))))
        if not keep_alive:
            headers.append(("Connection", "close"))
        reason = _REASONS.get(response.status, "Unknown")
        head = (
            f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        )
        return head.encode("latin-1") + (b"" if head_only else response.body)

    # --- credentials ----------------------------------------------------------------------------------

    def mint_sa_token(
        self,
        namespace: str = "default",
        name: str = "default",
        *,
        pod: str | None = None,
        node: str | None = None,
        audiences: Sequence[str] | None = None,
        issuer: str | None = None,
        expires_in: float = 3600.0,
        not_before: float | None = None,
        issued_at: float | None = None,
        legacy: bool = False,
        keys: ServiceAccountKeys | None = None,
    ) -> str:
        """A service-account JWT signed with this cluster's key (or `keys`: another cluster's).

        Bound (projected) tokens carry iss/aud/exp/nbf and the `kubernetes.io` claims; `legacy=True`
        makes a secret-based token with the old flat claims and no expiry.
        """
        signer = keys or self.sa_keys
        iat = int(issued_at if issued_at is not None else time.time())
        sa_uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sa/{namespace}/{name}"))
        claims: dict[str, Any]
        if legacy:
            claims = {
                "iss": issuer or LEGACY_ISSUER,
                "kubernetes.io/serviceaccount/namespace": namespace,
                "kubernetes.io/serviceaccount/secret.name": f"{name}-token-{secrets.token_hex(3)[:5]}",
                "kubernetes.io/serviceaccount/service-account.name": name,
                "kubernetes.io/serviceaccount/service-account.uid": sa_uid,
                "sub": f"system:serviceaccount:{namespace}:{name}",
            }
            return signer.sign(claims)
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa_uid}}
        if pod:
            k8s["pod"] = {"name": pod, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pod/{namespace}/{pod}"))}
        if node:
            k8s["node"] = {"name": node, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"node/{node}"))}
        claims = {
            "aud": list(audiences if audiences is not None else self.config.sa_audiences),
            "exp": int(iat + expires_in),
            "iat": iat,
            "iss": issuer or self.config.sa_issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "nbf": int(not_before if not_before is not None else iat),
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        return signer.sign(claims)

    def mint_client_cert(
        self,
        user: str = "kubernetes-admin",
        groups: Sequence[str] = ("system:masters",),
        *,
        foreign: bool = False,
        expired: bool = False,
    ) -> tuple[bytes, bytes]:
        """(certificate PEM, private key PEM) of a client certificate: CN=user, O=groups.

        `foreign=True`: signed by another cluster's CA (the server answers 401, as a real one would).
        """
        now = datetime.now(timezone.utc)
        issuer = self.foreign_ca if foreign else self.ca
        window: dict[str, datetime] = {}
        if expired:
            window = {"not_before": now - timedelta(days=400), "not_after": now - timedelta(days=1)}
        pair = make_client_cert(issuer, user, groups, **window)
        return pair.cert_pem, pair.key_pem

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        user: str = "token",
        token: str | None = None,
        context_name: str = "emulator",
        server: str | None = None,
        ca_pem: bytes | None = None,
        insecure_skip_tls_verify: bool = False,
        tls_server_name: str | None = None,
        proxy_url: str | None = None,
        namespace: str | None = None,
        client_cert: tuple[bytes, bytes] | None = None,
        exec_env: Mapping[str, str] | None = None,
    ) -> Path:
        """Write a kubeconfig for this cluster and return its path.

        `user`: "token" (the admin token unless `token`), "cert" (a client certificate, or
        `client_cert`), "basic" (username/password, which apiservers reject), "exec" (a plugin that
        prints an ExecCredential with the token), "none" (no credentials).
        """

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode("ascii")

        cluster: dict[str, Any] = {"server": server or self.url}
        if insecure_skip_tls_verify:
            cluster["insecure-skip-tls-verify"] = True
        else:
            cluster["certificate-authority-data"] = b64(ca_pem if ca_pem is not None else self.ca_pem)
        if tls_server_name:
            cluster["tls-server-name"] = tls_server_name
        if proxy_url:
            cluster["proxy-url"] = proxy_url
        credential = token if token is not None else self.admin_token
        user_entry: dict[str, Any]
        if user == "token":
            user_entry = {"token": credential}
        elif user == "cert":
            cert_pem, key_pem = client_cert or self.mint_client_cert()
            user_entry = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
        elif user == "basic":
            user_entry = {"username": "admin", "password": "kdoctor-" + secrets.token_hex(8)}
        elif user == "exec":
            script = target.with_name(target.name + "-credential.py")
            script.write_text(_exec_plugin_source(credential), encoding="utf-8")
            script.chmod(0o700)
            exec_entry: dict[str, Any] = {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": [str(script)],
                "interactiveMode": "Never",
            }
            if exec_env:
                exec_entry["env"] = [{"name": k, "value": v} for k, v in exec_env.items()]
            user_entry = {"exec": exec_entry}
        elif user == "none":
            user_entry = {}
        else:
            raise ValueError(f"unknown user kind {user!r}")
        context: dict[str, Any] = {"cluster": context_name, "user": context_name}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context_name, "cluster": cluster}],
            "users": [{"name": context_name, "user": user_entry}],
            "contexts": [{"name": context_name, "context": context}],
            "current-context": context_name,
            "preferences": {},
        }
        import yaml

        target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        target.chmod(0o600)
        return target

    def serviceaccount_dir(
        self, path: str | os.PathLike[str], *, token: str | None = None, namespace: str = "default"
    ) -> Path:
        """Write a pod's service-account directory (token, ca.crt, namespace) and return it."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "token").write_text(
            token or self.mint_sa_token(namespace, pod="kdoctor-0"), encoding="utf-8"
        )
        (directory / "ca.crt").write_bytes(self.ca_pem)
        (directory / "namespace").write_text(namespace, encoding="utf-8")
        return directory


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The listener thread: run until stop(), then end every task still there and close the loop."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            # Connections whose TLS handshake finished while stop() ran start after the sweep
            # in _shutdown; end them here, as asyncio.run does, before the loop closes.
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=2.0))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _exec_plugin_source(token: str) -> str:

    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    return f"import sys\nsys.stdout.write({json.dumps(json.dumps(credential))})\n"


#: Go's net/http answers a plain-HTTP request on its TLS port with this (tlsRecordHeaderLooksLikeHTTP).
_HTTP_PREFIXES = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")
_PLAIN_HTTP_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


async def _peek(conn: socket.socket, size: int, timeout: float) -> bytes:
    """Up to `size` bytes the client sent, left in the socket (b"" if it closed first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            data = conn.recv(size, socket.MSG_PEEK)
        except BlockingIOError:
            data = None
        if data is not None and (not data or data[0] == 0x16 or len(data) >= size):
            return data
        if loop.time() >= deadline:
            raise asyncio.TimeoutError
        if data is None:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(conn.fileno(), _set_once, ready)
            try:
                await asyncio.wait_for(ready, max(0.0, deadline - loop.time()))
            finally:
                loop.remove_reader(conn.fileno())
        else:
            await asyncio.sleep(0.01)  # a partial record header: wait for the rest


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _read_plain_head(conn: socket.socket) -> bytes:
    """The request head of a plain-HTTP client (read first: closing with unread data would reset
    the connection under the answer)."""
    loop = asyncio.get_running_loop()
    head = b""
    with contextlib.suppress(asyncio.TimeoutError, OSError):
        deadline = loop.time() + 1.0
        while b"\r\n\r\n" not in head and len(head) < _MAX_HEAD:
            chunk = await asyncio.wait_for(loop.sock_recv(conn, _MAX_HEAD), max(0.0, deadline - loop.time()))
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"


async def _answer_plain_http(conn: socket.socket) -> None:
    """Answer like Go's TLS server answers plain HTTP on its TLS port."""
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.sock_sendall(conn, _PLAIN_HTTP_ANSWER), 5.0)
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)


def _parse_head(head: bytes) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """(method, target, headers) of an HTTP/1.x request head, or None if it is not one."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    method, target = parts[0], parts[1]
    if target.startswith(("http://", "https://")):  # absolute form, as sent to proxies
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return method, target, tuple(headers)


_X509_V_FLAG_NO_CHECK_TIME = 0x200000
_SSL_CTRL_MODE = 33
_SSL_MODE_AUTO_RETRY = 0x4
_SSL_MODE_NO_AUTO_CHAIN = 0x8


def _send_only_configured_chain(context: ssl.SSLContext) -> bool:
    """Make OpenSSL send exactly the configured chain, like kube-apiserver (Go) does.

    With client-certificate CAs in the verify store, OpenSSL completes a leaf-only chain from that
    store and sends the cluster CA too, so a healthy emulator would present two certificates where
    kube-apiserver presents one. Python does not expose SSL_MODE_NO_AUTO_CHAIN, so it is set through
    the SSL_CTX pointer of CPython's SSLContext object, using the OpenSSL that `_ssl` itself is
    linked with. Anywhere that is not possible the chain keeps the extra CA; returns whether it worked.
    """

    if platform.python_implementation() != "CPython":
        return False
    try:
        import _ssl
        import ctypes

        ctrl = ctypes.CDLL(_ssl.__file__).SSL_CTX_ctrl
        ctrl.restype = ctypes.c_long
        ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        # PySSLContext starts with PyObject_HEAD, then `SSL_CTX *ctx`.
        pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
        if not pointer:
            return False
        mode = int(ctrl(pointer, _SSL_CTRL_MODE, 0, None))
        if not mode & _SSL_MODE_AUTO_RETRY:  # not the SSL_CTX Python configured: leave it alone
            return False
        return bool(ctrl(pointer, _SSL_CTRL_MODE, _SSL_MODE_NO_AUTO_CHAIN, None) & _SSL_MODE_NO_AUTO_CHAIN)
    except (AttributeError, OSError, ValueError, TypeError):
        return False


def _is_ip(text: str) -> bool:

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _subject_of(der: bytes) -> str | None:
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return None
