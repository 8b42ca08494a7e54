"""Loopback peers that hang in one phase each, and a runner that times kdoctor against them.

Used by tests/test_hangs.py (bound asserted with a generous margin) and bench/bench_hangs.py
(the overrun past --timeout measured and printed). Every peer listens on 127.0.0.0/8 only.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kdoctor.emulator.pki import make_ca, make_serving_cert

REPO = Path(__file__).resolve().parents[2]


class _Peer:
    """A listener on 127.0.0.1 whose connections are handled by `handle` in daemon threads."""

    def __init__(self, backlog: int = 64) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def serve(self) -> _Peer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            threading.Thread(target=self._guard, args=(conn,), daemon=True).start()

    def _guard(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        self.stop.wait(60)  # accept TCP, never say a word

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


class _TLSPeer(_Peer):
    def __init__(self) -> None:
        super().__init__()
        self.ca = make_ca("hang-lab-ca")
        serving = make_serving_cert(self.ca, dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        d = Path(os.environ.get("TMPDIR", "/tmp"))
        cert = d / f"hang-lab-{id(self)}.pem"
        cert.write_bytes(serving.cert_pem + serving.key_pem)
        self.context.load_cert_chain(cert)
        cert.unlink()

    def handle(self, conn: socket.socket) -> None:
        tls = self.context.wrap_socket(conn, server_side=True)
        tls.settimeout(60)
        tls.recv(65536)  # the request
        self.respond(tls)

    def respond(self, tls: ssl.SSLSocket) -> None:
        self.stop.wait(60)  # never send the response headers


class _TricklePeer(_TLSPeer):
    def respond(self, tls: ssl.SSLSocket) -> None:
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
        while not self.stop.wait(0.05):
            tls.sendall(b" ")  # a body that never ends, one byte at a time


class _PartialPeer(_TLSPeer):
    """Answers GET /version and leaves every other request without an answer, on kept-alive
    connections: an apiserver whose storage is gone, at its simplest."""

    VERSION = json.dumps(
        {
            "major": "1",
            "minor": "31",
            "gitVersion": "v1.31.4",
            "platform": "linux/amd64",
            "goVersion": "go1.22.10",
        }
    ).encode()

    def handle(self, conn: socket.socket) -> None:
        tls = self.context.wrap_socket(conn, server_side=True)
        tls.settimeout(60)
        buffered = b""
        for _ in range(1000):  # requests on this connection
            while b"\r\n\r\n" not in buffered:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(
                (
                    int(v)
                    for k, _, v in (x.partition(":") for x in lines[1:])
                    if k.strip().lower() == "content-length"
                ),
                0,
            )
            while len(buffered) < length:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            buffered = buffered[length:]
            parts = lines[0].split(" ")
            if len(parts) < 2 or parts[1] != "/version":
                self.stop.wait(60)  # the request that needs storage: no answer
                return
            tls.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(self.VERSION)}\r\n\r\n".encode()
                + self.VERSION
            )


class _FullBacklog(_Peer):
    """A listener whose accept queue is full: the kernel drops further SYNs, connect() hangs."""

    def __init__(self) -> None:
        super().__init__(backlog=0)
        self.fillers = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", self.port))
            self.fillers.append(s)
        time.sleep(0.1)

    def serve(self) -> _Peer:
        return self  # never accepts

    def close(self) -> None:
        super().close()
        for s in self.fillers:
            s.close()


class SilentDNS:
    """A DNS server on 127.0.99.N:53 (UDP and TCP) that reads every query and never answers."""

    def __init__(self) -> None:
        for last in range(2, 250):
            host = f"127.0.99.{last}"
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket()
            try:
                udp.bind((host, 53))
                tcp.bind((host, 53))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            self.host, self.udp, self.tcp = host, udp, tcp
            break
        else:
            raise OSError("no free 127.0.99.N:53 for the silent DNS server")
        self.stop = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        self.udp.settimeout(0.2)
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                self.udp.recvfrom(4096)

    def close(self) -> None:
        self.stop.set()
        self.udp.close()
        self.tcp.close()


def kubeconfig(
    path: Path, server: str, *, user: dict[str, Any] | None = None, ca_pem: bytes | None = None
) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    else:
        cluster["insecure-skip-tls-verify"] = True
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
        "users": [{"name": "u", "user": user or {"token": "hang-lab-token"}}],
    }
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


def multi_target_config(peers: dict[str, _Peer]) -> dict[str, Any]:
    """A kubeconfig with one context per peer (name → peer), all with the same token user."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": n,
                "cluster": {"server": f"https://127.0.0.1:{p.port}", "insecure-skip-tls-verify": True},
            }
            for n, p in peers.items()
        ],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "u"}} for n in peers],
        "current-context": next(iter(peers)),
        "users": [{"name": "u", "user": {"token": "t"}}],
    }


@dataclass
class Timed:
    seconds: float
    code: int
    report: dict[str, Any]

    def statuses(self) -> dict[str, str]:
        return {r["id"]: r["status"] for t in self.report["targets"] for r in t["results"]}

    def summary(self, check_id: str) -> str:
        return next(r["summary"] for t in self.report["targets"] for r in t["results"] if r["id"] == check_id)


def run_in_process(
    config: Path, timeout: float, env: dict[str, str] | None = None, *, all_contexts: bool = False
) -> Timed:
    """kdoctor's own entry (what the CLI calls), timed from the call to the verdict."""
    from kdoctor.app import OutputOptions, run_command
    from kdoctor.context import Environment, Options

    out = io.StringIO()
    environment = Environment(
        env={"KUBECONFIG": str(config), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
        home=config.parent,
    )
    started = time.perf_counter()
    code = run_command(
        Options(timeout=timeout, in_cluster=False, all_contexts=all_contexts),
        OutputOptions(format="json"),
        environment=environment,
        stdout=out,
        stderr=io.StringIO(),
    )
    return Timed(time.perf_counter() - started, code, json.loads(out.getvalue()))


def run_with_resolver(config: Path, timeout: float, dns: SilentDNS, work: Path) -> Timed:
    """`python -m kdoctor` in a mount namespace whose /etc/resolv.conf names only `dns`.

    The system resolver of that process (and only that process) asks the silent loopback server,
    so a lookup of the server name hangs without touching the machine's resolver. Needs root
    (unshare -m); the time is the whole process, start-up and exit included.
    """
    resolv = work / "resolv.conf"
    resolv.write_text(f"nameserver {dns.host}\noptions timeout:30 attempts:1\n")
    report = work / "report.json"
    script = (
        f"mount --bind {resolv} /etc/resolv.conf && exec {sys.executable} -m kdoctor run "
        f"--timeout {timeout:g} --no-in-cluster -o json --report {report} > /dev/null"
    )
    env = {
        "KUBECONFIG": str(config),
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "PYTHONPATH": str(REPO),
    }
    started = time.perf_counter()
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], env=env, timeout=120, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if not report.exists():
        raise AssertionError(f"no report: {proc.stderr}")
    return Timed(seconds, proc.returncode, json.loads(report.read_text()))


@contextlib.contextmanager
def peer(kind: str) -> Iterator[_Peer]:
    made: _Peer = {
        "tcp": _FullBacklog,
        "accept": _Peer,
        "headers": _TLSPeer,
        "trickle": _TricklePeer,
        "partial": _PartialPeer,
    }[kind]()
    made.serve()
    try:
        yield made
    finally:
        made.close()


def hang_plugin(path: Path, pidfile: Path) -> Path:
    """An exec plugin that starts a child holding stdout, then both sleep: only killing the whole
    process group ends them."""
    path.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nsleep 300\n")
    path.chmod(0o755)
    return path
