"""Real proxies on loopback for the proxy tests: tinyproxy, `kubectl proxy`, nginx (stream) and a TCP forwarder.

Each is a context manager that starts the real program with a configuration written under the
test's tmp_path, waits (bounded) until it accepts connections, and stops it by its own pid on exit.
Everything binds 127.0.0.0/8 only. A missing program skips the test locally and fails it under CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import selectors
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from tests.lab.tools import missing, plain_kubectl, require_tool

__all__ = [
    "KubectlProxy",
    "NginxStream",
    "Socks5Proxy",
    "TcpForwarder",
    "Tinyproxy",
    "TlsInterceptor",
    "free_port",
    "wait_for_port",
]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_PORT_ATTEMPTS = 3
_NGINX_STREAM_MODULES = (
    "/usr/lib/nginx/modules/ngx_stream_module.so",
    "/usr/lib64/nginx/modules/ngx_stream_module.so",
    "/usr/share/nginx/modules/ngx_stream_module.so",
)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the kernel's choice for an ephemeral bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str, port: int, *, timeout: float = _START_TIMEOUT, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once host:port accepts TCP; raise if the process died or the deadline passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with code {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:g}s")


class _Process:
    """A started child process, stopped by its own pid (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.log_path = log
        self._log = log.open("wb")
        self.process: subprocess.Popen[bytes] = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(_STOP_TIMEOUT)
        self._log.close()

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


M = TypeVar("M", bound="_Managed")


class _Managed:
    _proc: _Process | None = None

    def start(self: M) -> M:
        raise NotImplementedError

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    def output(self) -> str:
        """What the program printed (its log, for tinyproxy)."""
        return self._proc.output() if self._proc is not None else ""

    def _launch(self, build: Callable[[int], _Process]) -> int:
        """Start `build(port)` on a free port and wait until it listens; another port if it lost the race."""
        last: BaseException | None = None
        for _attempt in range(_PORT_ATTEMPTS):
            port = free_port()
            self._proc = build(port)
            try:
                wait_for_port("127.0.0.1", port, process=self._proc.process)
                return port
            except RuntimeError as exc:  # exited early: most likely the port was taken meanwhile
                last = exc
                self.stop()
            except BaseException:
                self.stop()
                raise
        raise RuntimeError(f"could not start after {_PORT_ATTEMPTS} attempts: {last}")

    def __enter__(self: M) -> M:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Tinyproxy(_Managed):
    """Debian's tinyproxy in the foreground: an HTTP proxy that tunnels CONNECT to `connect_ports`.

    `basic_auth=(user, password)`: every request without those credentials gets 407.
    """

    def __init__(
        self,
        tmp_path: Path,
        *,
        connect_ports: Sequence[int] = (),
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.binary = require_tool("tinyproxy")
        self.dir = tmp_path / f"tinyproxy-{id(self):x}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.connect_ports = tuple(connect_ports)
        self.basic_auth = basic_auth
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy URL without credentials."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_with_credentials(self) -> str:
        if self.basic_auth is None:
            return self.url
        user, password = self.basic_auth
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def start(self) -> Tinyproxy:
        def build(port: int) -> _Process:
            lines = [
                f"Port {port}",
                "Listen 127.0.0.1",
                "Timeout 15",
                "LogLevel Connect",
                "MaxClients 32",
                f'PidFile "{self.dir / "tinyproxy.pid"}"',
                *(f"ConnectPort {p}" for p in self.connect_ports),
            ]
            if self.basic_auth is not None:
                lines.append(f"BasicAuth {self.basic_auth[0]} {self.basic_auth[1]}")
            conf = self.dir / "tinyproxy.conf"
            conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return _Process([self.binary, "-d", "-c", str(conf)], self.dir / "tinyproxy.log")

        self.port = self._launch(build)
        return self

    def connects(self) -> list[str]:
        """The host:port of every CONNECT request tinyproxy logged."""
        return re.findall(r"Request \(file descriptor \d+\): CONNECT (\S+) HTTP", self.output())


class KubectlProxy(_Managed):
    """The real `kubectl proxy` on a loopback port, in front of the cluster of `kubeconfig`."""

    def __init__(self, tmp_path: Path, kubeconfig: Path) -> None:
        self.binary = plain_kubectl()
        self.dir = tmp_path / f"kubectl-proxy-{id(self):x}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = kubeconfig
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> KubectlProxy:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.dir),
            "KUBECONFIG": str(self.kubeconfig),
        }

        def build(port: int) -> _Process:
            argv = [
                self.binary,
                "proxy",
                f"--port={port}",
                "--address=127.0.0.1",
                f"--kubeconfig={self.kubeconfig}",
            ]
            return _Process(argv, self.dir / "kubectl-proxy.log", env=env)

        self.port = self._launch(build)
        return self


class NginxStream(_Managed):
    """nginx with the stream module as a round-robin TCP load balancer in front of `upstreams`."""

    def __init__(self, tmp_path: Path, upstreams: Sequence[tuple[str, int]]) -> None:
        self.binary = require_tool("nginx")
        module = next((m for m in _NGINX_STREAM_MODULES if Path(m).is_file()), None)
        if module is None and not _stream_built_in(self.binary):
            missing("nginx's stream module (Debian: libnginx-mod-stream)")
        self.module = module
        self.dir = tmp_path / f"nginx-{id(self):x}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.upstreams = tuple(upstreams)
        self.port = 0

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self) -> NginxStream:
        servers = "".join(f"    server {host}:{port};\n" for host, port in self.upstreams)
        head = f"load_module {self.module};\n" if self.module else ""
        if os.geteuid() == 0:
            head += "user root;\n"

        def build(port: int) -> _Process:
            conf = self.dir / "nginx.conf"
            conf.write_text(
                f"{head}worker_processes 1;\n"
                f"pid {self.dir / 'nginx.pid'};\n"
                f"error_log {self.dir / 'error.log'} info;\n"
                "events { worker_connections 64; }\n"
                "stream {\n"
                "  upstream apiservers {\n"
                f"{servers}"
                "  }\n"
                "  server {\n"
                f"    listen 127.0.0.1:{port};\n"
                "    proxy_pass apiservers;\n"
                "    proxy_connect_timeout 2s;\n"
                "  }\n"
                "}\n",
                encoding="utf-8",
            )
            argv = [self.binary, "-c", str(conf), "-p", str(self.dir), "-e", str(self.dir / "error.log"),
                    "-g", "daemon off;"]  # fmt: skip
            return _Process(argv, self.dir / "nginx.out")

        self.port = self._launch(build)
        return self

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _stream_built_in(nginx: str) -> bool:
    """Whether this nginx has the stream module compiled in (`nginx -V` says --with-stream, not =dynamic)."""
    try:
        done = subprocess.run(
            [nginx, "-V"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--with-stream" in done.stderr.split()


class TcpForwarder:
    """A plain TCP forwarder in-process (threads), standing in for a Service VIP that kube-proxy maps.

    Listens on `listen_host` (e.g. 127.0.0.2, a second loopback address) and copies bytes both ways
    to `target`. `connections` counts accepted connections. With `tls` (a server-side context), it
    terminates TLS on the listening side and forwards the plain bytes (see TlsTerminator).
    """

    def __init__(
        self, target: tuple[str, int], listen_host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None
    ) -> None:
        self.target = target
        self.listen_host = listen_host
        self.tls = tls
        self.port = 0
        self.connections = 0
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> TcpForwarder:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.listen_host, 0))
        sock.listen(32)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        thread = threading.Thread(target=self._accept_loop, name="tcp-forwarder", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._pipe, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pipe(self, client: socket.socket) -> None:
        try:
            if self.tls is not None:
                client.settimeout(10)  # a client that never finishes the handshake does not hold a thread
                client = self.tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:  # ssl.SSLError included
            client.close()
            return
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        deadline = time.monotonic() + 120
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.2):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                    # Decrypted bytes already buffered by TLS make the socket look idle to select().
                    while isinstance(source, ssl.SSLSocket) and source.pending():
                        key.data.sendall(source.recv(65536))
        except OSError:
            return
        finally:
            selector.close()
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.close()

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> TcpForwarder:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class TlsTerminator(TcpForwarder):
    """TLS on a loopback port, plain TCP to `target`: put in front of tinyproxy, it is an https:// proxy.

    Its certificate comes from a CA made here (`ca_path` holds the CA to trust, e.g. through
    SSL_CERT_FILE); the relaying is TcpForwarder's. It stops with the context.
    """

    def __init__(self, directory: Path, target: tuple[str, int]) -> None:
        from kdoctor.emulator.pki import make_ca, make_serving_cert, write_pem

        directory.mkdir(parents=True, exist_ok=True)
        ca = make_ca("test-proxy-ca")
        leaf = make_serving_cert(ca, dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        self.ca_path = write_pem(directory / "proxy-ca.crt", ca.cert_pem)
        cert = write_pem(directory / "proxy.crt", leaf.cert_pem)
        key = write_pem(directory / "proxy.key", leaf.key_pem, private=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        super().__init__(target, tls=context)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> TlsTerminator:
        self.start()
        return self


class TlsInterceptor:
    """A TLS-intercepting proxy on loopback: it terminates TLS with a certificate from its own CA
    (`issuer_name`, "corp-proxy-ca" by default) and re-encrypts towards `target` without verifying it,
    the way corporate TLS inspection does. Runs an asyncio loop in a thread.
    """

    def __init__(
        self,
        tmp_path: Path,
        target: tuple[str, int],
        issuer_name: str = "corp-proxy-ca",
        *,
        dns_names: Sequence[str] = ("localhost",),
        ip_addresses: Sequence[str] = ("127.0.0.1",),
    ) -> None:
        from kdoctor.emulator.pki import make_ca, make_serving_cert, write_pem

        self.target = target
        self.ca = make_ca(issuer_name)
        # An interceptor's own names (`dns_names`) may not match the server URL at all.
        leaf = make_serving_cert(self.ca, dns_names=list(dns_names), ip_addresses=list(ip_addresses))
        directory = tmp_path / f"interceptor-{id(self):x}"
        directory.mkdir(parents=True, exist_ok=True)
        self._cert = write_pem(directory / "leaf.crt", leaf.cert_pem)
        self._key = write_pem(directory / "leaf.key", leaf.key_pem, private=True)
        self.port = 0
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> TlsInterceptor:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tls-interceptor", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(_START_TIMEOUT)
        return self

    async def _listen(self) -> None:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(self._cert, self._key)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=server_ctx)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE  # what an interceptor does; this is the test's fake one
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target, ssl=client_ctx), _STOP_TIMEOUT
            )
        except (OSError, asyncio.TimeoutError):
            writer.close()
            return

        await _pipe_both(reader, writer, up_reader, up_writer)

    def stop(self) -> None:
        if self._loop is None:
            return
        _stop_loop(self._loop, self._server, self._thread)
        self._loop = None

    def __enter__(self) -> TlsInterceptor:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Socks5Proxy:
    """A minimal SOCKS5 proxy (RFC 1928: no authentication, CONNECT only) on loopback, in a thread.

    No SOCKS server ships with the Debian packages the tests install, so this one is written here;
    `connects` records every "host:port" a client asked it to reach.
    """

    def __init__(self) -> None:
        self.port = 0
        self.connects: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    def start(self) -> Socks5Proxy:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socks5", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(_START_TIMEOUT)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(self._negotiate(reader, writer), _STOP_TIMEOUT)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            writer.close()
            return
        await _pipe_both(reader, writer, up_reader, up_writer)

    async def _negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 0 not in methods:
            writer.write(b"\x05\xff")
            raise ValueError("no acceptable method")
        writer.write(b"\x05\x00")
        _ver, command, _rsv, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        elif atyp == 3:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("idna")
        else:
            raise ValueError("bad address type")
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.connects.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        if command != 1 or not _is_loopback_target(host):
            writer.write(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")  # not allowed: loopback only
            raise ValueError("refused")
        up_reader, up_writer = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + port.to_bytes(2, "big"))
        await writer.drain()
        return up_reader, up_writer

    def stop(self) -> None:
        if self._loop is None:
            return
        _stop_loop(self._loop, self._server, self._thread)
        self._loop = None

    def __enter__(self) -> Socks5Proxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _is_loopback_target(host: str) -> bool:
    # The lab never reaches beyond loopback, whatever a client asks.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        with contextlib.suppress(OSError, ssl.SSLError, RuntimeError):
            dst.close()

    await asyncio.wait(
        [asyncio.ensure_future(pipe(reader, up_writer)), asyncio.ensure_future(pipe(up_reader, writer))],
        timeout=60,
    )


def _stop_loop(
    loop: asyncio.AbstractEventLoop,
    server: asyncio.base_events.Server | None,
    thread: threading.Thread | None,
) -> None:
    async def close() -> None:
        if server is not None:
            server.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(close(), loop).result(_STOP_TIMEOUT)
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(_STOP_TIMEOUT)
    loop.close()
