"""Which host the client actually dials for a target: the apiserver, or the proxy in front of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kdoctor.access import ACCESS, AccessUnavailable
from kdoctor.keys import PROXY_DECISION, ROUTE
from kdoctor.probes import Endpoint, parse_endpoint

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = ["ROUTE", "Route"]


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

    @property
    def proxied(self) -> bool:
        return self.proxy_url is not None

    @property
    def dial_description(self) -> str:
        if self.proxy_display:
            return f"{self.proxy_kind} {self.proxy_display}"
        return self.server.netloc


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
    )
