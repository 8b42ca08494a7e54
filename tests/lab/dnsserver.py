"""A real DNS server on a loopback address, port 53, for the in-pod DNS tests.

dnslib builds and parses the messages; one thread per server serves UDP and TCP with a selector
loop, so a test's servers never outlive it (`stop()` returns within a fraction of a second).
Behaviours: fixed records, NXDOMAIN for the rest, per-name rcodes (SERVFAIL, REFUSED), a wildcard
that answers every name, truncation of UDP answers (TC bit, so clients retry over TCP), and a
server that reads queries and never answers (or drops one query type, like the conntrack race
that loses one of a pair of parallel A/AAAA queries).

Each server gets its own address in 127.0.53.0/24 (resolvers always use port 53, so addresses
are what tells test servers apart). Tests run as root; a bind that fails says so clearly.
"""

from __future__ import annotations

import contextlib
import itertools
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, A, DNSRecord

from tests.lab.tools import missing

PORT = 53
_ADDRESSES = (f"127.0.53.{n}" for n in itertools.cycle(range(1, 250)))
_ADDRESS_LOCK = threading.Lock()
# Bounded so a broken machine fails fast instead of trying every address.
_MAX_BIND_TRIES = 40
_MAX_TCP_CLIENTS = 16


@dataclass(frozen=True)
class Query:
    transport: str  # "udp" or "tcp"
    name: str  # lower case, absolute ("kubernetes.default.svc.cluster.local.")
    qtype: str  # "A", "AAAA", ...


def _absolute(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


class DNSServer:
    """One nameserver. Configure before or after `start()`; queries are logged in `queries`."""

    def __init__(
        self,
        *,
        records: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        rcodes: Mapping[str, str] | None = None,
        wildcard: str | None = None,
        truncate_udp: bool = False,
        silent: bool = False,
        drop_qtypes: Sequence[str] = (),
        address: str | None = None,
    ) -> None:
        self.records: dict[str, list[tuple[str, str]]] = {
            _absolute(k): list(v) for k, v in (records or {}).items()
        }
        self.rcodes = {_absolute(k): v for k, v in (rcodes or {}).items()}
        self.wildcard = wildcard
        self.truncate_udp = truncate_udp
        self.silent = silent
        self.drop_qtypes = {q.upper() for q in drop_qtypes}
        self.requested_address = address
        self.address = ""
        self.queries: list[Query] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None

    # configuration -----------------------------------------------------------------------
    def add(self, name: str, qtype: str, value: str) -> None:
        with self._lock:
            self.records.setdefault(_absolute(name), []).append((qtype.upper(), value))

    def set_rcode(self, name: str, rcode: str) -> None:
        with self._lock:
            self.rcodes[_absolute(name)] = rcode

    def names_asked(self) -> list[str]:
        with self._lock:
            return [q.name for q in self.queries]

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> DNSServer:
        self._bind()
        self._thread = threading.Thread(target=self._serve, name=f"dns-{self.address}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()

    def __enter__(self) -> DNSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bind(self) -> None:
        errors: list[str] = []
        for address in _candidates(self.requested_address):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                udp.bind((address, PORT))
                tcp.bind((address, PORT))
            except OSError as exc:
                udp.close()
                tcp.close()
                errors.append(f"{address}:{PORT}: {exc}")
                if isinstance(exc, PermissionError):
                    break
                continue
            tcp.listen(8)
            udp.setblocking(False)
            tcp.setblocking(False)
            self.address, self._udp, self._tcp = address, udp, tcp
            return
        why = (
            f"a test DNS server on loopback port 53 (root or CAP_NET_BIND_SERVICE): {'; '.join(errors[-3:])}"
        )
        if any("Permission denied" in e for e in errors):
            missing(why)  # a developer's unprivileged run skips; CI runs as root, where this fails
        raise RuntimeError(f"cannot bind {why}")

    # serving -----------------------------------------------------------------------------
    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        selector = selectors.DefaultSelector()
        selector.register(self._udp, selectors.EVENT_READ, "udp")
        selector.register(self._tcp, selectors.EVENT_READ, "listen")
        clients: dict[socket.socket, tuple[bytearray, float]] = {}
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    if key.data == "udp":
                        self._serve_udp()
                    elif key.data == "listen":
                        self._accept(selector, clients)
                    else:
                        self._serve_tcp(key.fileobj, selector, clients)  # type: ignore[arg-type]
                now = time.monotonic()
                for conn in [c for c, (_, t) in clients.items() if now - t > 5]:
                    self._drop(conn, selector, clients)
        finally:
            for conn in list(clients):
                self._drop(conn, selector, clients)
            selector.close()

    def _serve_udp(self) -> None:
        assert self._udp is not None
        try:
            data, peer = self._udp.recvfrom(4096)
        except OSError:
            return
        reply = self._answer(data, "udp")
        if reply is not None:
            with contextlib.suppress(OSError):
                self._udp.sendto(reply, peer)

    def _accept(
        self, selector: selectors.BaseSelector, clients: dict[socket.socket, tuple[bytearray, float]]
    ) -> None:
        assert self._tcp is not None
        try:
            conn, _ = self._tcp.accept()
        except OSError:
            return
        if len(clients) >= _MAX_TCP_CLIENTS:
            conn.close()
            return
        conn.setblocking(False)
        clients[conn] = (bytearray(), time.monotonic())
        selector.register(conn, selectors.EVENT_READ, "client")

    def _serve_tcp(
        self,
        conn: socket.socket,
        selector: selectors.BaseSelector,
        clients: dict[socket.socket, tuple[bytearray, float]],
    ) -> None:
        try:
            chunk = conn.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(conn, selector, clients)
            return
        buffer, started = clients[conn]
        buffer += chunk
        while len(buffer) >= 2 and len(buffer) >= 2 + int.from_bytes(buffer[:2], "big"):
            size = int.from_bytes(buffer[:2], "big")
            message, buffer[:] = bytes(buffer[2 : 2 + size]), buffer[2 + size :]
            reply = self._answer(message, "tcp")
            if reply is not None:
                conn.setblocking(True)
                conn.settimeout(1)
                try:
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
                except OSError:
                    self._drop(conn, selector, clients)
                    return
                conn.setblocking(False)
        clients[conn] = (buffer, started)

    @staticmethod
    def _drop(
        conn: socket.socket,
        selector: selectors.BaseSelector,
        clients: dict[socket.socket, tuple[bytearray, float]],
    ) -> None:
        clients.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        conn.close()

    def _answer(self, data: bytes, transport: str) -> bytes | None:
        try:
            request = DNSRecord.parse(data)
        except Exception:
            return None
        name = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append(Query(transport, name, qtype))
            if self.silent or qtype in self.drop_qtypes:
                return None
            records = list(self.records.get(name, ()))
            rcode = self.rcodes.get(name)
        reply = request.reply()
        if transport == "udp" and self.truncate_udp:
            reply.header.tc = 1
            return bytes(reply.pack())
        if rcode is not None:
            reply.header.rcode = getattr(RCODE, rcode)
        elif records:
            self._add_records(reply, name, qtype, records, depth=0)
        elif self.wildcard is not None:
            if qtype == "A":
                reply.add_answer(RR(name, QTYPE.A, rdata=A(self.wildcard), ttl=30))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return bytes(reply.pack())

    def _add_records(
        self, reply: DNSRecord, name: str, qtype: str, records: list[tuple[str, str]], depth: int
    ) -> None:
        for rtype, value in records:
            if rtype == "CNAME" and depth < 4:
                reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(value), ttl=30))
                target = _absolute(value)
                self._add_records(reply, target, qtype, list(self.records.get(target, ())), depth + 1)
            elif rtype == qtype == "A":
                reply.add_answer(RR(name, QTYPE.A, rdata=A(value), ttl=30))
            elif rtype == qtype == "AAAA":
                reply.add_answer(RR(name, QTYPE.AAAA, rdata=AAAA(value), ttl=30))


def _candidates(requested: str | None) -> Iterator[str]:
    """The requested address, else fresh addresses of 127.0.53.0/24, a bounded number of them."""
    if requested:
        yield requested
        return
    for _ in range(_MAX_BIND_TRIES):
        with _ADDRESS_LOCK:
            address = next(_ADDRESSES)
        yield address


def unused_address() -> str:
    """A loopback address where nothing listens on port 53 (UDP queries are refused)."""
    for address in _candidates(None):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((address, PORT))
        except OSError:
            continue
        finally:
            probe.close()
        return address
    raise RuntimeError("no free loopback address for a closed nameserver")


def write_resolv_conf(
    directory: Path,
    nameservers: Sequence[str],
    *,
    search: Sequence[str] | None = ("default.svc.cluster.local", "svc.cluster.local", "cluster.local"),
    options: Sequence[str] = ("ndots:5",),
    name: str = "resolv.conf",
) -> Path:
    """A resolv.conf as kubelet writes it for a ClusterFirst pod (by default)."""
    lines = [f"nameserver {ns}" for ns in nameservers]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    path = directory / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def dns_server() -> Iterator[Callable[..., DNSServer]]:
    """Factory: `dns_server(records={...}, ...)` starts a server; all are stopped after the test."""
    started: list[DNSServer] = []

    def make(**kwargs: object) -> DNSServer:
        server = DNSServer(**kwargs)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
