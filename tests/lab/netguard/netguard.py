"""A guard that keeps the tests on loopback: any other address, or a made-up name, is refused.

Installed in the pytest process by tests/conftest.py and in every `python -m kdoctor` subprocess
that tests/clirun.py starts (this folder goes on PYTHONPATH, where sitecustomize.py installs it).
A test that would reach beyond the machine fails loudly here instead of sending a packet.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

_ALLOWED_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.split("%", 1)[0]
    if host in ("", "0.0.0.0", "::") or host.lower() in _ALLOWED_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any) -> None:
    inet = sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
    if inet and not _loopback(address[0]):
        raise OSError(errno.ENETUNREACH, f"netguard: tests may reach loopback only, not {address[0]}")


def install() -> None:
    if getattr(socket, "_kdoctor_netguard", False):
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _check(self, args[-1])
        return real_sendto(self, data, *args)  # type: ignore[arg-type]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host):
            try:
                ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host)
            except ValueError:
                raise socket.gaierror(
                    socket.EAI_NONAME, f"netguard: tests never resolve {host!r} through the system resolver"
                ) from None
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    socket._kdoctor_netguard = True  # type: ignore[attr-defined]
