"""What the emulated cluster looks like: its configuration, and the named fault scenarios.

A scenario is a one-line description plus the configuration fields it changes. `kdoctor demo --list`
prints these descriptions; the tests start the same scenarios.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from kdoctor.emulator.pki import CertKey, ServiceAccountKeys

Mode = Literal["apiserver", "hang", "slow-headers", "html"]
Serving = Literal[
    "valid",
    "unknown-ca",
    "ca-rotated",
    "self-signed",
    "expired",
    "not-yet-valid",
    "san-mismatch",
    "missing-intermediate",
    "expiring-soon",
    "cn-only",
    "sha1",
]

DEFAULT_SA_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity, as the apiserver's authenticators produce it."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """An RBAC resource rule; `namespaces=None` means cluster-wide (a ClusterRoleBinding)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...] = ()
    namespaces: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NonResourceRule:
    """An RBAC non-resource rule (paths such as /version, /api/*)."""

    verbs: tuple[str, ...]
    urls: tuple[str, ...]


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    protocol: str = "TCP"
    target_port: int | None = None
    #: What the backend answers through the apiserver proxy verb; None: it cannot be reached
    #: (503 "error trying to reach service").
    body: bytes | None = None
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Service:
    """A Service the emulator lists and proxies to (`/api/v1/namespaces/NS/services/NAME/proxy`)."""

    namespace: str
    name: str
    ports: tuple[ServicePort, ...]
    cluster_ip: str = "10.96.0.100"
    labels: Mapping[str, str] = field(default_factory=dict)
    #: "static": the ports' bodies; "apiserver": the emulator's own API behind the proxy path
    #: (the virtual-cluster pattern).
    backend: Literal["static", "apiserver"] = "static"


#: Authenticated users get these through system:basic-user, system:discovery and
#: system:public-info-viewer on a kubeadm cluster.
BASIC_RULES: tuple[Rule, ...] = (
    Rule(("create",), ("authorization.k8s.io",), ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
    Rule(("create",), ("authentication.k8s.io",), ("selfsubjectreviews",)),
)
BASIC_NON_RESOURCE_RULES: tuple[NonResourceRule, ...] = (
    NonResourceRule(
        ("get",),
        (
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/healthz",
            "/livez",
            "/openapi",
            "/openapi/*",
            "/readyz",
            "/version",
            "/version/",
        ),
    ),
)
#: system:public-info-viewer, bound to system:unauthenticated too.
PUBLIC_NON_RESOURCE_RULES: tuple[NonResourceRule, ...] = (
    NonResourceRule(("get",), ("/healthz", "/livez", "/readyz", "/version", "/version/")),
)
ADMIN_GROUP = "system:masters"


def default_services() -> tuple[Service, ...]:
    """The kubernetes Service, the two addons `kubectl cluster-info` lists, and a plain app."""
    return (
        Service(
            "default",
            "kubernetes",
            (ServicePort("https", 443, target_port=6443),),
            cluster_ip="10.96.0.1",
            labels={"component": "apiserver", "provider": "kubernetes"},
        ),
        Service(
            "kube-system",
            "kube-dns",
            (
                ServicePort("dns", 53, "UDP"),
                ServicePort("dns-tcp", 53),
                ServicePort(
                    "metrics",
                    9153,
                    body=b"# HELP coredns_build_info A metric with a constant '1' value.\n"
                    b'coredns_build_info{version="1.11.3"} 1\n',
                ),
            ),
            cluster_ip="10.96.0.10",
            labels={
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS",
            },
        ),
        Service(
            "kube-system",
            "metrics-server",
            (ServicePort("https", 443, target_port=10250, body=b"ok"),),
            cluster_ip="10.96.0.20",
            labels={
                "k8s-app": "metrics-server",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "Metrics-server",
            },
        ),
        Service(
            "default",
            "hello",
            (
                ServicePort(
                    "http",
                    80,
                    target_port=8080,
                    body=b'{"message":"hello from default/hello"}',
                    content_type="application/json",
                ),
            ),
            cluster_ip="10.96.0.30",
            labels={"app": "hello"},
        ),
        Service(
            "vcluster",
            "my-vcluster",
            (ServicePort("https", 443, target_port=8443),),
            cluster_ip="10.96.0.40",
            labels={"app": "vcluster"},
            backend="apiserver",
        ),
    )


@dataclass(frozen=True)
class AggregatedApi:
    """An API group-version served by an extension apiserver behind an APIService (metrics-server).

    Unavailable: /apis/GROUP/VERSION answers 503, aggregated discovery marks it Stale, and the
    APIService's Available condition is False with `reason` and `message`.
    """

    group: str
    version: str
    service_namespace: str
    service_name: str
    #: (resource, kind, namespaced) as its discovery lists them.
    resources: tuple[tuple[str, str, bool], ...] = ()
    available: bool = True
    reason: str = "FailedDiscoveryCheck"
    message: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def apiservice_name(self) -> str:
        return f"{self.version}.{self.group}"


METRICS_API = AggregatedApi(
    "metrics.k8s.io",
    "v1beta1",
    "kube-system",
    "metrics-server",
    resources=(("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True)),
)


@dataclass(frozen=True)
class EmulatorConfig:
    """Every knob of the emulated apiserver. Scenarios set some; `Emulator(**overrides)` any."""

    #: What the listener does: answer as an apiserver, accept TCP and never speak TLS ("hang"),
    #: speak TLS but never send response headers ("slow-headers"), or answer HTML ("html").
    mode: Mode = "apiserver"
    #: The serving certificate's fault, if any.
    serving: Serving = "valid"
    #: Issue the serving certificate from an intermediate CA and send it along (a healthy chain of 3).
    intermediate: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    #: The host the written kubeconfig's server URL names (default: `host`); the listener stays on `host`.
    url_host: str | None = None
    #: Extra SANs (DNS names or IP literals) on the serving certificate.
    extra_sans: tuple[str, ...] = ()
    #: Share a CA between emulators (two apiservers behind one load balancer).
    ca: CertKey | None = None
    sa_keys: ServiceAccountKeys | None = None

    git_version: str = "v1.31.4"
    git_commit: str = "a78aa47129b8539636eb86a9d00e31b2720fe06b"
    build_date: str = "2024-12-10T11:37:51Z"
    go_version: str = "go1.22.10"
    platform: str = "linux/amd64"

    #: Health sub-checks that fail, by their /readyz names ("etcd", "informer-sync", ...).
    failing_checks: tuple[str, ...] = ()
    #: etcd is gone: requests for resources (the reviews included) get no answer, as a real
    #: kube-apiserver without etcd leaves them, until `slow_headers_seconds`; /version, discovery and
    #: the health endpoints still answer (set `failing_checks` for what they report).
    storage_down: bool = False
    #: The `Date` header is this many seconds ahead of the local clock.
    clock_offset: float = 0.0
    #: Every credential is refused with 401 (the cluster forgot the token / revoked the CA).
    reject_all_credentials: bool = False
    #: RBAC forbids SelfSubjectReview / SelfSubjectAccessReview / SelfSubjectRulesReview for everyone.
    forbid_reviews: bool = False
    #: Requests without credentials are system:anonymous (kube-apiserver's default); False: 401.
    anonymous: bool = True

    #: Static bearer tokens → users. None: an admin token and a limited user's token made at start.
    tokens: Mapping[str, UserInfo] | None = None
    #: Extra RBAC rules by user name ("jane") or group ("group:developers").
    rules: Mapping[str, tuple[Rule | NonResourceRule, ...]] = field(default_factory=dict)
    sa_issuer: str = DEFAULT_SA_ISSUER
    sa_audiences: tuple[str, ...] = (DEFAULT_SA_ISSUER,)
    #: "namespace/name" of service accounts whose tokens no longer authenticate (deleted).
    revoked_service_accounts: frozenset[str] = frozenset()

    #: The apiserver identity (its Lease name); None: "apiserver-" + a random suffix, so two
    #: emulators differ. `peer_identities` are the other apiservers of the same cluster.
    identity: str | None = None
    peer_identities: tuple[str, ...] = ()
    #: The `default/kubernetes` Endpoints / EndpointSlice addresses and port (default: this listener).
    endpoint_addresses: tuple[str, ...] | None = None
    endpoint_port: int | None = None
    #: `serverAddressByClientCIDRs` of /api (default: host:port of this listener).
    advertise_address: str | None = None
    services: tuple[Service, ...] = field(default_factory=default_services)
    #: Serve aggregated discovery (apidiscovery.k8s.io/v2 and v2beta1) on /api and /apis when asked
    #: for it, as kube-apiserver 1.30+ does; False: only the legacy documents (kubectl falls back).
    aggregated_discovery: bool = True
    #: Extension APIs behind APIServices (kube-aggregator), e.g. metrics-server's metrics.k8s.io.
    aggregated_apis: tuple[AggregatedApi, ...] = ()

    #: Upper bounds of the hang and slow-headers faults; stop() ends them sooner.
    hang_seconds: float = 30.0
    slow_headers_seconds: float = 30.0
    #: Idle keep-alive connections are closed after this long.
    idle_timeout: float = 30.0
    html_body: bytes = (
        b"<!DOCTYPE html>\n<html><head><title>Sign in - Example Corp</title></head>\n"
        b"<body><h1>Sign in to continue</h1><form method=post action=/login></form></body></html>\n"
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    overrides: Mapping[str, Any]


def _s(name: str, description: str, **overrides: Any) -> Scenario:
    return Scenario(name, description, overrides)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _s("healthy", "A healthy cluster: trusted chain, valid token, ready apiserver."),
        _s(
            "unknown-ca",
            "The serving certificate is signed by a CA the kubeconfig does not trust.",
            serving="unknown-ca",
        ),
        _s(
            "ca-rotated",
            "The cluster CA was rebuilt: same name CN=kubernetes, different key.",
            serving="ca-rotated",
        ),
        _s("self-signed", "The serving certificate is self-signed.", serving="self-signed"),
        _s("expired", "The serving certificate has expired.", serving="expired"),
        _s("not-yet-valid", "The serving certificate is not valid yet.", serving="not-yet-valid"),
        _s(
            "san-mismatch",
            "The serving certificate does not name 127.0.0.1 or localhost in its SANs.",
            serving="san-mismatch",
        ),
        _s(
            "missing-intermediate",
            "The serving certificate comes from an intermediate CA the server does not send.",
            serving="missing-intermediate",
        ),
        _s(
            "expiring-soon",
            "The serving certificate expires in 10 days.",
            serving="expiring-soon",
        ),
        _s(
            "cn-only",
            "The serving certificate names localhost only in its Common Name: curl accepts it, kubectl (Go) does not.",
            serving="cn-only",
            url_host="localhost",
        ),
        _s(
            "sha1-cert",
            "The serving certificate is signed with SHA-1: kubectl (Go 1.18+) refuses it.",
            serving="sha1",
        ),
        _s(
            "not-ready",
            "The apiserver is up but not ready: etcd is failing.",
            # what a real apiserver whose etcd is down lists (tests/realcluster: etcd stopped)
            failing_checks=("etcd", "etcd-readiness"),
        ),
        _s(
            "etcd-down",
            "etcd is stopped: /livez and /readyz fail on etcd, and requests that need storage (the "
            "SelfSubjectReview) never get an answer.",
            failing_checks=("etcd", "etcd-readiness"),
            storage_down=True,
        ),
        _s("unauthorized", "Every credential is refused with 401 Unauthorized.", reject_all_credentials=True),
        _s(
            "forbidden-reviews",
            "The credential authenticates, but RBAC forbids the self-subject reviews (403).",
            forbid_reviews=True,
        ),
        _s("hang", "Something accepts TCP on the port and never speaks TLS.", mode="hang"),
        _s(
            "slow-headers",
            "TLS works, but the server never sends response headers.",
            mode="slow-headers",
        ),
        _s(
            "html",
            "An HTTPS server that answers HTML (an ingress or captive portal), not an apiserver.",
            mode="html",
        ),
        _s(
            "version-skew",
            "The apiserver runs Kubernetes 1.29, three minor versions behind a current kubectl.",
            git_version="v1.29.12",
            go_version="go1.22.9",
        ),
        _s(
            "metrics-down",
            "metrics-server is down: discovery marks metrics.k8s.io/v1beta1 stale, kubectl top fails, and "
            'kubectl without aggregated discovery prints "couldn\'t get resource list" on every command.',
            aggregated_apis=(
                dataclasses.replace(
                    METRICS_API,
                    available=False,
                    reason="FailedDiscoveryCheck",
                    message="failing or missing response from https://10.244.0.7:10250/apis/metrics.k8s.io/v1beta1: "
                    'Get "https://10.244.0.7:10250/apis/metrics.k8s.io/v1beta1": dial tcp 10.244.0.7:10250: '
                    "connect: connection refused",
                ),
            ),
        ),
        _s("clock-skew", "The apiserver's clock is 10 minutes ahead of this machine's.", clock_offset=600.0),
    )
}


def build_config(scenario: str = "healthy", **overrides: Any) -> EmulatorConfig:
    """The configuration of `scenario`, with `overrides` (field names of EmulatorConfig) on top."""
    try:
        base = SCENARIOS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}") from None
    known = {f.name for f in dataclasses.fields(EmulatorConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown emulator option(s): {', '.join(unknown)}")
    return EmulatorConfig(**{**base.overrides, **overrides})


def list_scenarios() -> list[tuple[str, str]]:
    """(name, description) of every scenario, in display order."""
    return [(s.name, s.description) for s in SCENARIOS.values()]
