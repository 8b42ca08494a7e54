"""Listeners that pose as proxies and misbehave, on loopback, each in its own thread.

`BadProxy("silent")` accepts connections and never answers; `"close"` closes each connection as
soon as it is accepted (the client sees EOF or a reset); `"http-400"` is a plain-HTTP server that
answers whatever arrives with "400 Bad Request" (a plain-HTTP proxy behind an https:// URL sees a
TLS ClientHello and answers so). `accepted` counts connections.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["BadProxy", "TlsTerminator"]

_MODES = ("silent", "close", "http-400")
_MAX_HELD = 64


class BadProxy:
    def __init__(self, mode: str) -> None:
        assert mode in _MODES, mode
        self.mode = mode
        self.accepted = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"badproxy-{mode}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            if self.mode == "close":
                conn.close()
            elif self.mode == "http-400":
                with contextlib.suppress(OSError):
                    conn.settimeout(2)
                    conn.recv(4096)
                    conn.sendall(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                conn.close()
            elif len(self._held) < _MAX_HELD:
                self._held.append(conn)  # silent: hold it open, say nothing
            else:
                conn.close()

    def __enter__(self) -> BadProxy:
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._sock.close()


class TlsTerminator:
    """TLS on a loopback port, plain TCP to `target`: put in front of tinyproxy, it is an https:// proxy.

    Its certificate comes from `ca_pem`'s issuer made here (`ca_path` holds the CA to trust, e.g. through
    SSL_CERT_FILE). One thread per connection, bounded; it stops with the context.
    """

    def __init__(self, directory: Path, target: tuple[str, int]) -> None:
        from kdoctor.emulator.pki import make_ca, make_serving_cert, write_pem

        directory.mkdir(parents=True, exist_ok=True)
        ca = make_ca("test-proxy-ca")
        leaf = make_serving_cert(ca, dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        self.ca_path = write_pem(directory / "proxy-ca.crt", ca.cert_pem)
        cert = write_pem(directory / "proxy.crt", leaf.cert_pem)
        key = write_pem(directory / "proxy.key", leaf.key_pem, private=True)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.target = target
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            if len(self._threads) < _MAX_HELD:
                thread = threading.Thread(target=self._relay, args=(conn,), daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                conn.close()

    def _relay(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            conn.settimeout(10)
            tls = self.context.wrap_socket(conn, server_side=True)
            upstream = socket.create_connection(self.target, timeout=10)
            pipes = [
                threading.Thread(target=_pipe, args=(tls, upstream), daemon=True),
                threading.Thread(target=_pipe, args=(upstream, tls), daemon=True),
            ]
            for pipe in pipes:
                pipe.start()
            for pipe in pipes:
                pipe.join(30)
            upstream.close()
            tls.close()

    def __enter__(self) -> TlsTerminator:
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        thread = threading.Thread(target=self._serve, name="tls-terminator", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._sock.close()
        for thread in self._threads[:1]:
            thread.join(5)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
