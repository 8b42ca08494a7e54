"""Which host the client actually dials for a target: the apiserver, or the proxy in front of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kdoctor.access import ACCESS, AccessUnavailable
from kdoctor.keys import PROXY_DECISION, ROUTE
from kdoctor.probes import Endpoint, parse_endpoint

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = ["ROUTE", "ProxyFailure", "ProxyFault", "Route", "direct_route"]


@dataclass(frozen=True)
class Route:
    """The server, client-go's proxy decision for it, and the endpoint a TCP connect goes to."""

    server: Endpoint
    #: None: direct. May carry user:password, so it stays out of repr(): show `proxy_display`.
    proxy_url: str | None = field(repr=False)
    proxy_display: str | None
    proxy_kind: str  # "direct" | "http-proxy" | "socks-proxy"
    proxy_source: str  # where the decision came from ("HTTPS_PROXY", "cluster proxy-url", ...)
    proxy_reason: str
    dial: Endpoint  # the server when direct, else the proxy
    #: Set when kubectl would refuse to send the request at all (e.g. an unsupported proxy scheme).
    proxy_error: str | None = None
    #: The TLS settings an https:// proxy is verified with. Go's transport clones the cluster's
    #: tls.Config for the proxy (net/http Transport.dialConn → addTLS): the kubeconfig's CA (system
    #: roots when none), insecure-skip-tls-verify and tls-server-name apply to the proxy too.
    proxy_tls_ca_pem: bytes | None = field(default=None, repr=False)
    proxy_tls_insecure: bool = False
    proxy_tls_server_name: str | None = None

    @property
    def proxied(self) -> bool:
        return self.proxy_url is not None

    @property
    def dial_description(self) -> str:
        if self.proxy_display:
            return f"{self.proxy_kind} {self.proxy_display}"
        return self.server.netloc


def direct_route(server: Endpoint) -> Route:
    """The route of a direct connection to `server` (no proxy)."""
    return Route(server, None, None, "direct", "none", "direct connection", server)


@dataclass(frozen=True)
class ProxyFault:
    """What a proxy did that stopped the connection.

    kind: "no-answer" (accepted, never answered), "closed" (closed or reset the connection),
    "not-tls" (an https:// proxy URL, and the proxy answered the TLS handshake with something else),
    "tls-verify" (the https:// proxy's own certificate did not verify), "auth" (407, or a SOCKS
    authentication refusal), "status" (any other non-2xx answer to CONNECT), "socks" (a SOCKS
    error reply), "protocol" (an answer that is not HTTP / SOCKS).
    """

    kind: str
    proxy: str  # display URL, no credentials
    source: str
    phase: str  # "proxy-tls", "connect", "socks"
    what: str  # what the proxy did, in words
    kubectl: str  # what kubectl prints for the same failure
    status: int | None = None
    status_line: str | None = None
    phases_ms: dict[str, float | None] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return f"the proxy {self.proxy} ({self.source}) {self.what}"


class ProxyFailure(Exception):
    """The proxy stopped the connection: `fault` says how."""

    def __init__(self, fault: ProxyFault) -> None:
        super().__init__(fault.message)
        self.fault = fault


async def _compute_route(ctx: Context) -> Route:

    access = await ctx.probe(ACCESS)
    decision = await ctx.probe(PROXY_DECISION)
    try:
        server = parse_endpoint(access.server)
        dial = parse_endpoint(decision.url) if decision.url else server
    except ValueError as exc:
        # The kubeconfig / in-cluster checks report the broken URL; network checks cannot start.
        raise AccessUnavailable(f"unusable URL: {exc}") from None
    return Route(
        server,
        decision.url,
        decision.display_url,
        decision.kind,
        decision.source,
        decision.reason,
        dial,
        decision.error,
        proxy_tls_ca_pem=access.ca_pem,
        proxy_tls_insecure=access.insecure_skip_tls_verify,
        proxy_tls_server_name=access.tls_server_name,
    )
