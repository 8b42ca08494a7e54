"""Network probes: typed facts about each link of the path to the apiserver, never verdicts.

- `resolve`: the server (or proxy) host name and its addresses.
- `tcp`: a TCP connect to each address, refused / timed out / unreachable told apart.
- `tls`: the chain the server presents, and pure helpers that analyse it (no network).
- `api`: the per-target HTTPS session every apiserver request goes through (one connection).

The checks in `kdoctor_checks.apiserver` and `kdoctor_checks.tls` judge these facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Endpoint", "parse_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """Where a URL points: scheme, host (brackets stripped from IPv6) and port."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_DEFAULT_PORTS = {"https": 443, "http": 80, "socks5": 1080, "socks5h": 1080, "socks4": 1080}


def parse_endpoint(url: str) -> Endpoint:
    """The scheme, host and port of `url`; a missing port is the scheme's default.

    Raises ValueError for a URL without a host or with a bad port (the kubeconfig family reports
    such URLs; probes only need to refuse them).
    """
    parts = urlsplit(url if "://" in url else f"https://{url}")
    scheme = (parts.scheme or "https").lower()
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url!r}")
    port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    return Endpoint(scheme, host, port if port is not None else _DEFAULT_PORTS.get(scheme, 443))
