"""The public check API: everything a check family, built-in or third-party, may use. Nothing else.

A check is a small class; its docstring is the text of ``kdoctor explain``::

    from kdoctor.api import SELECTION, Check, Context, Mode, Result

    class Namespace(Check):
        \"\"\"What `kdoctor explain example.namespace` prints: what it looks at, outcomes, fixes.\"\"\"

        id = "example.namespace"
        title = "The context names a namespace"
        depends_on = ("kubeconfig.context",)
        modes = (Mode.KUBECONFIG,)

        async def run(self, ctx: Context) -> Result:
            selection = await ctx.probe(SELECTION)  # a probe: computed once, shared by every check
            ctx.details["context"] = selection.context_name  # reported whatever the verdict
            if selection.context is None or not selection.context.namespace:
                return Result.warn("no namespace: kubectl uses 'default'", hint="Set contexts[].context.namespace.")
            return Result.ok(f"namespace {selection.context.namespace!r}")

A family module exposes ``CHECKS = (Namespace, ...)``, registered under the entry-point group
``kdoctor.checks``. A probe whose inputs are missing raises `Unavailable`; the runner makes every
check that awaits it a `skip` naming the cause, so a check does not guard against it. Only the
runner produces status ``error``: a check that raises is a bug.

The names below are grouped: the API itself, the probe keys (each with the fact type it yields),
the fact types, and the pure helpers checks judge facts with.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # What mypy sees; at run time each name is imported from its home on first use (below).
    from kdoctor.access import AccessSpec, Credentials, ExecSpec
    from kdoctor.certs import (
        EXPIRY_WARNING,
        CertSummary,
        certificate_facts,
        describe,
        expires_soon,
        issued_by,
        key_problem,
        parse_pem_certificates,
    )
    from kdoctor.cloudcreds import (
        decode_eks_token,
        eks_cluster_argument,
        eks_server_region,
        judge_eks_token,
        judge_token_against_server_clock,
        oidc_claim_problems,
        removed_provider_migration,
    )
    from kdoctor.context import Context, Environment, Options, Target
    from kdoctor.core import Check, Mode, Probe, Result, Status, Unavailable, run_check
    from kdoctor.credentials import (
        REMOVED_AUTH_PROVIDERS,
        ClientCertFacts,
        ResolvedCredential,
        client_cert_facts,
        credential_details,
    )
    from kdoctor.dialplan import describe_dial, go_dial_plan
    from kdoctor.discovery import DiscoveryFacts, judge_discovery
    from kdoctor.execplugin import ExecResult
    from kdoctor.gotls import go_rejections, go_version
    from kdoctor.identity import ClaimedIdentity, anonymous_403_words, identity_note
    from kdoctor.incluster import (
        REFRESH_GRACE,
        InClusterEnv,
        ServiceAccountFacts,
        expected_refresh,
        is_dns1123_label,
    )
    from kdoctor.jwt import JwtClaims
    from kdoctor.jwt import decode as decode_jwt
    from kdoctor.keys import (
        ACCESS,
        ADDRESS_SURVEY,
        API_SESSION,
        CHAIN_ANALYSIS,
        CREDENTIALS,
        DISCOVERY,
        FQDN_LOOKUP,
        IDENTITY_REVIEW,
        IN_CLUSTER_ACCESS,
        IN_CLUSTER_ENV,
        INTERCEPTION,
        KUBECONFIG,
        KUBECONFIG_ACCESS,
        KUBECTL_CLIENT,
        LIVEZ,
        MATERIAL,
        NAMESERVERS,
        PATH_FACTS,
        PROXY_DECISION,
        READYZ,
        RESOLUTION,
        RESOLV_CONF,
        ROUTE,
        SELECTION,
        SERVICE_ACCOUNT,
        SERVICE_LOOKUP,
        TCP_CONNECT,
        TLS_HANDSHAKE,
        UNAUTHORIZED_FACTS,
        VERSION,
        WILDCARD_LOOKUP,
    )
    from kdoctor.kubeconfig.model import (
        ClusterEntry,
        ExecEntry,
        LoadedKubeconfig,
        Material,
        Selection,
        UserEntry,
        effective_server,
        files_summary,
        has_tls_settings,
    )
    from kdoctor.kubeconfig.validation import (
        EXEC_API_VERSIONS,
        INTERACTIVE_MODES,
        dns_name_problem,
        server_url_problem,
    )
    from kdoctor.netaddr import is_loopback, normal_ip, parse_ip
    from kdoctor.noproxy import no_proxy_notes, no_proxy_value
    from kdoctor.probes.api import ApiResponse, ApiSession, Interception, phase_timings
    from kdoctor.probes.clusterdns import (
        DNSUnavailable,
        Lookup,
        NameAnswer,
        ResolvConfFacts,
    )
    from kdoctor.probes.identity import IdentityReview, UnauthorizedFacts
    from kdoctor.probes.inpod import (
        HOST_VAR,
        KUBELET_NDOTS,
        MAX_NAMESERVERS,
        MUSL_MAX_LINE,
        OLD_GLIBC_MAX_SEARCH,
        OLD_GLIBC_MAX_SEARCH_CHARS,
        PORT_HTTPS_VAR,
        PORT_VAR,
        SERVICE_NAME,
    )
    from kdoctor.probes.kubectl import KubectlClient
    from kdoctor.probes.path import LEASES_PATH, PathFacts, live_leases, status_words
    from kdoctor.probes.resolve import Resolution, is_ip_literal
    from kdoctor.probes.route import ProxyFault, Route
    from kdoctor.probes.tcp import TcpConnect
    from kdoctor.probes.tls import (
        KUBERNETES_CA_WORDS,
        ChainAnalysis,
        PeerTls,
        capture_chain_unverified,
        go_hostname_error,
        hostname_matches,
        interception_issuer,
        strength_problems,
    )
    from kdoctor.proxyrules import (
        HttpxRejected,
        ProxyDecision,
        decide_proxy,
        display_proxy_url,
        httpx_would_choose,
        python_client_bypasses,
        python_client_would_choose,
    )
    from kdoctor.proxyurl import ServiceRef, apiserver_proxy_path, split_proxy_path
    from kdoctor.redact import fingerprint
    from kdoctor.shadowing import shadowed_definitions
    from kdoctor.skew import judge_skew
    from kdoctor.timefmt import human_utc, iso_utc

#: Each exported name's home module ("name=attribute" where the facade renames it). A family
#: imports only the modules behind the names it uses, when it uses them (PEP 562): a kubeconfig
#: check never pays for the in-pod DNS probes. Keep in step with the block above and __all__
#: (tests/test_public_api.py checks all three agree).
_HOMES: dict[str, tuple[str, ...]] = {
    "kdoctor.access": ("AccessSpec", "Credentials", "ExecSpec"),
    "kdoctor.certs": (
        "EXPIRY_WARNING",
        "CertSummary",
        "certificate_facts",
        "describe",
        "expires_soon",
        "issued_by",
        "key_problem",
        "parse_pem_certificates",
    ),
    "kdoctor.cloudcreds": (
        "decode_eks_token",
        "eks_cluster_argument",
        "eks_server_region",
        "judge_eks_token",
        "judge_token_against_server_clock",
        "oidc_claim_problems",
        "removed_provider_migration",
    ),
    "kdoctor.context": ("Context", "Environment", "Options", "Target"),
    "kdoctor.core": ("Check", "Mode", "Probe", "Result", "Status", "Unavailable", "run_check"),
    "kdoctor.credentials": (
        "REMOVED_AUTH_PROVIDERS",
        "ClientCertFacts",
        "ResolvedCredential",
        "client_cert_facts",
        "credential_details",
    ),
    "kdoctor.dialplan": ("describe_dial", "go_dial_plan"),
    "kdoctor.discovery": ("DiscoveryFacts", "judge_discovery"),
    "kdoctor.execplugin": ("ExecResult",),
    "kdoctor.gotls": ("go_rejections", "go_version"),
    "kdoctor.identity": ("ClaimedIdentity", "anonymous_403_words", "identity_note"),
    "kdoctor.incluster": (
        "REFRESH_GRACE",
        "InClusterEnv",
        "ServiceAccountFacts",
        "expected_refresh",
        "is_dns1123_label",
    ),
    "kdoctor.jwt": ("JwtClaims", "decode_jwt=decode"),
    "kdoctor.keys": (
        "ACCESS",
        "ADDRESS_SURVEY",
        "API_SESSION",
        "CHAIN_ANALYSIS",
        "CREDENTIALS",
        "DISCOVERY",
        "FQDN_LOOKUP",
        "IDENTITY_REVIEW",
        "IN_CLUSTER_ACCESS",
        "IN_CLUSTER_ENV",
        "INTERCEPTION",
        "KUBECONFIG",
        "KUBECONFIG_ACCESS",
        "KUBECTL_CLIENT",
        "LIVEZ",
        "MATERIAL",
        "NAMESERVERS",
        "PATH_FACTS",
        "PROXY_DECISION",
        "READYZ",
        "RESOLUTION",
        "RESOLV_CONF",
        "ROUTE",
        "SELECTION",
        "SERVICE_ACCOUNT",
        "SERVICE_LOOKUP",
        "TCP_CONNECT",
        "TLS_HANDSHAKE",
        "UNAUTHORIZED_FACTS",
        "VERSION",
        "WILDCARD_LOOKUP",
    ),
    "kdoctor.kubeconfig.model": (
        "ClusterEntry",
        "ExecEntry",
        "LoadedKubeconfig",
        "Material",
        "Selection",
        "UserEntry",
        "effective_server",
        "files_summary",
        "has_tls_settings",
    ),
    "kdoctor.kubeconfig.validation": (
        "EXEC_API_VERSIONS",
        "INTERACTIVE_MODES",
        "dns_name_problem",
        "server_url_problem",
    ),
    "kdoctor.netaddr": ("is_loopback", "normal_ip", "parse_ip"),
    "kdoctor.noproxy": ("no_proxy_notes", "no_proxy_value"),
    "kdoctor.probes.api": ("ApiResponse", "ApiSession", "Interception", "phase_timings"),
    "kdoctor.probes.clusterdns": ("DNSUnavailable", "Lookup", "NameAnswer", "ResolvConfFacts"),
    "kdoctor.probes.identity": ("IdentityReview", "UnauthorizedFacts"),
    "kdoctor.probes.inpod": (
        "HOST_VAR",
        "KUBELET_NDOTS",
        "MAX_NAMESERVERS",
        "MUSL_MAX_LINE",
        "OLD_GLIBC_MAX_SEARCH",
        "OLD_GLIBC_MAX_SEARCH_CHARS",
        "PORT_HTTPS_VAR",
        "PORT_VAR",
        "SERVICE_NAME",
    ),
    "kdoctor.probes.kubectl": ("KubectlClient",),
    "kdoctor.probes.path": ("LEASES_PATH", "PathFacts", "live_leases", "status_words"),
    "kdoctor.probes.resolve": ("Resolution", "is_ip_literal"),
    "kdoctor.probes.route": ("ProxyFault", "Route"),
    "kdoctor.probes.tcp": ("TcpConnect",),
    "kdoctor.probes.tls": (
        "KUBERNETES_CA_WORDS",
        "ChainAnalysis",
        "PeerTls",
        "capture_chain_unverified",
        "go_hostname_error",
        "hostname_matches",
        "interception_issuer",
        "strength_problems",
    ),
    "kdoctor.proxyrules": (
        "HttpxRejected",
        "ProxyDecision",
        "decide_proxy",
        "display_proxy_url",
        "httpx_would_choose",
        "python_client_bypasses",
        "python_client_would_choose",
    ),
    "kdoctor.proxyurl": ("ServiceRef", "apiserver_proxy_path", "split_proxy_path"),
    "kdoctor.redact": ("fingerprint",),
    "kdoctor.shadowing": ("shadowed_definitions",),
    "kdoctor.skew": ("judge_skew",),
    "kdoctor.timefmt": ("human_utc", "iso_utc"),
}

__all__ = [  # noqa: RUF022 (grouped by kind, each group sorted)
    # the check API
    "Check",
    "Context",
    "Environment",
    "Mode",
    "Options",
    "Probe",
    "Result",
    "Status",
    "Target",
    "Unavailable",
    "run_check",
    # probe keys
    "ACCESS",
    "ADDRESS_SURVEY",
    "API_SESSION",
    "CHAIN_ANALYSIS",
    "CREDENTIALS",
    "DISCOVERY",
    "FQDN_LOOKUP",
    "IDENTITY_REVIEW",
    "IN_CLUSTER_ACCESS",
    "INTERCEPTION",
    "IN_CLUSTER_ENV",
    "KUBECONFIG",
    "KUBECONFIG_ACCESS",
    "KUBECTL_CLIENT",
    "LIVEZ",
    "MATERIAL",
    "NAMESERVERS",
    "PATH_FACTS",
    "PROXY_DECISION",
    "READYZ",
    "RESOLUTION",
    "RESOLV_CONF",
    "ROUTE",
    "SELECTION",
    "SERVICE_ACCOUNT",
    "SERVICE_LOOKUP",
    "TCP_CONNECT",
    "TLS_HANDSHAKE",
    "UNAUTHORIZED_FACTS",
    "VERSION",
    "WILDCARD_LOOKUP",
    # fact types
    "AccessSpec",
    "ClaimedIdentity",
    "DiscoveryFacts",
    "KubectlClient",
    "ApiResponse",
    "ApiSession",
    "CertSummary",
    "ClusterEntry",
    "ChainAnalysis",
    "ClientCertFacts",
    "Credentials",
    "ExecEntry",
    "ExecResult",
    "ExecSpec",
    "IdentityReview",
    "DNSUnavailable",
    "InClusterEnv",
    "Interception",
    "JwtClaims",
    "ProxyFault",
    "LoadedKubeconfig",
    "Lookup",
    "Material",
    "NameAnswer",
    "PathFacts",
    "PeerTls",
    "ProxyDecision",
    "ResolvConfFacts",
    "Resolution",
    "ResolvedCredential",
    "Route",
    "Selection",
    "ServiceAccountFacts",
    "ServiceRef",
    "TcpConnect",
    "UnauthorizedFacts",
    "UserEntry",
    # helpers and constants checks judge with
    "EXEC_API_VERSIONS",
    "EXPIRY_WARNING",
    "HOST_VAR",
    "INTERACTIVE_MODES",
    "KUBELET_NDOTS",
    "KUBERNETES_CA_WORDS",
    "LEASES_PATH",
    "MAX_NAMESERVERS",
    "MUSL_MAX_LINE",
    "OLD_GLIBC_MAX_SEARCH",
    "OLD_GLIBC_MAX_SEARCH_CHARS",
    "PORT_HTTPS_VAR",
    "PORT_VAR",
    "REFRESH_GRACE",
    "REMOVED_AUTH_PROVIDERS",
    "SERVICE_NAME",
    "HttpxRejected",
    "anonymous_403_words",
    "decode_eks_token",
    "describe_dial",
    "eks_cluster_argument",
    "eks_server_region",
    "go_dial_plan",
    "go_rejections",
    "go_version",
    "identity_note",
    "judge_discovery",
    "judge_eks_token",
    "judge_skew",
    "judge_token_against_server_clock",
    "no_proxy_notes",
    "no_proxy_value",
    "oidc_claim_problems",
    "removed_provider_migration",
    "shadowed_definitions",
    "apiserver_proxy_path",
    "capture_chain_unverified",
    "certificate_facts",
    "client_cert_facts",
    "credential_details",
    "decode_jwt",
    "decide_proxy",
    "describe",
    "display_proxy_url",
    "dns_name_problem",
    "effective_server",
    "expires_soon",
    "expected_refresh",
    "files_summary",
    "fingerprint",
    "go_hostname_error",
    "has_tls_settings",
    "hostname_matches",
    "server_url_problem",
    "human_utc",
    "httpx_would_choose",
    "interception_issuer",
    "python_client_bypasses",
    "is_dns1123_label",
    "is_ip_literal",
    "is_loopback",
    "normal_ip",
    "iso_utc",
    "parse_ip",
    "issued_by",
    "key_problem",
    "live_leases",
    "parse_pem_certificates",
    "phase_timings",
    "python_client_would_choose",
    "split_proxy_path",
    "status_words",
    "strength_problems",
]


_WHERE: dict[str, tuple[str, str]] = {
    exported.partition("=")[0]: (module, exported.partition("=")[2] or exported)
    for module, names in _HOMES.items()
    for exported in names
}


def __getattr__(name: str) -> Any:
    """Import an exported name from its home on first use; later lookups find it in the module."""
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
