"""NO_PROXY entries that do not mean what they look like to client-go: pure judging.

client-go (golang.org/x/net/http/httpproxy, see kdoctor.proxyrules) reads NO_PROXY as
comma-separated entries: `*` alone, an IP or CIDR compared with IP-literal hosts only (a host
name is never resolved for the comparison), a domain matching itself and its subdomains, `.domain`
or `*.domain` its subdomains only. Anything else is compared as literal text, so glob patterns
(`*corp.example`, `10.0.*`, `api-*.example`) never match.
"""

from __future__ import annotations

from dataclasses import dataclass

from kdoctor.netaddr import parse_ip
from kdoctor.proxyrules import no_proxy_value, parse_no_proxy

# no_proxy_value is client-go's reading of the variables (kdoctor.proxyrules), offered here too as
# the input of no_proxy_notes.
__all__ = ["NoProxyNote", "no_proxy_notes", "no_proxy_value"]


@dataclass(frozen=True)
class NoProxyNote:
    entry: str
    kind: str  # "glob", "cidr-for-name", "wildcard-apex"
    words: str
    instead: str


def no_proxy_notes(no_proxy: str, server_host: str) -> list[NoProxyNote]:
    """The entries of `no_proxy` that cannot exempt `server_host` although they look as if they might."""
    host = server_host.strip("[]").rstrip(".").lower()
    host_is_name = parse_ip(host) is None
    parent = host.split(".", 1)[1] if "." in host else host
    out: list[NoProxyNote] = []
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry or entry == "*":
            continue
        bare = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        if "*" in bare and not (bare.startswith("*.") and "*" not in bare[2:]):
            out.append(
                NoProxyNote(
                    raw.strip(),
                    "glob",
                    f"NO_PROXY entry {raw.strip()!r} is a glob: client-go compares it as literal text, so it "
                    "matches no host",
                    f".{parent}" if host_is_name else f"{host} (or a CIDR such as {host}/32)",
                )
            )
            continue
        # What the entry is to client-go (kdoctor.proxyrules parses NO_PROXY as httpproxy does).
        parsed = parse_no_proxy(entry)
        if host_is_name and parsed and parsed[0].kind in ("cidr", "ip"):
            out.append(
                NoProxyNote(
                    raw.strip(),
                    "cidr-for-name",
                    f"NO_PROXY entry {raw.strip()!r} is an address range: client-go compares it with IP-literal "
                    f"hosts only and does not resolve {host}, so it does not exempt it even if {host} resolves "
                    "into it",
                    host,
                )
            )
            continue
        if bare.startswith("*.") and host_is_name and bare[2:] == host:
            out.append(
                NoProxyNote(
                    raw.strip(),
                    "wildcard-apex",
                    f"NO_PROXY entry {raw.strip()!r} matches subdomains of {host} only, not {host} itself",
                    host,
                )
            )
    return out
