"""Every probe key, in one light module: importing it imports none of the code behind the keys.

A key names the function that computes it as "module:function"; `Probe` imports that module on
the first await (kdoctor.core). The facade `kdoctor.api` re-exports every key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdoctor.core import Probe

if TYPE_CHECKING:
    from kdoctor.access import AccessSpec
    from kdoctor.credentials import ResolvedCredential
    from kdoctor.discovery import DiscoveryFacts
    from kdoctor.incluster import InClusterEnv, ServiceAccountFacts
    from kdoctor.kubeconfig.model import LoadedKubeconfig, Material, Selection
    from kdoctor.probes.api import ApiResponse, ApiSession, Interception
    from kdoctor.probes.clusterdns import Lookup, NameAnswer, ResolvConfFacts
    from kdoctor.probes.identity import IdentityReview, UnauthorizedFacts
    from kdoctor.probes.kubectl import KubectlClient
    from kdoctor.probes.path import PathFacts
    from kdoctor.probes.resolve import Resolution
    from kdoctor.probes.route import Route
    from kdoctor.probes.tcp import ConnectAttempt, TcpConnect
    from kdoctor.probes.tls import ChainAnalysis, PeerTls
    from kdoctor.proxyrules import ProxyDecision


# The apiserver, whatever describes it
ACCESS: Probe[AccessSpec] = Probe("access", "kdoctor.access:_compute_access")

# kubeconfig files
KUBECONFIG: Probe[LoadedKubeconfig] = Probe("kubeconfig", "kdoctor.kubeconfig.probes:_compute_kubeconfig")
SELECTION: Probe[Selection] = Probe("kubeconfig.selection", "kdoctor.kubeconfig.probes:_compute_selection")
MATERIAL: Probe[Material] = Probe("kubeconfig.material", "kdoctor.kubeconfig.probes:_compute_material")
KUBECONFIG_ACCESS: Probe[AccessSpec] = Probe("kubeconfig.access", "kdoctor.kubeconfig.probes:_compute_access")

# A pod's service account and environment
SERVICE_ACCOUNT: Probe[ServiceAccountFacts] = Probe(
    "incluster.serviceaccount", "kdoctor.incluster:_compute_serviceaccount"
)
IN_CLUSTER_ENV: Probe[InClusterEnv] = Probe("incluster.env", "kdoctor.incluster:_compute_env")
IN_CLUSTER_ACCESS: Probe[AccessSpec] = Probe("incluster.access", "kdoctor.incluster:_compute_access")

# The credential kubectl would send
CREDENTIALS: Probe[ResolvedCredential] = Probe("credentials", "kdoctor.credentials:_compute")

# The proxy decision client-go makes (with --client python: the official Python client's)
PROXY_DECISION: Probe[ProxyDecision] = Probe("proxy.decision", "kdoctor.proxyrules:_compute_decision")

# The network path
RESOLUTION: Probe[Resolution] = Probe("resolution", "kdoctor.probes.resolve:_compute_resolution")
ROUTE: Probe[Route] = Probe("route", "kdoctor.probes.route:_compute_route")
TCP_CONNECT: Probe[TcpConnect] = Probe("tcp-connect", "kdoctor.probes.tcp:_compute_tcp")

# The apiserver session and its answers
API_SESSION: Probe[ApiSession] = Probe("api.session", "kdoctor.probes.api:_compute_session")
VERSION: Probe[ApiResponse] = Probe("api.version", "kdoctor.probes.api:_compute_version")
LIVEZ: Probe[ApiResponse] = Probe("api.livez", "kdoctor.probes.api:_compute_livez")
READYZ: Probe[ApiResponse] = Probe("api.readyz", "kdoctor.probes.api:_compute_readyz")
TLS_HANDSHAKE: Probe[PeerTls] = Probe("api.tls", "kdoctor.probes.api:_compute_tls")
CHAIN_ANALYSIS: Probe[ChainAnalysis] = Probe("api.tls.analysis", "kdoctor.probes.api:_compute_analysis")
#: The TLS-intercepting proxy in the path, once identified (None when there is none): every hint that would
#: otherwise point at names or settings of the interceptor's certificate reads it.
INTERCEPTION: Probe[Interception | None] = Probe(
    "api.tls.interception", "kdoctor.probes.api:_compute_interception"
)

# Cluster DNS, from inside a pod
RESOLV_CONF: Probe[ResolvConfFacts] = Probe(
    "dns.resolv-conf", "kdoctor.probes.clusterdns:_compute_resolv_conf"
)
NAMESERVERS: Probe[tuple[NameAnswer, ...]] = Probe(
    "dns.nameservers", "kdoctor.probes.clusterdns:_compute_nameservers"
)
SERVICE_LOOKUP: Probe[Lookup] = Probe("dns.service", "kdoctor.probes.clusterdns:_compute_service")
FQDN_LOOKUP: Probe[Lookup] = Probe("dns.fqdn", "kdoctor.probes.clusterdns:_compute_fqdn")
WILDCARD_LOOKUP: Probe[Lookup] = Probe("dns.wildcard", "kdoctor.probes.clusterdns:_compute_wildcard")

# The path, for proxy.path
PATH_FACTS: Probe[PathFacts] = Probe("proxy.path-facts", "kdoctor.probes.path:gather_path_facts")

# Who the apiserver says the credential is, for auth.identity
IDENTITY_REVIEW: Probe[IdentityReview] = Probe(
    "auth.identity-review", "kdoctor.probes.identity:review_identity"
)

# What tells the causes of a 401 apart (the cluster's token issuer, the client certificate's CA)
UNAUTHORIZED_FACTS: Probe[UnauthorizedFacts] = Probe(
    "auth.unauthorized-facts", "kdoctor.probes.identity:gather_unauthorized_facts"
)

# Every address of the server's name, for apiserver.tcp's note (direct connections only)
ADDRESS_SURVEY: Probe[tuple[ConnectAttempt, ...]] = Probe(
    "address-survey", "kdoctor.probes.addresses:survey_resolved_addresses"
)

# API discovery as kubectl fetches it, for apiserver.discovery
DISCOVERY: Probe[DiscoveryFacts] = Probe("api.discovery", "kdoctor.probes.discovery:gather_discovery")

# The kubectl on PATH (kubectl version --client), for apiserver.skew and Go's TLS rules
KUBECTL_CLIENT: Probe[KubectlClient] = Probe("kubectl-client", "kdoctor.probes.kubectl:read_path_kubectl")
