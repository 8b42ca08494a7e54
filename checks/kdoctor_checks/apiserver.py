"""apiserver.*: can the apiserver be reached, and does it answer like one? One check per phase.

Each result's details carry `timings_ms` ({"dns", "connect", "tls", "first_byte"}, milliseconds,
null for a phase that did not happen) so a slow link shows where the time went.
"""

from __future__ import annotations

import re
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

import kdoctor.api as api
from kdoctor.api import (
    ADDRESS_SURVEY,
    DISCOVERY,
    KUBECTL_CLIENT,
    LIVEZ,
    READYZ,
    RESOLUTION,
    ROUTE,
    TCP_CONNECT,
    VERSION,
    ApiResponse,
    Check,
    Context,
    Result,
    is_ip_literal,
    iso_utc,
    judge_discovery,
    judge_skew,
    phase_timings,
)

# `api.go_dial_plan` and `api.describe_dial` resolve on first use (the facade's lazy names):
# kdoctor.dialplan loads only when the server's name has several addresses to survey.

__all__ = [
    "CHECKS",
    "ClockCheck",
    "DiscoveryCheck",
    "DnsCheck",
    "LivezCheck",
    "ReadyzCheck",
    "SkewCheck",
    "TcpCheck",
    "VersionCheck",
]

#: The target's description must name a server before any of these can run.
#: Reachability needs only a server: a broken CA must not hide whether the apiserver answers.
_ACCESS_DEPS = ("kubeconfig.server", "incluster.env")
#: Failures that belong to the TLS link: tls.chain reports them, apiserver.* only points there.
_TLS_FAILURES = frozenset({"tls-verify", "tls-error", "tls-handshake-timeout", "tls-config"})
#: Beyond this the clocks disagree enough to break certificates and tokens at their edges.
CLOCK_SKEW_WARN_SECONDS = 120.0


async def timings_ms(ctx: Context, response: ApiResponse | None = None) -> dict[str, float | None]:
    # kdoctor.probes.api is imported lazily: `kdoctor checks` loads this module without networking.

    return await phase_timings(ctx, response)


class DnsCheck(Check):
    """Resolves the apiserver's host name the way kubectl's dialer would: the system resolver.

    Looks at the host of the server URL (or, when a proxy is in the path, the proxy's host: the
    proxy resolves the server's name itself) and lists every A/AAAA answer with the lookup time.

    - pass: the name resolves (an IP address needs no lookup).
    - fail: "no such host" (the name does not exist for this machine's resolver: a typo, a private
      zone only resolvable on the VPN, a missing /etc/hosts entry), or no answer in time.

    Fix: check the host in the server URL, connect the VPN that serves the private zone, or check
    /etc/resolv.conf. `getent hosts NAME` asks the same resolver.
    """

    id = "apiserver.dns"
    title = "The apiserver's host name resolves"
    depends_on = _ACCESS_DEPS

    async def run(self, ctx: Context) -> Result:
        route = await ctx.probe(ROUTE)
        resolution = await ctx.probe(RESOLUTION)
        host = resolution.host
        what = f"proxy host {host}" if route.proxied else host
        details = ctx.details
        details.update(
            {
                "host": host,
                "port": resolution.port,
                "ip_literal": resolution.ip_literal,
                "addresses": list(resolution.addresses),
                "via_proxy": route.proxy_display,
                "timings_ms": await timings_ms(ctx),
            }
        )
        server_host = route.server.host
        note = (
            f"; the proxy resolves {server_host} itself"
            if route.proxied and not is_ip_literal(server_host)
            else ""
        )
        if resolution.ip_literal:
            return Result.ok(f"{what} is an IP address: no lookup needed{note}")
        if resolution.ok:
            return Result.ok(
                f"{what} resolves to {', '.join(resolution.addresses)} in {resolution.duration_ms:.0f} ms{note}",
            )
        details["error_kind"] = resolution.error_kind
        details["error"] = resolution.error
        if resolution.error_kind == "timeout":
            return Result.fail(
                f"lookup {host}: {resolution.error} from the system resolver",
                hint="Check the nameservers in /etc/resolv.conf and that they are reachable (VPN, firewall); "
                f"`getent hosts {host}` asks the same resolver.",
            )
        return Result.fail(
            f"lookup {host}: {resolution.error} (kubectl: dial tcp: lookup {host}: no such host)",
            hint=f"Check the host name in the server URL for typos; if {host} lives in a private DNS zone, "
            f"connect the VPN that serves it or add it to /etc/hosts. `getent hosts {host}` asks the same resolver.",
        )


class TcpCheck(Check):
    """Opens a TCP connection to the apiserver (or to the proxy in front of it) and closes it.

    Tries each resolved address in turn within --timeout and tells the failures apart:

    - refused: the host answered but nothing listens on that port (apiserver down, wrong port).
    - timed out: no answer at all (a firewall or security group drops packets, a VPN is not up).
    - unreachable: this machine has no route to the address.

    When an HTTP or SOCKS proxy is in the path the connect goes to the proxy, as kubectl's does;
    the result says so.

    A name with several addresses (`localhost` → ::1 and 127.0.0.1, a DNS round robin) gets a note:
    every address, whether it answers, and the order Go's dialer tries them (the first answer's
    address family one after another, the other family racing from 300 ms on: happy eyeballs).
    An address that does not answer while another does is a note, not a finding: kubectl connects.
    """

    id = "apiserver.tcp"
    title = "A TCP connection to the apiserver opens"
    depends_on = ("apiserver.dns",)

    async def run(self, ctx: Context) -> Result:
        route = await ctx.probe(ROUTE)
        tcp = await ctx.probe(TCP_CONNECT)
        timings = await timings_ms(ctx)
        # This link is the TCP connect: the handshake, if the connect was the session's, is the tls checks'.
        timings["tls"] = None
        answered = tcp.connected_address
        if answered is not None:
            timings["connect"] = next(a.duration_ms for a in tcp.attempts if a.outcome == "connected")
        details = ctx.details
        details.update(
            {
                "host": tcp.host,
                "port": tcp.port,
                "via_proxy": route.proxy_display,
                "proxy_kind": route.proxy_kind,
                "connected_address": answered,
                "attempts": [
                    {
                        "address": a.address,
                        "outcome": a.outcome,
                        "error": a.error,
                        "duration_ms": a.duration_ms,
                    }
                    for a in tcp.attempts
                ],
                "timings_ms": timings,
            }
        )
        if route.proxy_error:
            return Result.fail(
                f"kubectl would not connect: {route.proxy_error}",
                hint="Fix the proxy setting named here (see proxy.* checks).",
            )
        target = f"the proxy {route.proxy_display}" if route.proxied else f"{tcp.host}:{tcp.port}"
        if answered is not None:
            where = f"{answered}:{tcp.port}" if answered != tcp.host else f"{tcp.host}:{tcp.port}"
            tail = f"; the proxy opens the connection to {route.server.netloc}" if route.proxied else ""
            earlier = [f"{a.address} {a.outcome}" for a in tcp.attempts if a.outcome != "connected"]
            if earlier:
                tail += f" (after {', '.join(earlier)})"
            tail += await _dial_note(ctx, tcp.host, details)
            return Result.ok(
                f"connected to {'the ' + route.proxy_kind + ' at ' if route.proxied else ''}{where} "
                f"in {timings['connect']:.1f} ms{tail}",
            )
        tried = "; ".join(f"{a.address}: {a.outcome}" for a in tcp.attempts) or "no address to try"
        outcome = tcp.outcome
        if outcome == "refused":
            hint = (
                f"Nothing listens on port {tcp.port}: check the proxy address and that the proxy runs."
                if route.proxied
                else f"Nothing listens on port {tcp.port} there: check the port in the server URL (6443 for "
                "kubeadm, 443 for most managed clusters) and that the apiserver (or its load balancer) is up."
            )
            return Result.fail(
                f"connection to {target} refused ({tried}): the host answered, nothing listens on that port",
                hint=hint,
            )
        if outcome == "timeout":
            return Result.fail(
                f"no answer from {target} within {ctx.timeout:g}s ({tried}): packets are dropped on the way",
                hint="A firewall, security group or missing VPN is the usual cause: check that this network may "
                f"reach {tcp.host} on port {tcp.port} (e.g. `nc -vz {tcp.host} {tcp.port}`), and whether a "
                "proxy is required (HTTPS_PROXY).",
            )
        if outcome == "unreachable":
            return Result.fail(
                f"{target} is unreachable from this machine ({tried}): no route to it",
                hint="This machine has no route to that network: connect the VPN or check the routing table "
                "(`ip route get ADDRESS`).",
            )
        if outcome == "no-address":
            return Result.skip("no address to connect to (see apiserver.dns)")
        return Result.fail(f"could not connect to {target}: {tried}")


async def _dial_note(ctx: Context, host: str, details: dict[str, Any]) -> str:
    """For a name with several addresses: each one and whether it answers, in Go's dialing order."""
    survey = await ctx.probe(ADDRESS_SURVEY)
    if not survey:
        return ""
    outcomes = {a.address: a.outcome for a in survey}
    plan = api.go_dial_plan([a.address for a in survey])
    details["addresses"] = [{"address": a.address, "outcome": a.outcome, "error": a.error} for a in survey]
    details["go_dial_order"] = {"primaries": list(plan.primaries), "fallbacks": list(plan.fallbacks)}
    return f"; note: {api.describe_dial(host, plan, outcomes)}"


def _html_title(body: bytes) -> str | None:
    match = re.search(rb"<title[^>]*>(.*?)</title>", body[:65536], re.IGNORECASE | re.DOTALL)
    return " ".join(match.group(1).decode("utf-8", "replace").split()) if match else None


def _is_status(response: ApiResponse) -> bool:
    body = response.json
    return isinstance(body, dict) and body.get("kind") == "Status"


def _answered_what(response: ApiResponse) -> str:
    """What a non-Kubernetes answer was, for evidence: "HTML (title 'Sign in')", "JSON {a, b}", ..."""
    content_type = response.content_type or "no Content-Type"
    body = response.body.lstrip()
    if body[:1] == b"<" or "html" in content_type:
        title = _html_title(response.body)
        return f"HTML ({content_type}{', title ' + repr(title) if title else ''})"
    if isinstance(response.json, dict):
        keys = ", ".join(sorted(str(k) for k in response.json)[:6])
        return f"JSON that is not a Kubernetes version (keys: {keys or 'none'})"
    if not body:
        return f"an empty body ({content_type})"
    return f"{content_type}: {response.preview(80)!r}"


def _failure_result(ctx: Context, response: ApiResponse, what: str, details: dict[str, Any]) -> Result:
    """The verdict for a request that got no HTTP answer."""
    kind = response.error_kind
    details["error_kind"] = kind
    details["error"] = response.error
    if kind in _TLS_FAILURES:
        where = "tls.chain or tls.hostname says why" if kind == "tls-verify" else "see tls.chain"
        return Result.skip(f"no HTTP exchange: {response.error} ({where})")
    if response.not_sent:
        # Never asked: nothing is known of the answer, and the stall that used up the time is reported
        # where it happened.
        return Result.skip(f"not examined: {response.error}")
    if kind == "read-timeout":
        # Cut short when the target's time ran out: how long it waited, and which stall ended it.
        waited = f"within {ctx.timeout:g}s" if response.cut_by is None else f"({response.error})"
        return Result.fail(
            f"{what}: the connection and TLS work, but no response headers came {waited} "
            "(kubectl: Client.Timeout exceeded while awaiting headers)",
            hint="Something in the path accepts requests and never answers: a load balancer or proxy without a "
            "healthy backend, or an overloaded apiserver. Check the apiserver's health and logs and the load "
            "balancer's backends.",
        )
    if kind == "proxy-error":
        # The proxy's failure is proxy.env's finding; the apiserver was never reached.
        return Result.skip(
            f"the proxy stopped the connection before the apiserver: {response.error} (see proxy.env)",
        )
    return Result.fail(f"{what}: {response.error}")


class VersionCheck(Check):
    """Sends GET /version and checks that the answer is a Kubernetes version document.

    The request goes out without credentials (kube-apiserver serves /version to anyone unless
    anonymous access is off; then the credential is used), so this check says nothing about the
    credential. It shows gitVersion and platform.

    - fail: no answer in time (something accepted the connection and never answered), or an
      answer that is not from an apiserver — HTML from an ingress, a captive portal or a web
      server on the wrong port (kubectl: "invalid character '<' looking for beginning of value"),
      other JSON, or 404.
    - warn: the server is an apiserver (it answered a metav1.Status) but refused /version.
    - skip: the TLS handshake failed (the tls.* checks say why), or the proxy in the path stopped
      the connection (proxy.env says how): the apiserver was never reached.
    """

    id = "apiserver.version"
    title = "The server answers GET /version like a Kubernetes apiserver"
    depends_on = ("apiserver.tcp",)

    async def run(self, ctx: Context) -> Result:
        response = await ctx.probe(VERSION)
        details = ctx.details
        details.update({"status": response.status, "timings_ms": await timings_ms(ctx, response)})
        if not response.answered:
            return _failure_result(ctx, response, "GET /version got no answer", details)
        details["content_type"] = response.content_type
        details["protocol"] = response.protocol
        body = response.json
        if response.status == 200 and isinstance(body, dict) and isinstance(body.get("gitVersion"), str):
            fields = ("gitVersion", "platform", "goVersion", "buildDate", "gitCommit", "major", "minor")
            details.update({k: body.get(k) for k in fields if k in body})
            platform = f" on {body['platform']}" if body.get("platform") else ""
            go = f", built with {body['goVersion']}" if body.get("goVersion") else ""
            return Result.ok(f"Kubernetes {body['gitVersion']}{platform}{go}")
        details["body_preview"] = response.preview(200)
        if response.status in (401, 403) and _is_status(response):
            message = body.get("message", "") if isinstance(body, dict) else ""
            return Result.warn(
                f"the server is a Kubernetes apiserver but answered /version with {response.status} "
                f"{response.reason}: {message}",
                hint="Anonymous access is off and the credential did not open /version; the auth.* checks show "
                "who you are to this server.",
            )
        if response.status == 200:
            what = _answered_what(response)
            kubectl = (
                " (kubectl: unable to parse the server version: invalid character '<' looking for beginning of value)"
                if response.body.lstrip()[:1] == b"<"
                else ""
            )
            return Result.fail(
                f"GET /version answered {what}: this is not a Kubernetes apiserver{kubectl}",
                hint="The server URL reaches something else (an ingress, a captive portal or sign-in page, a web "
                "server on the wrong port): check the host and port in the server URL and whether a proxy or portal "
                "intercepts the traffic.",
            )
        if response.status == 404:
            return Result.fail(
                f"GET /version answered 404 {response.reason} ({_answered_what(response)}): not a Kubernetes "
                "apiserver at this URL",
                hint="Check the server URL: the host and port (and any path prefix) must point at the apiserver "
                "itself, not at a web server or an ingress in front of other services.",
            )
        return Result.fail(
            f"GET /version answered {response.status} {response.reason}: {response.preview(120)!r}",
            hint="The server is up but not answering normally; check the apiserver (or load balancer) logs.",
        )


def _status_message(response: ApiResponse) -> str:
    body = response.json
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:200]
    return response.preview(80) or "no message"


async def _same_failure_as_livez(ctx: Context) -> bool:
    """Both /livez and /readyz fail, and every sub-check /readyz names fails /livez too."""
    livez, readyz = await ctx.probe(LIVEZ), await ctx.probe(READYZ)
    if not (livez.answered and readyz.answered) or 200 in (livez.status, readyz.status):
        return False
    in_readyz = {_subcheck(line) for line in readyz.failed_subchecks}
    return bool(in_readyz) and in_readyz <= {_subcheck(line) for line in livez.failed_subchecks}


def _subcheck(line: str) -> str:
    """The sub-check a "[-]name failed: ..." line is about. /readyz's "etcd-readiness" is /livez's "etcd"
    with readiness' timeout: a real apiserver without etcd fails both (tests/realcluster, etcd stopped)."""
    return line.removeprefix("[-]").split(" ", 1)[0].removesuffix("-readiness")


class _HealthCheck(Check):
    path = ""
    endpoint = ""

    async def _probe(self, ctx: Context) -> ApiResponse:
        raise NotImplementedError

    async def run(self, ctx: Context) -> Result:
        response = await self._probe(ctx)
        details = ctx.details
        details.update(
            {
                "path": response.path,
                "status": response.status,
                "timings_ms": await timings_ms(ctx, response),
            }
        )
        if not response.answered:
            return _failure_result(ctx, response, f"GET {self.path} got no answer", details)
        failed = response.failed_subchecks
        details["failed_checks"] = failed
        if response.status == 200:
            return Result.ok(f"{self.path}: ok")
        if response.status in (401, 403):
            # The apiserver answered, so it is up; RBAC (or anonymous access off) hides its health
            # from this identity. That is not a health failure.
            who = "anonymous requests" if not response.credentials_sent else "this identity"
            return Result.skip(
                f"{self.path} answered {response.status} {response.reason}: {who} may not see it "
                f"({_status_message(response)}); the apiserver answered, its health is not visible here",
                hint=f"To see it, grant `get` on the non-resource URL {self.path} (the system:public-info-viewer "
                "ClusterRole does, by default), or run as a user who has it.",
            )
        if response.status == 404:
            return Result.warn(
                f"{self.path} is not served (404): an apiserver older than 1.16, or not an apiserver",
                hint="Upgrade the cluster; /healthz is the older equivalent.",
            )
        if failed:
            names = ", ".join(failed)
            # /livez and /readyz failing on the same sub-check are one finding: livez reports it,
            # readyz skips, and each names the other.
            if await _same_failure_as_livez(ctx):
                if self.id == "apiserver.readyz":
                    return Result.skip(
                        f"not examined separately: {self.path} fails on the same sub-check as /livez "
                        f"({names}), reported once by apiserver.livez",
                    )
                names += "; /readyz fails on it too (apiserver.readyz)"
            return Result.fail(
                f"{self.path} answered {response.status}: {names}",
                hint=self._hint(failed),
            )
        return Result.fail(
            f"{self.path} answered {response.status} {response.reason}: {response.preview(120)!r}",
            hint=self._hint([]),
        )

    def _hint(self, failed: list[str]) -> str:
        if any("etcd" in f for f in failed):
            return (
                f"The apiserver cannot reach etcd: check the etcd members (`kubectl get --raw='{self.path}?verbose'`, "
                "`kubectl -n kube-system logs -l component=etcd`, `crictl ps` on a control-plane node) and the "
                "apiserver's --etcd-servers."
            )
        return (
            f"See the apiserver's own account: `kubectl get --raw='{self.path}?verbose'` and the kube-apiserver logs "
            "on the control plane."
        )


class LivezCheck(_HealthCheck):
    """Asks the apiserver whether it is live: GET /livez?verbose.

    A 500 names the failing sub-checks ("[-]etcd failed: reason withheld"); a process that fails
    /livez is restarted by the kubelet. 404: an apiserver before 1.16 (warn). 401/403 means this
    identity may not see /livez (anonymous access off, RBAC), never a health failure: skip, saying so.
    """

    id = "apiserver.livez"
    title = "The apiserver reports itself live (/livez)"
    depends_on = ("apiserver.version",)
    path = "/livez"

    async def _probe(self, ctx: Context) -> ApiResponse:
        return await ctx.probe(LIVEZ)


class ReadyzCheck(_HealthCheck):
    """Asks the apiserver whether it is ready to serve: GET /readyz?verbose.

    An apiserver can be up yet not ready (etcd unreachable, informers not synced, shutting down):
    load balancers then stop sending it traffic and requests fail with 500/503. A failure names
    the failing sub-checks as the apiserver reports them ("[-]etcd failed: reason withheld").
    401/403 means this identity may not see /readyz (anonymous access off, RBAC), never a health
    failure: skip, saying so. When /livez fails on the same sub-checks, that is one finding:
    apiserver.livez reports it (and says /readyz fails too) and this check skips, naming it.
    """

    id = "apiserver.readyz"
    title = "The apiserver reports itself ready (/readyz)"
    depends_on = ("apiserver.version",)
    path = "/readyz"

    async def _probe(self, ctx: Context) -> ApiResponse:
        return await ctx.probe(READYZ)


def _duration(seconds: float) -> str:
    """A skew in words; the Date header has one-second resolution, so minutes are rounded."""
    seconds = abs(seconds)
    if seconds < 120:
        return f"{round(seconds)}s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"about {minutes} minutes"
    return f"about {minutes / 60:.1f} hours"


class ClockCheck(Check):
    """Compares the apiserver's clock (its `Date` header) with this machine's.

    A skewed local clock makes a freshly issued certificate look "not yet valid" and an old one
    look expired, and makes tokens fail their nbf/exp checks — errors that look like TLS or
    credential problems. The Date header has one-second resolution.

    - warn: the clocks differ by more than 2 minutes.
    - skip: no HTTP answer carried a Date header.

    Fix: synchronise this machine's clock (`timedatectl set-ntp true`, `chronyc makestep`); if this
    machine is right, the control plane's clock is off.
    """

    id = "apiserver.clock"
    title = "This machine's clock agrees with the apiserver's"
    depends_on = ("apiserver.tcp",)

    async def run(self, ctx: Context) -> Result:
        response = await ctx.probe(VERSION)
        header = response.header("date")
        details = ctx.details
        details.update({"date_header": header, "timings_ms": await timings_ms(ctx, response)})
        if header is None or response.received_at is None:
            why = "" if response.answered else " (GET /version got no answer: see apiserver.version)"
            return Result.skip(f"no HTTP answer carried a Date header to compare with{why}")
        try:
            server_time = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return Result.skip(f"the Date header {header!r} is not a valid HTTP date")
        if server_time.tzinfo is None:
            server_time = server_time.replace(tzinfo=timezone.utc)
        local = response.received_at
        skew = (server_time - local).total_seconds()
        details.update(
            {
                "local_time": iso_utc(local),
                "server_time": iso_utc(server_time),
                "skew_seconds": round(skew, 1),
            }
        )
        if abs(skew) <= CLOCK_SKEW_WARN_SECONDS:
            return Result.ok(f"the clocks agree within {_duration(max(abs(skew), 1))}")
        direction = "ahead of" if skew > 0 else "behind"
        return Result.warn(
            f"the apiserver's clock is {_duration(skew)} {direction} this machine's "
            f"(Date: {header}; local {iso_utc(local)})",
            hint="Synchronise this machine's clock (`timedatectl set-ntp true` or `chronyc makestep`); if it is "
            'right, fix the control plane\'s NTP. Skew makes new certificates look "not yet valid", old ones '
            "expired, and tokens fail their nbf/exp checks.",
        )


class SkewCheck(Check):
    """Compares the server's version with the kubectl on PATH and with kdoctor's known range.

    Reads gitVersion from GET /version and kubectl's own version with `kubectl version --client
    -o json` (run without a kubeconfig, so without any network; Google Cloud SDK's kubectl
    dispatcher is recognised: it runs a release matching each server). kubectl is supported within
    one minor version of the apiserver, older or newer.

    - warn: kubectl is two or more minor versions away from the server; the hint gives the
      download URL of the matching kubectl (dl.k8s.io) for this platform.
    - pass: within ±1 minor, or no kubectl on PATH (not a finding). Notes: the server's minor
      release is past its upstream end of life (managed providers may support it longer), or
      outside the range kdoctor's verdicts are written for.
    """

    id = "apiserver.skew"
    title = "kubectl and the apiserver are within the supported version skew"
    depends_on = ("apiserver.version",)

    async def run(self, ctx: Context) -> Result:
        response = await ctx.probe(VERSION)
        kubectl = await ctx.probe(KUBECTL_CLIENT)
        verdict = judge_skew(
            response.json, kubectl.version, today=ctx.environment.now(), kubectl_path=kubectl.path
        )
        ctx.details.update({**verdict.details, "timings_ms": await timings_ms(ctx, response)})
        if kubectl.error:
            ctx.details["kubectl_error"] = kubectl.error
        if verdict.status == "warn":
            return Result.warn(verdict.summary, hint=verdict.hint)
        if verdict.status == "skip":
            return Result.skip(verdict.summary)
        return Result.ok(verdict.summary)


class DiscoveryCheck(Check):
    """Fetches API discovery the way kubectl does and names every group-version that fails.

    kubectl asks /api and /apis for aggregated discovery (apidiscovery.k8s.io/v2beta1 from
    Kubernetes 1.27, v2 from 1.30) and, from a server that does not serve it, walks every
    group-version (/apis/GROUP/VERSION). An extension API whose backend is down (metrics-server, a
    custom apiserver behind an APIService) then makes every kubectl command print "couldn't get
    resource list for metrics.k8s.io/v1beta1: the server is currently unable to handle the request",
    which reads like a broken cluster. With aggregated discovery kubectl skips the stale
    group-version quietly, but client-go programs that list every API (controllers, Argo CD, Helm)
    stop with "unable to retrieve the complete list of server APIs: …: stale GroupVersion
    discovery". Either way kubectl works for every other API; requests to the broken one fail.

    - pass: every group-version answers; the summary gives the count of group-versions and
      resources and whether aggregated discovery is served.
    - warn: some group-versions are stale or fail; each is named with the error kubectl prints and,
      where RBAC allows reading it, its APIService's Available condition (reason, message) and the
      Service behind it.
    - skip: discovery was refused (401/403: see auth.*) or could not be fetched.

    Fix: `kubectl describe apiservice v1beta1.metrics.k8s.io`, then the Service's endpoints and
    pods; delete the APIService if the extension is gone.
    """

    id = "apiserver.discovery"
    title = "Every API group-version answers discovery"
    depends_on = ("apiserver.version",)

    async def run(self, ctx: Context) -> Result:
        verdict = judge_discovery(await ctx.probe(DISCOVERY))
        ctx.details.update({**verdict.details, "timings_ms": await timings_ms(ctx)})
        if verdict.status == "warn":
            return Result.warn(verdict.summary, hint=verdict.hint)
        if verdict.status == "skip":
            return Result.skip(verdict.summary)
        return Result.ok(verdict.summary)


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 40

CHECKS = (DnsCheck, TcpCheck, VersionCheck, LivezCheck, ReadyzCheck, ClockCheck, SkewCheck, DiscoveryCheck)
