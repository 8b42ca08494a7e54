"""Listeners that pose as proxies and misbehave, on loopback, each in its own thread.

`BadProxy("silent")` accepts connections and never answers; `"close"` closes each connection as
soon as it is accepted (the client sees EOF or a reset); `"http-400"` is a plain-HTTP server that
answers whatever arrives with "400 Bad Request" (a plain-HTTP proxy behind an https:// URL sees a
TLS ClientHello and answers so). `accepted` counts connections.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

__all__ = ["BadProxy"]

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
