"""The proxy family: which proxy kubectl would use, what stands between the client and the apiserver,
and (opt-in) whether the cluster's services answer through the apiserver proxy verb.

The Kubernetes page "Accessing Clusters" names the proxies a request can cross: kubectl proxy, the
apiserver proxy verb, kube-proxy, a proxy or load balancer in front of the apiservers, and (outside
the page) the HTTP/SOCKS proxies of HTTPS_PROXY and the cluster's proxy-url. Each hop reported here
is proven by an answer, not guessed from a URL alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import kdoctor.api as api
from kdoctor.api import (
    ACCESS,
    API_SESSION,
    LEASES_PATH,
    PATH_FACTS,
    PROXY_DECISION,
    SELECTION,
    VERSION,
    AccessSpec,
    ApiResponse,
    Check,
    Context,
    HttpxRejected,
    Mode,
    PathFacts,
    ProxyDecision,
    ProxyFault,
    Result,
    ServiceRef,
    apiserver_proxy_path,
    decide_proxy,
    display_proxy_url,
    httpx_would_choose,
    interception_issuer,
    is_loopback,
    live_leases,
    normal_ip,
    python_client_would_choose,
    status_words,
)

# `api.no_proxy_notes` and `api.no_proxy_value` resolve on first use (the facade's lazy names):
# kdoctor.noproxy loads only for a route through a proxy from the environment, where NO_PROXY matters.

__all__ = [
    "CHECKS",
    "LEASES_PATH",
    "PathFacts",
    "ProxyEnv",
    "ProxyPath",
    "ProxyServices",
    "assemble_hops",
    "live_leases",
    "path_notes",
]

HOP_KINDS = (
    "direct",
    "http-proxy",
    "socks-proxy",
    "kubectl-proxy",
    "apiserver-proxy",
    "load-balancer",
    "tls-intercepting-proxy",
    "kube-proxy",
)
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
#: proxy.services probes at most this many services.
MAX_SERVICES = 25

CLUSTER_SERVICES_PATH = "/api/v1/services?labelSelector=" + quote(
    "kubernetes.io/cluster-service=true", safe=""
)


def _hop(kind: str, evidence: str) -> dict[str, str]:
    assert kind in HOP_KINDS, kind
    return {"kind": kind, "evidence": evidence}


# --------------------------------------------------------------------------------------------
# proxy.env


class ProxyEnv(Check):
    """Which proxy kubectl would use for this cluster, decided by client-go's rules.

    Looks at the cluster's `proxy-url` and at HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case), and
    decides the way client-go does: `proxy-url` wins for every request (loopback included, NO_PROXY
    ignored); otherwise HTTPS_PROXY for an https server (HTTP_PROXY for http), upper case before
    lower case, unless NO_PROXY matches (CIDRs, domains and their subdomains, `.domain` for
    subdomains only, `host:port`, `*`); `localhost` and loopback addresses are never proxied.
    kdoctor itself connects the way it decides here.

    When the server is proxied, NO_PROXY entries that look as if they should exempt it are named
    (a note in the summary): globs such as `*corp.example` or `10.0.*` (client-go compares them as
    literal text; `*.corp.example` alone works, as `.corp.example`), and CIDRs or IPs for a server
    given by name (client-go does not resolve the name to compare). The note says what to write.

    - pass: the decision and the rule that made it (the proxy URL is shown without credentials).
    - pass with a note: a Python tool would take another path on this machine: httpx with trust_env
      (lower case first, ALL_PROXY, no CIDR entries in NO_PROXY, no loopback exception) or the
      official Python client (`kubernetes` 37: the scheme's proxy variable, else ALL_PROXY, lower case
      first, NO_PROXY with CIDRs but no loopback exception, and NO_PROXY applies to a proxy-url too;
      older releases ignore proxy-url and HTTPS_PROXY). Judging for kubectl, that is worth knowing,
      not a warning.
    - warn (`--client python`): the same differences, judged for the Python tool: the decision shown
      and the route every network check takes are the official Python client's, and the hint says
      how to configure that tool's proxy explicitly.
    - skip: the proxy itself does not accept connections: apiserver.tcp (which connects to it)
      reports that, once.
    - fail: the proxy stopped the connection, named with what it did, kubectl's words for it and
      the phase timings (TCP connect, TLS with an https:// proxy, tunnel set-up): it answered
      "407 Proxy Authentication Required" (HTTPS_PROXY needs credentials:
      `export HTTPS_PROXY=http://<user>:<password>@proxy:3128`, or the credentials in it were refused);
      it answered CONNECT with another error status (403: policy); it accepted the connection and
      never answered CONNECT (kubectl: context deadline exceeded); it closed or reset the connection;
      the URL is https:// but the proxy speaks plain HTTP (kubectl: "proxyconnect tcp: EOF" or
      "first record does not look like a TLS handshake"; write http://); a SOCKS5 proxy refused or
      failed the connection; the proxy value cannot work (a
      proxy-url scheme other than http/https/socks5, HTTP_PROXY in a CGI environment). The
      apiserver.* and tls.* checks then skip: the proxy stopped them.
    """

    id = "proxy.env"
    title = "The proxy settings lead kubectl to the apiserver"
    depends_on = ("kubeconfig.server", "kubeconfig.proxy-url", "incluster.env")

    async def run(self, ctx: Context) -> Result:
        access = await ctx.probe(ACCESS)
        decision = await ctx.probe(PROXY_DECISION)
        details = ctx.details
        details.update(_env_details(ctx, access, decision))
        where = decision.display_url or "direct"
        cluster = await _cluster_name(ctx, decision)
        if decision.error:
            return Result.fail(
                f"kubectl would not connect: {decision.error} ({decision.reason})",
                hint=_fix_for_source(decision, cluster),
            )
        if decision.is_proxied:
            version = await ctx.probe(VERSION)
            details["proxy_answer"] = status_words(version)
            if version.proxy_fault is not None:
                fault = version.proxy_fault
                details["proxy_fault"] = {
                    "kind": fault.kind,
                    "phase": fault.phase,
                    "what": fault.what,
                    "kubectl": fault.kubectl,
                    "status": fault.status,
                    "phases_ms": fault.phases_ms,
                }
            failure = _proxy_failure(decision, version, _host_of(access.server), cluster)
            if failure is not None and _proxy_unreachable(version):
                # apiserver.tcp connects to the proxy and reports this very refusal: say it once.
                return Result.skip(f"not examined: the proxy {where} could not be reached (apiserver.tcp)")
            if failure is not None:
                return Result.fail(failure[0], hint=failure[1])
        summary = (
            f"via {decision.kind} {where} ({decision.source}): {decision.reason}"
            if decision.is_proxied
            else f"direct: {decision.reason}"
        )
        if decision.is_proxied and decision.source != "cluster proxy-url":
            summary += _no_proxy_note(ctx, access, details)
        differences = details["differences"]
        if differences and ctx.options.client == "python":
            # Judging for a Python tool: where it parts from kubectl is the finding, with its fix.
            return Result.warn(
                summary + "; kubectl differs: " + "; ".join(differences),
                hint="For the Python tool, set the proxy explicitly rather than through the environment: "
                "kubernetes client: `configuration.proxy = 'http://HOST:PORT'` (and `configuration.no_proxy`), "
                "or the cluster's proxy-url with a recent client release; httpx: `proxy=...`, "
                "`trust_env=False`. Make NO_PROXY use host names, not CIDRs, and one spelling of each variable.",
            )
        if differences:
            # Judging for kubectl: a Python tool's other path is worth knowing, not a warning.
            return Result.ok(summary + "; note: " + "; ".join(differences))
        return Result.ok(summary)


def _no_proxy_note(ctx: Context, access: AccessSpec, details: dict[str, Any]) -> str:
    """NO_PROXY entries that look as if they exempt the server but do not, as a note (kdoctor.noproxy)."""
    notes = api.no_proxy_notes(api.no_proxy_value(ctx.env), _host_of(access.server))
    if not notes:
        return ""
    details["no_proxy_notes"] = [{"entry": n.entry, "kind": n.kind, "instead": n.instead} for n in notes]
    words = "; ".join(f"{n.words} (to bypass the proxy, add {n.instead})" for n in notes)
    return f"; note: {words}"


def _env_details(ctx: Context, access: AccessSpec, decision: ProxyDecision) -> dict[str, Any]:
    env = ctx.env
    variables = {name: display_proxy_url(env[name]) for name in _PROXY_VARIABLES if env.get(name)}
    variables.update({name: env[name] for name in _NO_PROXY_VARIABLES if env.get(name)})
    details = ctx.details
    details.update(
        {
            "server": access.server,
            "kind": decision.kind,
            "source": decision.source,
            "proxy": decision.display_url,
            "reason": decision.reason,
            "credentials_in_proxy_url": decision.credentials_in_url,
            "cluster_proxy_url": display_proxy_url(access.proxy_url) if access.proxy_url else None,
            "variables": variables,
            "error": decision.error,
        }
    )
    differences: list[str] = []
    # With --client python the decision is the Python client's; the comparisons are with kubectl's.
    kubectl_decision = (
        decision if ctx.options.client != "python" else decide_proxy(access.server, env, access.proxy_url)
    )
    kubectl_way = kubectl_decision.url
    details["kubectl"] = display_proxy_url(kubectl_way) if kubectl_way else "direct"
    try:
        httpx_way = httpx_would_choose(access.server, env)
        details["httpx_trust_env"] = display_proxy_url(httpx_way) if httpx_way else "direct"
        # httpx knows nothing of kubeconfigs: with a proxy-url, a tool built on it must pass the proxy itself.
        if not access.proxy_url and httpx_way != kubectl_way:
            differences.append(
                f"httpx (trust_env) would go {_way(httpx_way)} where kubectl goes {_way(kubectl_way)}"
                f" ({_httpx_why(kubectl_decision, httpx_way)})"
            )
    except HttpxRejected as exc:
        details["httpx_trust_env"] = f"rejected: {exc}"
        if not access.proxy_url:
            differences.append(f"httpx (trust_env) would refuse this environment: {exc}")
    python_way = python_client_would_choose(access.server, env, access.proxy_url)
    details["python_client"] = display_proxy_url(python_way) if python_way else "direct"
    if ctx.mode is Mode.KUBECONFIG and python_way != kubectl_way:
        differences.append(
            f"the official Python client (load_kube_config) may go {_way(python_way)} where kubectl goes "
            f"{_way(kubectl_way)} ({_python_why(kubectl_decision, python_way)})"
        )
    details["differences"] = differences
    return details


def _way(url: str | None) -> str:
    return f"through {display_proxy_url(url)}" if url else "direct"


def _httpx_why(decision: ProxyDecision, httpx_way: str | None) -> str:
    never = ("loopback is never proxied", "localhost is never proxied")
    if httpx_way and any(words in decision.reason for words in never):
        return "httpx has no loopback exception"
    if httpx_way and "/" in decision.reason.partition(" entry ")[2].partition(" matches")[0]:
        return "httpx does not understand CIDR entries in NO_PROXY"
    if decision.source in ("HTTPS_PROXY", "HTTP_PROXY") and httpx_way:
        return "httpx reads the lower-case variable first"
    if not decision.is_proxied and httpx_way:
        return "httpx also honours ALL_PROXY and reads NO_PROXY differently"
    return "httpx matches NO_PROXY entries differently (ports, wildcards)"


def _python_why(decision: ProxyDecision, python_way: str | None) -> str:
    never = ("loopback is never proxied", "localhost is never proxied")
    if python_way and any(words in decision.reason for words in never):
        return "it has no loopback exception"
    if python_way and not decision.is_proxied:
        return "it also applies ALL_PROXY, which client-go ignores"
    if decision.source == "cluster proxy-url" and not python_way:
        return "its NO_PROXY applies to a proxy-url too (client-go ignores NO_PROXY there)"
    if decision.is_proxied and not python_way:
        return "its NO_PROXY matching is not client-go's (ports, leading dots)"
    return "its proxy rules are not client-go's (urllib reads the lower-case variable first)"


async def _cluster_name(ctx: Context, decision: ProxyDecision) -> str:
    """The kubeconfig cluster whose proxy-url a hint edits (only a proxy-url hint needs it)."""
    if decision.source != "cluster proxy-url" or ctx.mode is not Mode.KUBECONFIG:
        return "CLUSTER"
    return (await ctx.probe(SELECTION)).cluster_name or "CLUSTER"


def _set_proxy(decision: ProxyDecision, cluster: str, url: str) -> str:
    """The command that writes `url` where kubectl read the proxy from."""
    if decision.source == "cluster proxy-url":
        return f"`kubectl config set clusters.{cluster}.proxy-url {url}`"
    return f"`export {decision.source}={url}`"


def _url_with_credentials(decision: ProxyDecision, proxy: str | None) -> str:
    """The proxy URL with credentials in it: what kdoctor knows filled in, the password a placeholder.

    The user name is shown only when the URL pairs it with a password (then it is not the secret;
    alone it may be an API key, see proxy_url_secrets).
    """
    parts = urlsplit(decision.url or "")
    host_port = _host_port(proxy) if proxy else "HOST:PORT"
    user = "<user>"
    if decision.credentials_in_url and parts.password is not None and parts.username:
        user = parts.username
    scheme = parts.scheme if parts.scheme in ("http", "https") else "http"
    return f"{scheme}://{user}:<password>@{host_port}"


def _fix_for_source(decision: ProxyDecision, cluster: str) -> str:
    if decision.source == "cluster proxy-url":
        return (
            f"Fix the cluster's proxy-url: `kubectl config set clusters.{cluster}.proxy-url http://HOST:PORT` "
            f"(http, https or socks5), or remove it with `kubectl config unset clusters.{cluster}.proxy-url`."
        )
    if decision.error and "CGI" in decision.error:
        return "Unset REQUEST_METHOD (a CGI leftover) or HTTP_PROXY in this environment."
    return (
        f"Fix {decision.source}: it must be http://HOST:PORT (or https://, socks5://), e.g. "
        f"`export {decision.source}=http://proxy.example:3128`, or unset it."
    )


def _host_of(server: str) -> str:
    return urlsplit(server if "://" in server else f"https://{server}").hostname or server


def _proxy_unreachable(response: ApiResponse) -> bool:
    """The TCP connection to the proxy itself failed (what apiserver.tcp reports)."""
    connect_failed = response.error_kind in ("refused", "unreachable", "connect-timeout") or (
        response.error_kind == "error" and (response.error or "").startswith("TCP connect failed")
    )
    return connect_failed and response.timings.tls is None


def _proxy_failure(
    decision: ProxyDecision, response: ApiResponse, server_host: str, cluster: str
) -> tuple[str, str] | None:
    """(summary, hint) when the answer shows the proxy itself stopped the request."""
    if response.proxy_fault is not None:
        return _fault_verdict(decision, response.proxy_fault, server_host, cluster)
    shown = decision.display_url
    text = f"{response.error or ''} {response.reason}"
    # tinyproxy, among others, answers a CONNECT with wrong credentials 401 instead of 407.
    refused_auth = response.error_kind == "proxy-error" and " 401 " in f" {text} "
    if response.status == 407 or "407" in text or refused_auth:
        answer = (
            "401 Unauthorized" if refused_auth and "407" not in text else "407 Proxy Authentication Required"
        )
        if decision.credentials_in_url:
            return (
                f"the proxy {shown} ({decision.source}) answered {answer}: "
                "it refused the credentials in the proxy URL",
                f"Correct the user and password in {decision.source}: "
                f"{_set_proxy(decision, cluster, _url_with_credentials(decision, shown))} "
                "(percent-encode special characters) — ask the proxy's administrators if unsure.",
            )
        variable = decision.source if decision.source != "cluster proxy-url" else "the cluster's proxy-url"
        return (
            f"the proxy {shown} ({decision.source}) answered 407 Proxy Authentication Required: "
            f"{variable} needs credentials",
            f"Put the proxy credentials in {variable}: "
            f"{_set_proxy(decision, cluster, _url_with_credentials(decision, shown))} "
            "(percent-encode special characters in the password).",
        )
    if response.error_kind == "proxy-error":
        return (
            f"the proxy {shown} ({decision.source}) refused the tunnel to the apiserver: {response.error}",
            "Ask the proxy's administrators to allow CONNECT to the apiserver's host and port, or add the "
            f"apiserver to NO_PROXY if it is reachable directly (`export NO_PROXY=$NO_PROXY,{server_host}`; "
            "in a pod, the Service IP or the service CIDR).",
        )
    connect_failed = response.error_kind in ("refused", "unreachable", "dns", "connect-timeout") or (
        response.error_kind == "error" and (response.error or "").startswith("TCP connect failed")
    )
    # Through a proxy the only TCP connection kdoctor makes is to the proxy itself.
    if connect_failed and response.timings.tls is None:
        return (
            f"the proxy {shown} ({decision.source}) could not be reached: {response.error}",
            f"Check {decision.source}: is the proxy host and port right, and is it running? If the apiserver "
            f"is reachable directly, add it to NO_PROXY (`export NO_PROXY=$NO_PROXY,{server_host}`).",
        )
    return None


def _phase_words(fault: ProxyFault) -> str:
    names = {"connect": "TCP connect", "proxy_tls": "TLS with the proxy", "tunnel": "tunnel set-up"}
    parts = [f"{names[k]} {v:.0f} ms" for k, v in fault.phases_ms.items() if v is not None and k in names]
    return ", ".join(parts)


def _fault_verdict(
    decision: ProxyDecision, fault: ProxyFault, server_host: str, cluster: str
) -> tuple[str, str]:
    """(summary, hint) for a proxy that stopped the connection, from what the dialer saw it do."""
    source = decision.source
    variable = source if source != "cluster proxy-url" else "the cluster's proxy-url"
    timing = f"; {_phase_words(fault)}" if fault.phases_ms else ""
    kubectl = f" (kubectl: {fault.kubectl}{timing})"
    no_proxy = (
        f"If the apiserver is reachable directly, add it to NO_PROXY (`export NO_PROXY=$NO_PROXY,{server_host}`)."
        if source != "cluster proxy-url"
        else "If the apiserver is reachable directly, remove the proxy-url "
        f"(`kubectl config unset clusters.{cluster}.proxy-url`)."
    )
    if fault.kind == "auth" or (fault.kind == "status" and fault.status == 401):
        # tinyproxy, among others, answers a CONNECT with wrong credentials 401 instead of 407.
        answer = fault.status_line.split(" ", 1)[1] if fault.status_line else fault.what
        if decision.credentials_in_url:
            return (
                f"the proxy {fault.proxy} ({source}) answered {answer}: it refused the credentials in the proxy "
                f"URL{kubectl}",
                f"Correct the user and password in {variable}: "
                f"{_set_proxy(decision, cluster, _url_with_credentials(decision, fault.proxy))} (percent-encode "
                "special characters) — ask the proxy's administrators if unsure.",
            )
        setting = _set_proxy(decision, cluster, _url_with_credentials(decision, fault.proxy))
        return (
            f"the proxy {fault.proxy} ({source}) answered {answer}: {variable} needs credentials{kubectl}",
            f"Put the proxy credentials in {variable}: {setting} (percent-encode special characters in the "
            "password).",
        )
    if fault.kind == "status" and fault.status is not None and fault.status >= 500:
        return (
            f"the proxy {fault.proxy} ({source}) could not reach the apiserver itself: it {fault.what}{kubectl}",
            "The proxy reports that it cannot open a connection to the apiserver's host and port: the "
            "apiserver (or its load balancer) is down, or the proxy's network does not reach it. Check the "
            "server URL and the apiserver; ask the proxy's administrators whether it may reach that address. "
            + no_proxy,
        )
    if fault.kind == "status":
        return (
            f"the proxy {fault.proxy} ({source}) refused the tunnel to the apiserver: it {fault.what}{kubectl}",
            "Ask the proxy's administrators to allow CONNECT to the apiserver's host and port. " + no_proxy,
        )
    summary = f"{fault.message}{kubectl}"
    if fault.phase == "proxy-tls" and fault.kind in ("no-answer", "closed", "not-tls"):
        setting = _set_proxy(decision, cluster, f"http://{_host_port(fault.proxy)}")
        return summary, (
            f"The proxy speaks plain HTTP: write its URL with http:// ({setting}). An https:// proxy URL means "
            "TLS to the proxy itself, which few proxies offer."
        )
    if fault.kind == "tls-verify":
        return summary, (
            "kubectl verifies an https:// proxy with the cluster's own TLS settings (Go clones the cluster's "
            "tls.Config for the proxy): its certificate must chain to the kubeconfig's certificate-authority "
            "(add the proxy's CA to that bundle), or to the system roots when none is set; or use the proxy's "
            "http:// port."
        )
    if fault.kind == "no-answer":
        return summary, (
            f"The proxy accepts connections but does not answer the tunnel request: check {variable} (the right "
            "host and port, and that it is an HTTP/SOCKS proxy) and the proxy's health. " + no_proxy
        )
    if fault.kind == "socks":
        return summary, (
            "The SOCKS proxy could not open the connection to the apiserver: check that the proxy's network "
            "reaches it (the host and port in the server URL). " + no_proxy
        )
    return summary, (
        f"The proxy dropped the tunnel request: check {variable} (host, port, scheme) and the proxy's access "
        "rules for this client. " + no_proxy
    )


def _host_port(display_url: str) -> str:
    parts = urlsplit(display_url)
    return parts.netloc.rpartition("@")[2] or display_url


# --------------------------------------------------------------------------------------------
# proxy.path: facts, then a pure assembly of hops


def assemble_hops(facts: PathFacts) -> list[dict[str, str]]:
    """The ordered hops between the client and the apiserver, each with its evidence."""
    hops: list[dict[str, str]] = []
    decision = facts.decision
    if decision.is_proxied:
        hops.append(_hop(decision.kind, f"{decision.source} → {decision.display_url}: {decision.reason}"))
    kubectl_proxy = _kubectl_proxy_evidence(facts)
    if kubectl_proxy is not None:
        hops.append(_hop("kubectl-proxy", kubectl_proxy))
    interception = _interception_evidence(facts)
    if interception is not None:
        hops.append(_hop("tls-intercepting-proxy", interception))
    kube_proxy = _kube_proxy_evidence(facts)
    if kube_proxy is not None:
        hops.append(_hop("kube-proxy", kube_proxy))
    if kubectl_proxy is None and kube_proxy is None and facts.apiserver_proxy is None:
        balancer = _load_balancer_evidence(facts)
        if balancer:
            hops.append(_hop("load-balancer", "; ".join(balancer)))
    if facts.apiserver_proxy is not None:
        namespace, ref = facts.apiserver_proxy
        hops.append(
            _hop(
                "apiserver-proxy",
                f"the server URL goes through the apiserver proxy of service {namespace}/{ref.name}"
                f" ({ref.segment}): another apiserver relays every request to it (a virtual cluster)",
            )
        )
    if not hops:
        hops.append(_hop("direct", _direct_evidence(facts)))
    return hops


def _kubectl_proxy_evidence(facts: PathFacts) -> str | None:
    api = facts.unauthenticated_api
    if not facts.plain_http or api is None or api.status != 200:
        return None
    body = api.json if isinstance(api.json, dict) else {}
    if body.get("kind") != "APIVersions":
        return None
    version = facts.version
    git_version = None
    if version is not None and version.status == 200 and isinstance(version.json, dict):
        git_version = version.json.get("gitVersion")
    if not git_version:
        return None
    where = "a loopback address" if is_loopback(facts.server_host) else f"{facts.server_host} (not loopback!)"
    return (
        f"{facts.server} is plain HTTP on {where} and answers GET /api (APIVersions) with 200 without any "
        f"credential, and /version says {git_version}: a kubectl proxy that adds its own credentials"
    )


def _interception_evidence(facts: PathFacts) -> str | None:
    chain = facts.chain
    proxied = facts.decision.is_proxied and facts.decision.kind == "http-proxy"
    issuer = interception_issuer(chain, proxied)
    if chain is None or issuer is None:
        return None  # no interception (another cluster's CA is tls.chain's finding)
    anchors = ", ".join(a.subject for a in chain.anchors) or "the configured CA"
    where = f" through {facts.decision.display_url}" if proxied else ""
    return (
        f"the serving chain{where} is issued by {issuer}, not by the cluster CA ({anchors}): something "
        "re-signs the TLS traffic (or the kubeconfig holds another CA; tls.chain has the details)"
    )


def _kube_proxy_evidence(facts: PathFacts) -> str | None:
    if facts.mode is not Mode.IN_CLUSTER:
        return None
    host = normal_ip(facts.server_host)
    if host in facts.endpoint_addresses:
        return None
    if host in facts.service_ips:
        endpoints = _endpoint_text(facts) or "endpoints unknown"
        return (
            f"KUBERNETES_SERVICE_HOST={facts.server_host} is the cluster IP of the default/kubernetes Service, "
            f"not an apiserver address ({endpoints}): kube-proxy (or its replacement) translates it on the node"
        )
    if not facts.service_ips and facts.endpoint_addresses and _is_ip_text(host):
        return (
            f"KUBERNETES_SERVICE_HOST={facts.server_host} is not an apiserver address ({_endpoint_text(facts)}); "
            "in a pod that is the default/kubernetes Service IP, which kube-proxy translates on the node"
        )
    return None


def _is_ip_text(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _endpoint_text(facts: PathFacts) -> str:
    if not facts.endpoint_addresses:
        return ""
    ports = "/".join(str(p) for p in facts.endpoint_ports)
    addresses = ", ".join(facts.endpoint_addresses)
    return f"endpoints {addresses}" + (f" port {ports}" if ports else "")


def _load_balancer_evidence(facts: PathFacts) -> list[str]:
    """Evidence that something other than one apiserver answers at the server URL (empty: none).

    Facts that a balancer gives but one apiserver behind a forward gives too prove nothing alone:
    a loopback URL is never a default/kubernetes endpoint (kube-apiserver refuses to advertise a
    loopback address), and several identity Leases say that several apiservers exist, not that this
    URL spreads over them when every handshake met one serving certificate.
    """
    found: list[str] = []
    proven = False
    server_is_endpoint = False
    if facts.endpoint_addresses and facts.server_addresses:
        outside = [a for a in facts.server_addresses if normal_ip(a) not in facts.endpoint_addresses]
        if outside:
            found.append(
                f"{facts.server_host} ({', '.join(facts.server_addresses)}) is not among the default/kubernetes "
                f"{_endpoint_text(facts)}"
            )
            proven = proven or not _server_on_loopback(facts)
        elif facts.endpoint_ports and facts.server_port not in facts.endpoint_ports:
            found.append(
                f"{facts.server_host} is an apiserver address, but port {facts.server_port} is not the "
                f"apiserver port ({'/'.join(str(p) for p in facts.endpoint_ports)}): something listens in front"
            )
            proven = True
        else:
            server_is_endpoint = True
    distinct = list(dict.fromkeys(facts.leaf_fingerprints))
    if len(distinct) > 1:
        found.append(
            f"{len(facts.leaf_fingerprints)} TLS handshakes met {len(distinct)} different serving certificates"
        )
        proven = True
    if len(facts.lease_identities) > 1 and not server_is_endpoint:
        found.append(
            f"{len(facts.lease_identities)} apiserver identity leases exist "
            f"({', '.join(facts.lease_identities[:5])}), so several apiservers share the server URL"
        )
        proven = proven or not _one_leaf(facts)
    return found if proven else []


def _server_on_loopback(facts: PathFacts) -> bool:
    return bool(facts.server_addresses) and all(is_loopback(a) for a in facts.server_addresses)


def _one_leaf(facts: PathFacts) -> bool:
    """Several handshakes, every one met the same serving certificate: one server answers."""
    return len(facts.leaf_fingerprints) > 1 and len(set(facts.leaf_fingerprints)) == 1


def path_notes(facts: PathFacts, hops: Sequence[dict[str, str]]) -> list[str]:
    """What looked like a load balancer but the evidence says is one apiserver (a note, not a hop)."""
    if any(h["kind"] in ("load-balancer", "kubectl-proxy", "kube-proxy", "apiserver-proxy") for h in hops):
        return []
    notes: list[str] = []
    if facts.endpoint_addresses and _server_on_loopback(facts):
        outside = [a for a in facts.server_addresses if normal_ip(a) not in facts.endpoint_addresses]
        if outside:
            notes.append(
                f"{facts.server_host} is loopback, which an apiserver never advertises (default/kubernetes "
                f"{_endpoint_text(facts)}): this is an apiserver on this machine or a forward to one "
                "(kubectl port-forward, an SSH tunnel, a container's published port), which kdoctor cannot tell apart"
            )
    if len(facts.lease_identities) > 1 and _one_leaf(facts):
        notes.append(
            f"{len(facts.lease_identities)} apiserver identity leases exist, but {len(facts.leaf_fingerprints)} "
            "TLS handshakes all met one serving certificate: one apiserver answers at this URL"
        )
    return notes


def _direct_evidence(facts: PathFacts) -> str:
    parts = [facts.decision.reason]
    if (
        facts.server_addresses
        and facts.endpoint_addresses
        and all(normal_ip(a) in facts.endpoint_addresses for a in facts.server_addresses)
    ):
        parts.append(f"{facts.server_host} is the apiserver endpoint itself")
    if _one_leaf(facts):
        parts.append(f"{len(facts.leaf_fingerprints)} handshakes met the same serving certificate")
    if facts.chain is not None and facts.chain.issuer_is_cluster_ca:
        parts.append("the chain comes from the cluster CA")
    return "; ".join(parts)


class ProxyPath(Check):
    """What stands between this client and the apiserver, in order, each hop with its evidence.

    `details.hops` lists, from the client outwards, `{"kind", "evidence"}` with kind one of:
    `http-proxy` / `socks-proxy` (the proxy client-go's rules pick, see proxy.env); `kubectl-proxy`
    (the server is plain HTTP and serves GET /api and /version without any credential: a `kubectl
    proxy` adding its own); `tls-intercepting-proxy` (the serving chain is not issued by the cluster
    CA but by another CA: something re-signs TLS); `kube-proxy` (in a pod: KUBERNETES_SERVICE_HOST is
    the default/kubernetes Service IP, not an apiserver endpoint); `load-balancer` (evidence that
    something other than one apiserver answers: successive TLS handshakes meet different serving
    certificates, or the server's address is not among the default/kubernetes endpoints (loopback
    excepted), or it is an endpoint address on another port, or several apiserver identity Leases
    exist and the URL is not an endpoint, unless every handshake met one serving certificate);
    `apiserver-proxy` (the server URL goes through /api/v1/namespaces/NS/services/NAME/proxy, the
    virtual-cluster pattern); `direct` when nothing stands between.

    It makes a few extra requests: GET /api without credentials (plain HTTP only), the
    default/kubernetes Endpoints (or EndpointSlice), the apiserver identity Leases, the
    default/kubernetes Service (in a pod), and up to 3 unauthenticated TLS handshakes.

    - pass: the path is known (the summary draws it). A loopback server URL that is not among the
      endpoints (kube-apiserver never advertises loopback) with no other evidence is a direct path
      with a note: the apiserver on this machine, or a forward to one (kubectl port-forward, an SSH
      tunnel, a container's published port), which kdoctor cannot tell apart. Several identity
      Leases while every handshake met one certificate is a note too: one apiserver answers here.
    - skip: the proxy stopped the connection (proxy.env reports it); the hops known so far are in
      the details.
    - warn: a TLS-intercepting proxy is in the path (trust its CA only if your organisation requires
      it: `certificate-authority` must then hold it, and kubectl sends credentials through it).
    - skip: the apiserver did not answer: the check that says why (tls.chain, apiserver.tcp) is
      named, and the client side of the path is in the details.
    """

    id = "proxy.path"
    title = "What stands between this client and the apiserver is known"
    depends_on = ("kubeconfig.server", "kubeconfig.proxy-url", "incluster.env")

    async def run(self, ctx: Context) -> Result:
        facts = await ctx.probe(PATH_FACTS)
        hops = assemble_hops(facts)
        details = ctx.details
        details.update(_path_details(facts, hops))
        drawing = " → ".join(
            ["client", *(_hop_label(h["kind"], facts) for h in hops if h["kind"] != "direct"), "apiserver"]
        )
        if any(h["kind"] == "tls-intercepting-proxy" for h in hops):
            decision = facts.decision
            if not decision.is_proxied:
                hint = (
                    "No proxy is configured (no HTTPS_PROXY, no proxy-url): the interception is transparent, "
                    "by a network appliance on the way. Ask the network or security team for a TLS-inspection "
                    f"exemption for {facts.server_host}:{facts.server_port}"
                )
            elif decision.source == "cluster proxy-url":
                hint = (
                    f"The cluster's proxy-url {decision.display_url} re-signs TLS: ask for a TLS-inspection "
                    "exemption for the apiserver, or remove the proxy-url if the apiserver is reachable without it"
                )
            else:
                hint = (
                    f"The proxy {decision.display_url} ({decision.source}) re-signs TLS: ask for a TLS-inspection "
                    f"exemption, or add the apiserver's host to NO_PROXY if it is reachable directly "
                    f"(`export NO_PROXY=$NO_PROXY,{facts.server_host}`)"
                )
            return Result.warn(
                f"{drawing}: a TLS-intercepting proxy re-signs the apiserver's certificate",
                hint=hint + "; trusting the interception CA in the kubeconfig lets it read every credential.",
            )
        if facts.version is not None and facts.version.proxy_fault is not None:
            # The proxy's failure is proxy.env's finding: reported once, there.
            return Result.skip(
                f"not examined beyond {drawing}: the proxy stopped the connection (proxy.env)",
            )
        if facts.version is not None and not facts.version.answered:
            # Only a consequence of the broken link: a skip naming it, not a second finding.
            return Result.skip(
                f"not examined beyond {drawing}: {_why_no_answer(facts.version.error_kind)}",
            )
        notes = path_notes(facts, hops)
        if notes:
            details["notes"] = notes
        return Result.ok(drawing + _short_evidence(hops) + "".join(f"; note: {n}" for n in notes))


def _why_no_answer(error_kind: str | None) -> str:
    """Which check reports why the apiserver did not answer, in words."""
    if error_kind == "tls-verify":
        return "the server's certificate was not verified (tls.chain, tls.hostname)"
    if error_kind in ("tls-error", "tls-handshake-timeout", "tls-config"):
        return "the TLS handshake failed (tls.chain)"
    if error_kind == "proxy-error":
        return "the proxy refused the tunnel (proxy.env)"
    if error_kind in ("refused", "unreachable", "dns", "connect-timeout"):
        return "the connection failed (apiserver.tcp)"
    return "the apiserver did not answer (apiserver.version)"


def _hop_label(kind: str, facts: PathFacts) -> str:
    """The hop's kind with the one fact that names it, for the summary line."""
    netloc = (
        f"[{facts.server_host}]:{facts.server_port}"
        if ":" in facts.server_host
        else (f"{facts.server_host}:{facts.server_port}")
    )
    label = {
        "http-proxy": facts.decision.display_url,
        "socks-proxy": facts.decision.display_url,
        "kubectl-proxy": netloc,
        "load-balancer": netloc,
        "kube-proxy": f"VIP {facts.server_host}",
        "apiserver-proxy": f"{facts.apiserver_proxy[0]}/{facts.apiserver_proxy[1].name}"
        if facts.apiserver_proxy
        else None,
        "tls-intercepting-proxy": facts.chain.dangling.issuer
        if facts.chain is not None and facts.chain.dangling is not None
        else None,
    }.get(kind)
    return f"{kind} ({label})" if label else kind


def _short_evidence(hops: Sequence[dict[str, str]]) -> str:
    if len(hops) == 1 and hops[0]["kind"] == "direct":
        return f" directly ({hops[0]['evidence']})"
    return ""


def _path_details(facts: PathFacts, hops: list[dict[str, str]]) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "server_addresses": list(facts.server_addresses),
        "endpoints": {
            "source": facts.endpoints_source,
            "addresses": list(facts.endpoint_addresses),
            "ports": list(facts.endpoint_ports),
        },
        "apiserver_identity_leases": list(facts.lease_identities),
        "serving_leaf_sha256": list(facts.leaf_fingerprints),
    }
    if facts.mode is Mode.IN_CLUSTER:
        evidence["service_ips"] = list(facts.service_ips)
        evidence["service_ports"] = list(facts.service_ports)
    if facts.chain is not None:
        evidence["chain_finding"] = facts.chain.finding
        evidence["issuer_is_cluster_ca"] = facts.chain.issuer_is_cluster_ca
    return {
        "hops": hops,
        "server": facts.server,
        "proxy": facts.decision.display_url,
        "evidence": evidence,
        "unavailable": list(facts.unavailable),
    }


# --------------------------------------------------------------------------------------------
# proxy.services (opt-in)


class ProxyServices(Check):
    """The cluster's addon services answer through the apiserver proxy verb (opt-in: --check proxy.services).

    Lists the services labelled `kubernetes.io/cluster-service=true` (the ones `kubectl cluster-info`
    prints) and requests each through `/api/v1/namespaces/NS/services/[https:]NAME:PORT/proxy/`
    with the target's credential, on its first TCP port (https when the port is named https or is
    443, as kubectl cluster-info guesses). At most 25 services, within the check's time budget.

    - pass: every service answered (any HTTP answer from the backend counts: it was reached).
    - warn: RBAC forbids the `services/proxy` subresource (403), or the list itself is forbidden.
    - fail: "503 error trying to reach service" or "no endpoints available": the apiserver could not
      reach the backend. Check `kubectl -n NS get endpoints NAME` and the pods behind the service;
      from the apiserver's network (control plane), the pod network must be reachable.
    """

    id = "proxy.services"
    title = "The cluster's addon services answer through the apiserver proxy"
    depends_on = ("tls.chain", "apiserver.version")
    opt_in = True

    async def run(self, ctx: Context) -> Result:
        started = ctx.environment.monotonic()
        session = await ctx.probe(API_SESSION)
        listing = await session.get(CLUSTER_SERVICES_PATH, authenticated=True)
        if listing.status in (401, 403):
            return Result.warn(
                f"listing the cluster-service services was refused ({status_words(listing)})",
                hint="Grant `list` on services (e.g. `kubectl create clusterrolebinding ... --clusterrole=view`) "
                "or run as a user who has it.",
                details={"list": status_words(listing)},
            )
        if listing.status != 200 or not isinstance(listing.json, dict):
            return Result.fail(
                f"GET {CLUSTER_SERVICES_PATH} answered {status_words(listing)}",
                hint="See the apiserver checks; the service list must be readable.",
                details={"list": status_words(listing)},
            )
        services = [s for s in listing.json.get("items") or [] if isinstance(s, dict)]
        targets = [t for t in (_proxy_target(s) for s in services) if t is not None]
        if not targets:
            return Result.ok(
                "no service is labelled kubernetes.io/cluster-service=true", details={"services": []}
            )
        rows: list[dict[str, Any]] = []
        for namespace, ref, label in targets[:MAX_SERVICES]:
            path = apiserver_proxy_path(ref.name, namespace, ref.scheme, ref.port)
            # A request may take up to 2 timeouts: start none that could overrun the check's budget.
            if ctx.environment.monotonic() - started > ctx.timeout * 1.5:
                rows.append(
                    {"service": f"{namespace}/{ref.name}", "path": path, "outcome": "not probed (time)"}
                )
                continue
            response = await session.get(path, authenticated=True)
            if response.not_sent:
                # The target's time ran out on an earlier stall: this one was never asked.
                rows.append(
                    {"service": f"{namespace}/{ref.name}", "path": path, "outcome": "not probed (time)"}
                )
                continue
            rows.append(_service_row(namespace, ref, label, path, response))
        return _judge_services(rows, len(targets))


_HTTP_PORT_NUMBERS = (80, 443, 8080, 8443, 9153, 10250)
_NON_HTTP_NAMES = ("dns", "dns-tcp", "dns-udp", "grpc")


def _http_likeness(port: dict[str, Any]) -> int:
    """Rank a service port by how likely it speaks HTTP (lower is better; 9 means "surely not")."""
    name = str(port.get("name") or "").lower()
    number = port.get("port")
    if name in _NON_HTTP_NAMES or number == 53:
        return 9
    if name.startswith("https") or name.startswith("http") or "metrics" in name or name == "web":
        return 0
    if number in _HTTP_PORT_NUMBERS:
        return 1
    return 2


def _proxy_target(service: dict[str, Any]) -> tuple[str, ServiceRef, str] | None:
    """(namespace, how to address it through the proxy, display name), or None when it has no HTTP port."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    label = str((meta.get("labels") or {}).get("kubernetes.io/name") or name)
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not ports:
        return namespace, ServiceRef(name), label
    tcp = [p for p in ports if (p.get("protocol") or "TCP") == "TCP" and _http_likeness(p) < 9]
    if not tcp:
        return None
    port = min(tcp, key=_http_likeness)
    port_name = str(port.get("name") or "")
    # kubectl cluster-info's guess: https when the port is named https or is 443.
    https = port_name == "https" or port.get("port") == 443
    port_ref = port_name or str(port.get("port") or "")
    return namespace, ServiceRef(name, "https" if https else None, port_ref or None), label


def _service_row(
    namespace: str, ref: ServiceRef, label: str, path: str, response: ApiResponse
) -> dict[str, Any]:
    message = ""
    if isinstance(response.json, dict) and response.json.get("kind") == "Status":
        message = str(response.json.get("message") or "")
    if response.status is None:
        outcome = "no-answer"
    elif response.status == 403 and message:
        outcome = "forbidden"
    elif response.status in (502, 503) and any(w in message for w in ("malformed HTTP", "EOF")):
        outcome = "answered-not-http"  # the apiserver reached the backend, which does not speak HTTP
    elif response.status in (502, 503) and (
        "error trying to reach service" in message or "no endpoints available" in message or not message
    ):
        outcome = "unreachable"
    else:
        outcome = "answered"
    return {
        "service": f"{namespace}/{ref.name}",
        "name": label,
        "path": path,
        "status": response.status,
        "outcome": outcome,
        "message": message or (response.error or ""),
    }


def _judge_services(rows: list[dict[str, Any]], total: int) -> Result:
    details = {"services": rows, "listed": total, "probed": sum(1 for r in rows if "status" in r)}
    unreachable = [r for r in rows if r.get("outcome") in ("unreachable", "no-answer")]
    forbidden = [r for r in rows if r.get("outcome") == "forbidden"]
    answered = [r for r in rows if r.get("outcome") in ("answered", "answered-not-http")]
    if unreachable:
        first = unreachable[0]
        return Result.fail(
            f"{len(unreachable)} of {len(rows)} services do not answer through the apiserver proxy: "
            f"{first['service']}: {first['status']} {first['message']}".rstrip(),
            hint=f"Check the backends: `kubectl -n {first['service'].split('/')[0]} get endpoints "
            f"{first['service'].split('/')[1]}` must list ready pods, and the control plane must reach the "
            "pod network (the apiserver dials the pod IPs).",
            details=details,
        )
    if forbidden:
        return Result.warn(
            f"{len(forbidden)} of {len(rows)} services cannot be proxied: RBAC forbids services/proxy "
            f"({forbidden[0]['message']})",
            hint="Grant `get` on the `services/proxy` subresource to use the proxy URLs, or ignore this if "
            "the restriction is intended.",
            details=details,
        )
    names = ", ".join(r["service"] for r in answered[:6])
    return Result.ok(f"{len(answered)} services answer through the apiserver proxy: {names}", details=details)


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 50

CHECKS = (ProxyEnv, ProxyPath, ProxyServices)
