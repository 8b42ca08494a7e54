"""The path to the apiserver, gathered for proxy.path: who answers, from where, with which certificate.

Facts only (proxy.path judges them with pure functions, `assemble_hops`): the unauthenticated and
authenticated answers, the `default/kubernetes` endpoints (or EndpointSlices) and Service, the
apiserver identity Leases that are alive, and the serving leaf's fingerprint over a few extra
handshakes (different leaves: different servers behind one address).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from kdoctor.core import Mode
from kdoctor.keys import (
    ACCESS,
    API_SESSION,
    CHAIN_ANALYSIS,
    PROXY_DECISION,
    RESOLUTION,
    ROUTE,
    TLS_HANDSHAKE,
    VERSION,
)
from kdoctor.netaddr import normal_ip, parse_ip
from kdoctor.probes.tls import capture_chain_unverified
from kdoctor.proxyurl import split_proxy_path

if TYPE_CHECKING:
    from kdoctor.access import AccessSpec
    from kdoctor.context import Context
    from kdoctor.probes.api import ApiResponse, ApiSession
    from kdoctor.probes.route import Route
    from kdoctor.probes.tls import ChainAnalysis, PeerTls
    from kdoctor.proxyrules import ProxyDecision
    from kdoctor.proxyurl import ServiceRef

#: Extra unauthenticated TLS handshakes made to see whether different servers answer.
EXTRA_HANDSHAKES = 3

_ENDPOINTS_PATH = "/api/v1/namespaces/default/endpoints/kubernetes"
_SLICES_PATH = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=" + quote(
    "kubernetes.io/service-name=kubernetes", safe=""
)
_SERVICE_PATH = "/api/v1/namespaces/default/services/kubernetes"
LEASES_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?labelSelector=" + quote(
    "apiserver.kubernetes.io/identity=kube-apiserver", safe=""
)


def status_words(response: ApiResponse) -> str:
    """An answer in a few words: "403 Forbidden", or "no answer (kind: error)"."""
    if response.status is not None:
        return f"{response.status} {response.reason}".strip()
    if response.not_sent:
        return str(response.error)
    return f"no answer ({response.error_kind}: {response.error})"


@dataclass
class PathFacts:
    """What was learnt about the path; `assemble_hops` judges it without any network."""

    server: str
    mode: Mode
    decision: ProxyDecision
    #: The server answered over plain HTTP: GET /api without a credential, and GET /version.
    plain_http: bool = False
    unauthenticated_api: ApiResponse | None = None
    version: ApiResponse | None = None
    apiserver_proxy: tuple[str, ServiceRef] | None = None
    #: The TLS chain judged against the configured CA (None: no TLS, no CA, or no chain).
    chain: ChainAnalysis | None = None
    server_host: str = ""
    server_port: int = 0
    #: Addresses the server host resolves to here (empty: unknown, e.g. resolved by a proxy).
    server_addresses: tuple[str, ...] = ()
    endpoint_addresses: tuple[str, ...] = ()
    endpoint_ports: tuple[int, ...] = ()
    endpoints_source: str = ""
    service_ips: tuple[str, ...] = ()
    service_ports: tuple[int, ...] = ()
    lease_identities: tuple[str, ...] = ()
    #: Leaf certificate SHA-256 of the session's handshake, then of each extra handshake.
    leaf_fingerprints: tuple[str, ...] = ()
    unavailable: list[str] = field(default_factory=list)


async def gather_path_facts(ctx: Context) -> PathFacts:
    """Collect the evidence proxy.path judges: a few GETs over the session, a few TLS handshakes."""
    access = await ctx.probe(ACCESS)
    route = await ctx.probe(ROUTE)
    decision = await ctx.probe(PROXY_DECISION)
    parts = urlsplit(access.server)
    facts = PathFacts(
        server=access.server,
        mode=ctx.mode,
        decision=decision,
        server_host=route.server.host,
        server_port=route.server.port,
        apiserver_proxy=split_proxy_path(parts.path),
    )
    session = await ctx.probe(API_SESSION)
    version = await ctx.probe(VERSION)
    facts.version = version
    peer: PeerTls | None = None
    if session.https:
        peer = await ctx.probe(TLS_HANDSHAKE)
    # The side lookups (below) are independent round trips: started before the chain analysis, the
    # network and the server work while this process parses certificates.
    side: asyncio.Future[tuple[tuple[str, ...], tuple[str, ...], object]] | None = None
    if version.answered and peer is not None and facts.apiserver_proxy is None:
        side = asyncio.ensure_future(_side_lookups(ctx, session, route, peer, facts))
    try:
        if peer is not None:
            # Also after a failed verification: the chain captured as evidence shows who signed it.
            facts.chain = await _analyse(ctx, access, peer)
    except BaseException:
        if side is not None:
            side.cancel()
        raise
    if not version.answered:
        facts.unavailable.append(
            f"the apiserver did not answer GET /version: {version.error_kind}: {version.error}"
        )
        return facts
    if peer is None:
        facts.plain_http = True
        facts.unauthenticated_api = await session.get("/api", authenticated=False)
        return facts
    if side is None:
        return facts  # beyond the proxy verb is another cluster: its endpoints say nothing of this path
    addresses, fingerprints, _ = await side
    facts.server_addresses = addresses
    facts.leaf_fingerprints = fingerprints
    return facts


def _side_lookups(
    ctx: Context, session: ApiSession, route: Route, peer: PeerTls, facts: PathFacts
) -> asyncio.Future[tuple[tuple[str, ...], tuple[str, ...], object]]:
    """The server's addresses, the extra handshakes' leaves, the endpoints and leases (and the
    Service in a pod), all at once: proxy.path adds one round trip, not four."""
    return asyncio.gather(
        _server_addresses(ctx, route),
        _leaf_fingerprints(ctx, session, route, peer),
        _api_lookups(ctx, session, facts),
    )


async def _api_lookups(ctx: Context, session: ApiSession, facts: PathFacts) -> None:
    # One after the other (the session sends them in turn anyway): when the first read gets no
    # answer in time (an apiserver without etcd), the others would cost one timeout each for nothing.
    stalled, endpoints_note = await _endpoints(session, facts)
    if stalled:
        facts.unavailable.append(endpoints_note or "")
        facts.unavailable.append(
            "the identity leases were not asked: the apiserver left the endpoints read unanswered"
        )
        return
    await _leases(session, facts, ctx.environment.now())
    if ctx.mode is Mode.IN_CLUSTER:
        await _service(session, facts)
    if endpoints_note is not None:
        facts.unavailable.append(endpoints_note)


async def _analyse(ctx: Context, access: AccessSpec, peer: PeerTls) -> ChainAnalysis | None:
    if not peer.chain_der or not access.ca_pem or access.insecure_skip_tls_verify:
        return None
    # The same chain against the same CA as the tls checks judge: shared, not parsed twice.
    return await ctx.probe(CHAIN_ANALYSIS)


async def _server_addresses(ctx: Context, route: Route) -> tuple[str, ...]:
    host = route.server.host
    ip = parse_ip(host)
    if ip is not None:
        return (str(ip),)
    if route.proxied:
        return ()  # the proxy resolves the name; a lookup here could answer differently

    resolution = await ctx.probe(RESOLUTION)
    return tuple(normal_ip(a) for a in resolution.addresses) if resolution.ok else ()


async def _endpoints(session: ApiSession, facts: PathFacts) -> tuple[bool, str | None]:
    """Reads the endpoints into `facts`: (the apiserver left the read unanswered, why they are unknown)."""
    response = await session.get(_ENDPOINTS_PATH, authenticated=True)
    if response.stalled:
        return True, (
            f"the default/kubernetes endpoints could not be read ({status_words(response)}; EndpointSlices "
            "not asked)"
        )
    if response.status == 200 and isinstance(response.json, dict):
        addresses: list[str] = []
        ports: list[int] = []
        for subset in response.json.get("subsets") or []:
            if not isinstance(subset, dict):
                continue
            addresses += [
                normal_ip(str(a.get("ip"))) for a in subset.get("addresses") or [] if isinstance(a, dict)
            ]
            ports += [
                int(p["port"]) for p in subset.get("ports") or [] if isinstance(p, dict) and "port" in p
            ]
        facts.endpoint_addresses = tuple(dict.fromkeys(addresses))
        facts.endpoint_ports = tuple(dict.fromkeys(ports))
        facts.endpoints_source = "default/kubernetes Endpoints"
        return False, None
    slices = await session.get(_SLICES_PATH, authenticated=True)
    if slices.status == 200 and isinstance(slices.json, dict):
        addresses, ports = [], []
        for item in slices.json.get("items") or []:
            if not isinstance(item, dict):
                continue
            for endpoint in item.get("endpoints") or []:
                if isinstance(endpoint, dict):
                    addresses += [normal_ip(str(a)) for a in endpoint.get("addresses") or []]
            ports += [int(p["port"]) for p in item.get("ports") or [] if isinstance(p, dict) and "port" in p]
        facts.endpoint_addresses = tuple(dict.fromkeys(addresses))
        facts.endpoint_ports = tuple(dict.fromkeys(ports))
        facts.endpoints_source = "default/kubernetes EndpointSlice"
        return False, None
    return slices.stalled, (
        f"the default/kubernetes endpoints could not be read ({status_words(response)}; EndpointSlice: "
        f"{status_words(slices)})"
    )


async def _service(session: ApiSession, facts: PathFacts) -> None:
    response = await session.get(_SERVICE_PATH, authenticated=True)
    if response.status != 200 or not isinstance(response.json, dict):
        facts.unavailable.append(
            f"the default/kubernetes Service could not be read ({status_words(response)})"
        )
        return
    spec = response.json.get("spec") or {}
    ips = [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])]
    facts.service_ips = tuple(dict.fromkeys(normal_ip(str(ip)) for ip in ips if ip and ip != "None"))
    facts.service_ports = tuple(
        int(p["port"]) for p in spec.get("ports") or [] if isinstance(p, dict) and "port" in p
    )


#: An apiserver renews its identity Lease every 10 s; one not renewed for this long is a stale leftover.
LEASE_FRESH_SECONDS = 300


async def _leases(session: ApiSession, facts: PathFacts, local_now: datetime) -> None:
    response = await session.get(LEASES_PATH, authenticated=True)
    if response.status != 200 or not isinstance(response.json, dict):
        facts.unavailable.append(
            f"the apiserver identity leases could not be listed ({status_words(response)})"
        )
        return
    facts.lease_identities = live_leases(response.json, _server_now(response, local_now))


def live_leases(lease_list: dict[str, Any], now: datetime) -> tuple[str, ...]:
    """Names of the identity Leases renewed within LEASE_FRESH_SECONDS of `now` (the server's clock)."""
    names = []
    for item in lease_list.get("items") or []:
        if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
            continue
        renewed = _parse_time((item.get("spec") or {}).get("renewTime"))
        if renewed is not None and (now - renewed).total_seconds() > LEASE_FRESH_SECONDS:
            continue
        names.append(str(item["metadata"].get("name", "?")))
    return tuple(names)


def _server_now(response: ApiResponse, local_now: datetime) -> datetime:
    # The server's own clock: a skewed client clock must not make live leases look stale.
    date = response.header("date")
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(timezone.utc)
        except (TypeError, ValueError):
            pass
    return local_now


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


async def _leaf_fingerprints(
    ctx: Context, session: ApiSession, route: Route, peer: PeerTls
) -> tuple[str, ...]:
    if not peer.chain_der:
        return ()

    # The same route as kubectl's (and the API session's): through the proxy when there is one.
    attempts = [
        capture_chain_unverified(
            route.server, server_hostname=session.server_hostname, route=route, timeout=ctx.timeout
        )
        for _ in range(EXTRA_HANDSHAKES)
    ]
    try:
        results = await asyncio.wait_for(asyncio.gather(*attempts), ctx.timeout * 1.5)
    except asyncio.TimeoutError:
        results = []  # each attempt has its own timeout; this only guards against a stuck one
    extra = tuple(_sha256(r.chain_der[0]) for r in results if r.chain_der)
    return (_sha256(peer.chain_der[0]), *extra)


def _sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()
