"""tls.*: the chain the apiserver presents, judged against the cluster CA, name, dates and strength.

The chain comes from the target's API session (`kdoctor.probes.api.TLS_HANDSHAKE`): read off the
verified connection, or — when verification failed — from one evidence-only handshake that
carries no credential and no request. The judging is `kdoctor.probes.tls`'s pure helpers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import kdoctor.api as api
from kdoctor.api import (
    API_SESSION,
    CHAIN_ANALYSIS,
    INTERCEPTION,
    KUBECTL_CLIENT,
    KUBERNETES_CA_WORDS,
    SELECTION,
    TLS_HANDSHAKE,
    VERSION,
    ApiResponse,
    ApiSession,
    CertSummary,
    ChainAnalysis,
    Check,
    Context,
    Interception,
    Mode,
    PeerTls,
    Result,
    Unavailable,
    expires_soon,
    go_hostname_error,
    hostname_matches,
    human_utc,
    phase_timings,
    strength_problems,
)

# `api.go_rejections` and `api.go_version` resolve on first use (the facade's lazy names): kdoctor.gotls
# loads only when a handshake failed or kubectl's Go version matters, not on a healthy run.

__all__ = ["CHECKS", "ChainCheck", "ExpiryCheck", "HostnameCheck", "InsecureCheck", "StrengthCheck"]

_DEPS = ("apiserver.tcp", "kubeconfig.ca", "kubeconfig.tls", "incluster.ca")
#: tls.chain looks at the server even when the configured CA is expired, not yet valid or unreadable
#: (kubeconfig.ca / incluster.ca report that): it shows where the served chain comes from.
_CHAIN_DEPS = ("apiserver.tcp", "kubeconfig.tls")
#: Names that CAs issuing server certificates on behalf of a root usually carry.
_INTERMEDIATE_NAME = re.compile(r"intermediate|issuing|subordinate|sub[- ]?ca", re.IGNORECASE)
_HOSTNAME_CODES = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_FINGERPRINT_CMD = "openssl s_client -connect {netloc} -servername {name} </dev/null | openssl x509 -noout -fingerprint -sha256"


@dataclass(frozen=True)
class _Facts:
    """What every tls.* check starts from."""

    session: ApiSession
    tls: PeerTls
    analysis: ChainAnalysis
    now: datetime
    #: The GET /version answer, when there was one (its Date header can explain validity errors).
    version: ApiResponse | None
    #: The kubeconfig cluster's name, so `kubectl config set-cluster` hints can be pasted as they are.
    cluster: str = "CLUSTER"
    #: A TLS-intercepting proxy identified in the path: the certificate seen is then its, not the apiserver's.
    interception: Interception | None = None

    @property
    def ca_words(self) -> str:
        access = self.session.access
        if not access.ca_pem:
            return "the system roots"
        anchors = self.analysis.anchors
        names = ", ".join(a.subject for a in anchors) or "an unreadable CA"
        return f"the cluster CA {names}"

    def fingerprint_hint(self) -> str:
        route = self.session.route
        return _FINGERPRINT_CMD.format(netloc=route.server.netloc, name=self.session.server_hostname)

    def base_details(self) -> dict[str, Any]:
        tls = self.tls
        return {
            "verification": tls.verification,
            "captured_on": tls.captured_on,
            "server_hostname": tls.server_hostname,
            "tls_version": tls.tls_version,
            "cipher": tls.cipher,
            "chain": [c.to_dict() for c in self.analysis.chain],
        }


async def _facts(ctx: Context) -> _Facts:
    session = await ctx.probe(API_SESSION)
    if not session.https:
        raise Unavailable("the server URL is plain http://: there is no TLS to check")
    tls = await ctx.probe(TLS_HANDSHAKE)
    analysis = await ctx.probe(CHAIN_ANALYSIS)
    interception = await ctx.probe(INTERCEPTION)
    return _Facts(
        session,
        tls,
        analysis,
        ctx.environment.now(),
        ctx.peek(VERSION),
        await _cluster_name(ctx),
        interception,
    )


async def _cluster_name(ctx: Context) -> str:
    """The selected kubeconfig cluster's name; a placeholder in a pod (there is no kubeconfig)."""
    if ctx.mode is not Mode.KUBECONFIG:
        return "CLUSTER"
    return (await ctx.probe(SELECTION)).cluster_name or "CLUSTER"


def _go_signature_error(key_type: str) -> str:
    """Go's words when a signature does not verify with a candidate CA's key of `key_type`
    (crypto/x509 checkSignature): what kubectl quotes for a CA with the right name and another key."""
    return {"EC": "x509: ECDSA verification failure", "Ed25519": "x509: Ed25519 verification failure"}.get(
        key_type, "crypto/rsa: verification error"
    )


def _describe(cert: CertSummary) -> str:
    return f"{cert.subject} (issuer {cert.issuer}, SHA-256 {cert.sha256[:23]}…)"


def _chain_words(analysis: ChainAnalysis) -> str:
    return " ← ".join(c.subject for c in analysis.chain) or "no certificate"


def _days(delta: timedelta) -> str:
    days = abs(delta.total_seconds()) / 86400
    return f"{days:.0f} days" if days >= 2 else f"{abs(delta.total_seconds()) / 3600:.0f} hours"


def _no_handshake(facts: _Facts, ctx: Context, timings: dict[str, float | None]) -> Result | None:
    """The verdict when no handshake completed (None when one did)."""
    tls = facts.tls
    if tls.verification != "none":
        return None
    details = ctx.details
    details.update(
        {
            **facts.base_details(),
            "error_kind": tls.error_kind,
            "error": tls.error,
            "timings_ms": timings,
        }
    )
    if tls.error_kind == "tls-handshake-timeout":
        route = facts.session.route
        return Result.fail(
            f"TLS handshake timeout: {route.dial_description} accepted TCP but sent no TLS answer within "
            f"{ctx.timeout:g}s (kubectl: net/http: TLS handshake timeout)",
            hint="Something accepts connections there but does not speak TLS: the wrong port, a black-holed load "
            "balancer or a firewall. Check the port in the server URL; "
            f"`openssl s_client -connect {route.server.netloc}` shows the same hang.",
        )
    if tls.error_kind == "tls-error":
        return Result.fail(
            f"the TLS handshake failed: {tls.error}",
            hint="The server (or something in front of it) broke off the handshake: check that the port speaks TLS "
            "and that a proxy in the path does not interfere.",
        )
    if tls.error_kind == "tls-config":
        return Result.fail(
            f"TLS could not be set up on this side: {tls.error}",
            hint="The CA or client certificate in the kubeconfig could not be loaded: see kubeconfig.ca and "
            "kubeconfig.client-cert.",
        )
    if tls.error_kind == "proxy-error":
        return Result.skip(
            f"the proxy stopped the connection before any TLS with the apiserver: {tls.error} (see proxy.env)",
        )
    return Result.skip(f"no TLS handshake took place: {tls.error}")


class ChainCheck(Check):
    """Checks the chain the apiserver presents against the cluster CA from the kubeconfig.

    Every certificate is shown with subject, issuer and SHA-256 fingerprint, and each way the chain
    can fail is named separately:

    - unknown authority: the chain leads to a CA that is not the configured one — the kubeconfig is
      for another cluster, or a TLS-intercepting proxy re-signs the traffic. Once an interception is
      identified (the chain ends at a CA that is neither sent nor configured, with an HTTP proxy in
      the route or an issuer that is not a Kubernetes distribution's), the hint says so: it names the
      proxy that re-signs, or, when no proxy is configured, says the interception is transparent (a
      network appliance) — never advice to change tls-server-name, the server URL or the SANs to the
      interceptor's names; tls.hostname, tls.expiry and tls.strength then skip, since the certificate
      they would judge is the interceptor's.
    - CA rotated: the issuer has the configured CA's name (CN=kubernetes) but another key: the
      cluster CA was rebuilt; fetch the new one.
    - self-signed: the serving certificate signs itself.
    - missing intermediate: the server sends its certificate without the intermediate CA that
      links it to the cluster CA.
    - expired / not yet valid: a certificate of the chain is outside its validity (mind this
      machine's clock: see apiserver.clock).
    - TLS handshake timeout: TCP was accepted but TLS never answered.
    - refused by Go's rules: the chain reaches the CA but a certificate is signed with SHA-1 (Go
      1.18+: "x509: cannot verify signature: insecure algorithm SHA1-RSA") or has an RSA key under
      1024 bits (Go 1.24+). kdoctor verifies at OpenSSL security level 1, Go's line, so a 1024-bit
      key that kubectl accepts is not failed here although other OpenSSL clients may refuse it.
      When the kubectl on PATH is built with an older Go that still accepts the chain (RSA under
      1024 bits before Go 1.24, i.e. kubectl 1.32 and older), the result says so.
    - the configured CA is expired, not yet valid or unreadable: kdoctor still looks at the server
      (an evidence-only handshake, never a credential), shows the chain it presents and says whether
      it comes from the configured CA, from a newer CA with the same name (rotated), or from
      elsewhere. Only the connection that carries a credential waits for a verified chain.

    Without a configured CA the system roots are used, as kubectl does. With
    insecure-skip-tls-verify nothing is verified and kubectl goes on: pass, with tls.insecure
    warning about it. A plain http:// URL to loopback (kubectl proxy) has no TLS on this hop: pass,
    so the auth.* checks report whom the proxy acts as.
    details.issuer_is_cluster_ca is true/false, or null when no cluster CA is configured.
    """

    id = "tls.chain"
    title = "The serving certificate chains to the cluster CA"
    depends_on = _CHAIN_DEPS

    async def run(self, ctx: Context) -> Result:
        session = await ctx.probe(API_SESSION)
        if not session.https and session.credentials_allowed:
            # Plain HTTP to loopback (kubectl proxy): no TLS on this hop, and nothing wrong with that;
            # the checks after this one (the identity the proxy acts as) still run.
            return Result.ok(
                "plain http:// to a loopback address (such as kubectl proxy): no TLS on this hop; the proxy "
                "speaks TLS to the apiserver"
            )
        facts = await _facts(ctx)
        timings = await phase_timings(ctx, facts.version)
        early = _no_handshake(facts, ctx, timings)
        if early is not None:
            return early
        tls, analysis, access = facts.tls, facts.analysis, facts.session.access
        details = ctx.details
        details.update(
            {
                **facts.base_details(),
                "finding": analysis.finding,
                "issuer_is_cluster_ca": analysis.issuer_is_cluster_ca,
                "ca_source": access.ca_source
                or ("certificate-authority-data" if access.ca_pem else "system roots"),
                "configured_ca": [a.to_dict() for a in analysis.anchors],
                "verify_error": tls.verify_message,
                "verify_code": tls.verify_code,
                "timings_ms": timings,
            }
        )
        if tls.verification == "off":
            # kubectl accepts any chain here and goes on (with its credential): so does the path.
            return Result.ok(
                "not verified (insecure-skip-tls-verify): kubectl accepts whatever chain the server presents; "
                "tls.insecure warns about it and shows the chain",
            )
        # OpenSSL checks the name only after the chain reached a trust anchor, and before the dates.
        name_only = (
            tls.verify_code in _HOSTNAME_CODES
            and analysis.finding in ("ok", "system-roots")
            and not analysis.expired
            and not analysis.not_yet_valid
        )
        if tls.verification == "verified" or name_only:
            path = " ← ".join(c.subject for c in analysis.path or analysis.chain)
            verdict = "chains to" if name_only else "verified against"
            tail = "; the name check fails: see tls.hostname" if name_only else ""
            if not access.ca_pem:
                details["issuer_is_cluster_ca"] = None
                return Result.ok(f"{path}, {verdict} the system roots{tail}")
            details["issuer_is_cluster_ca"] = True
            return Result.ok(f"{path}, {verdict} {facts.ca_words}{tail}")
        toolchain = await _kubectl_toolchain(ctx) if facts.analysis.finding == "ok" else None
        return self._failed(facts, details, toolchain)

    def _failed(
        self, facts: _Facts, details: dict[str, Any], toolchain: tuple[int, int] | None = None
    ) -> Result:
        analysis, tls = facts.analysis, facts.tls
        leaf = analysis.leaf
        kubectl_unknown = "x509: certificate signed by unknown authority"
        if tls.error_kind == "tls-config":
            return self._unusable_ca(facts, details)
        if leaf is None:
            return Result.fail(
                f"verification failed ({tls.verify_message}) and the chain could not be read: {tls.error}",
                hint=f"Look at the chain yourself: {facts.fingerprint_hint()}",
            )
        finding = analysis.finding
        if finding == "system-roots" and (analysis.expired or analysis.not_yet_valid):
            return self._validity(facts, details)
        if finding == "system-roots":
            return Result.fail(
                f"{kubectl_unknown}: no certificate-authority is configured, so the system roots are used, and "
                f"they do not trust {_chain_words(analysis)} ({tls.verify_message})",
                hint=f"Set the cluster CA in the kubeconfig: `kubectl config set-cluster {facts.cluster} "
                "--certificate-authority=ca.crt --embed-certs` (the CA is /etc/kubernetes/pki/ca.crt on a kubeadm "
                "control plane). If the issuer is your company's, a TLS-intercepting proxy is in the path: check "
                "HTTPS_PROXY and compare fingerprints from inside the network.",
            )
        if finding == "ca-rotated":
            anchor = analysis.same_name_anchors[0]
            stale = " (the configured one is also out of date)" if _out_of_date(anchor, facts.now) else ""
            return Result.fail(
                f"{kubectl_unknown}: the issuer {anchor.subject} has the name of the configured CA but another key "
                f"(configured CA SHA-256 {anchor.sha256[:23]}…{stale}): a newer CA with the same name — the cluster "
                f"CA was rotated or the cluster rebuilt "
                f"(kubectl: {_go_signature_error(anchor.key_type)} … candidate authority certificate)",
                hint="Get the cluster's current CA (the admin kubeconfig of the new cluster, or "
                "/etc/kubernetes/pki/ca.crt on a control-plane node) and update certificate-authority-data: "
                f"`kubectl config set-cluster {facts.cluster} --certificate-authority=ca.crt --embed-certs`.",
            )
        if finding == "self-signed":
            return Result.fail(
                f"{kubectl_unknown}: the serving certificate {_describe(leaf)} is self-signed, not issued by "
                f"{facts.ca_words}",
                hint="The apiserver (or whatever answers on that address) serves a self-signed certificate. Serve one "
                "issued by the cluster CA (kubeadm: `kubeadm init phase certs apiserver`), or, after comparing its "
                f"fingerprint with the server's own ({facts.fingerprint_hint()}), trust it as the CA.",
            )
        if finding in ("expired", "not-yet-valid"):
            return self._validity(facts, details)
        if finding == "ok":
            go = _go_words(facts)
            if go:
                local = _local_kubectl_words(facts, toolchain)
                return Result.fail(
                    f"the chain {_chain_words(analysis)} reaches {facts.ca_words}, but kubectl (Go) refuses it: "
                    f"{go}{local}",
                    hint="Reissue the certificate named here with a SHA-256 signature and an RSA key of at least "
                    "2048 bits (or ECDSA P-256); Go offers no switch to accept it.",
                )
            # The path to the CA is sound, yet OpenSSL refused it (key usage, a constraint, a policy).
            return Result.fail(
                f"the chain {_chain_words(analysis)} reaches {facts.ca_words}, but verification failed: "
                f"{tls.verify_message}",
                hint=f"Inspect the chain with `openssl s_client -connect {facts.session.route.server.netloc} "
                "-showcerts -CAfile ca.crt` and reissue the certificate that breaks the rule named here.",
            )
        dangling = analysis.dangling or leaf
        issuer = dangling.issuer
        if finding == "missing-issuer" and _INTERMEDIATE_NAME.search(issuer):
            return Result.fail(
                f"{kubectl_unknown}: missing intermediate certificate — the server sends {_chain_words(analysis)} "
                f"without its issuer {issuer}, an intermediate CA, so the chain cannot reach {facts.ca_words}",
                hint="Make the server send the full chain: the serving certificate file (kube-apiserver "
                "--tls-cert-file, or the load balancer's certificate) must hold the certificate followed by the "
                f"intermediate {issuer}. Until then, adding the intermediate to certificate-authority-data works "
                "around it.",
            )
        top = "ends at the untrusted root" if finding == "untrusted-root" else "is issued by"
        interception = facts.interception
        if interception is not None:
            how = (
                "transparently (no proxy is configured)"
                if interception.transparent
                else f"by the proxy {interception.proxy} ({interception.source})"
            )
            return Result.fail(
                f"{kubectl_unknown}: the chain {_chain_words(analysis)} (SHA-256 {leaf.sha256[:23]}…) {top} "
                f"{issuer}, not {facts.ca_words}: a TLS-intercepting proxy re-signs the connection, {how}",
                hint=_interception_hint(interception, facts.session.route.server.netloc)
                + f" Compare fingerprints from inside the cluster's network: {facts.fingerprint_hint()}",
            )
        return Result.fail(
            f"{kubectl_unknown}: the chain {_chain_words(analysis)} (SHA-256 {leaf.sha256[:23]}…) {top} {issuer}, "
            f"not {facts.ca_words} — {_likely_cause(facts, issuer)}",
            hint=_unknown_authority_hint(facts, issuer),
        )

    def _unusable_ca(self, facts: _Facts, details: dict[str, Any]) -> Result:
        """The CA could not be loaded, so nothing was verified; the chain was read without a credential."""
        analysis, tls, access = facts.analysis, facts.tls, facts.session.access
        problem = access.ca_error or tls.error or "the CA could not be loaded"
        details["ca_error"] = problem
        if analysis.leaf is None:
            return Result.fail(
                f"kubectl cannot verify the server: {problem}; the server's chain could not be read either "
                f"({tls.error})",
                hint="Fix the CA in the kubeconfig (see kubeconfig.ca).",
            )
        top = analysis.chain[-1]
        if analysis.finding == "system-roots":
            origin = (
                f"issued by {analysis.chain[0].issuer} (the configured CA could not be read, so kdoctor cannot say "
                "whether it is the cluster CA)"
            )
        else:
            origin = _origin_words(analysis)
        return Result.fail(
            f"kubectl cannot verify the server: {problem}. Looked at without a credential, the server presents "
            f"{_chain_words(analysis)} (top {top.subject}, SHA-256 {top.sha256[:23]}…), {origin}",
            hint=f"Point the kubeconfig at the cluster's current CA: `kubectl config set-cluster {facts.cluster} "
            "--certificate-authority=ca.crt --embed-certs` (kubeadm: /etc/kubernetes/pki/ca.crt). Compare the "
            f"fingerprint above with it first ({facts.fingerprint_hint()}).",
        )

    def _validity(self, facts: _Facts, details: dict[str, Any]) -> Result:
        analysis = facts.analysis
        now = facts.now
        clock = f"this machine's clock reads {human_utc(now)}"
        skew = _skew_note(facts)
        anchors = {a.sha256 for a in analysis.anchors}
        expired_ca = next((c for c in analysis.expired if c.sha256 in anchors), None)
        if expired_ca is not None:
            # The configured CA itself is out of date; the server's chain still comes from it.
            return Result.fail(
                f"x509: certificate has expired or is not yet valid: the configured CA {expired_ca.subject} expired "
                f"on {human_utc(expired_ca.not_after)} ({clock}); the server's chain {_chain_words(analysis)} comes from "
                f"that CA{skew}",
                hint="The cluster still serves from the expired CA: renew the cluster CA (and every certificate it "
                f"issued), then distribute it: `kubectl config set-cluster {facts.cluster} --certificate-authority=ca.crt "
                "--embed-certs`. If this machine's clock is wrong, fix it first.",
            )
        if analysis.expired:
            cert = analysis.expired[0]
            return Result.fail(
                f"x509: certificate has expired: {cert.subject} expired on {human_utc(cert.not_after)}, "
                f"{_days(now - cert.not_after)} ago ({clock}){skew}",
                hint="Renew the serving certificate (kubeadm: `kubeadm certs renew apiserver`, then restart the "
                "kube-apiserver; `kubeadm certs check-expiration` lists the rest). If this machine's clock is "
                "wrong, fix it first.",
            )
        cert = analysis.not_yet_valid[0]
        return Result.fail(
            f"x509: certificate is not yet valid: {cert.subject} is valid from {human_utc(cert.not_before)}, "
            f"{_days(cert.not_before - now)} from now ({clock}){skew}",
            hint="Check this machine's clock first (`timedatectl`; `timedatectl set-ntp true`): a clock that is "
            "behind makes fresh certificates look not yet valid. If the clock is right, the certificate was "
            "issued with a future start date: reissue it.",
        )


def _go_words(facts: _Facts, rules: tuple[str, ...] = ("sha1-signature", "rsa-too-small")) -> str:
    """Go's own errors for the verified path (kdoctor.gotls), "" when Go has none of `rules`."""
    path = facts.analysis.path or facts.analysis.chain
    found = [r for r in api.go_rejections(path, facts.session.server_hostname) if r.rule in rules]
    return "; ".join(f"{r.go_error} ({r.subject}; {r.since} and later)" for r in found)


async def _kubectl_toolchain(ctx: Context) -> tuple[int, int] | None:
    """The Go version of the kubectl on PATH (None: none, unreadable, or a version dispatcher)."""
    client = (await ctx.probe(KUBECTL_CLIENT)).version
    if not client or "dispatcher" in str(client.get("gitVersion", "")):
        return None
    return api.go_version(str(client.get("goVersion", "")))


def _local_kubectl_words(facts: _Facts, toolchain: tuple[int, int] | None) -> str:
    """When the kubectl on PATH is built with an older Go that still accepts what current Go refuses."""
    if toolchain is None:
        return ""
    path = facts.analysis.path or facts.analysis.chain
    host = facts.session.server_hostname
    current = {r.rule for r in api.go_rejections(path, host)}
    local = {r.rule for r in api.go_rejections(path, host, toolchain=toolchain)}
    if current and not local & current - {"cn-only"}:
        return (
            f"; the kubectl on PATH (built with go{toolchain[0]}.{toolchain[1]}) still accepts it, kubectl "
            "releases built with newer Go do not"
        )
    return ""


def _interceptors_certificate(interception: Interception, what: str) -> Result:
    """Skip a judgement of the interceptor's certificate: its names, dates and keys are not the apiserver's."""
    return Result.skip(
        f"the certificate presented is the TLS-intercepting proxy's (issued by {interception.issuer}), not the "
        f"apiserver's: its {what} say nothing about the apiserver (tls.chain reports the interception)"
    )


def _interception_hint(interception: Interception, netloc: str) -> str:
    """The fix for an interception: never the interceptor's names, never a proxy variable that is not set."""
    if interception.transparent:
        return (
            "No proxy is configured (no HTTPS_PROXY, no proxy-url): the interception is transparent — a firewall, "
            "VPN client or security product on the network path re-signs TLS. Ask the network or security team "
            f"to exempt {netloc} from TLS inspection. Do not trust the interception CA in the kubeconfig: it "
            "would let the interceptor read every credential."
        )
    return (
        f"The proxy {interception.proxy} ({interception.source}) re-signs TLS (TLS inspection). Ask its "
        f"administrators to exempt {netloc} from inspection, or reach the apiserver without it if the network "
        "allows. Do not trust the interception CA in the kubeconfig: it would let the proxy read every credential."
    )


def _another_clusters_ca(issuer: str) -> bool:
    return any(word in issuer.lower() for word in KUBERNETES_CA_WORDS)


def _likely_cause(facts: _Facts, issuer: str) -> str:
    if _another_clusters_ca(issuer):
        return "likely a kubeconfig for another cluster (or a TLS-intercepting proxy)"
    return "likely a TLS-intercepting proxy, or a kubeconfig for another cluster"


def _unknown_authority_hint(facts: _Facts, issuer: str) -> str:
    """The fix for a chain from an unknown CA (no interception identified): the likelier cause first, and a
    proxy named only when one is configured."""
    route = facts.session.route
    compare = (
        "compare the certificate fingerprint seen here with one taken from inside the cluster's network "
        f"({facts.fingerprint_hint()})"
    )
    another = (
        f"the kubeconfig's CA is for another cluster: fetch this cluster's CA (`kubectl config set-cluster "
        f"{facts.cluster} --certificate-authority=ca.crt --embed-certs`), or check that the server URL is this "
        "cluster's"
    )
    if route.proxied:
        proxy = f"the proxy {route.proxy_display} ({route.proxy_source}) may re-sign TLS (TLS inspection): {compare}"
    else:
        proxy = (
            "no proxy is configured (no HTTPS_PROXY, no proxy-url), so a re-signing proxy would be transparent "
            f"(a network appliance): {compare}"
        )
    intermediate = f"If {issuer} is an intermediate of the cluster CA, the server must send it along."
    if _another_clusters_ca(issuer):
        return f"{issuer} names a Kubernetes CA: most likely {another}. Otherwise {proxy}. {intermediate}"
    return f"A TLS-intercepting proxy is a common cause: {proxy}. If the server is right, {another}. {intermediate}"


def _out_of_date(cert: CertSummary, now: datetime) -> bool:
    return cert.not_after < now or cert.not_before > now


def _origin_words(analysis: ChainAnalysis) -> str:
    """Where the presented chain comes from, relative to the configured CA."""
    if analysis.issuer_is_cluster_ca:
        return "from the configured CA"
    if analysis.finding == "ca-rotated" and analysis.same_name_anchors:
        return (
            f"from a newer CA with the configured CA's name {analysis.same_name_anchors[0].subject} (another key): "
            "the cluster CA was rotated"
        )
    issuer = (analysis.dangling or analysis.chain[-1]).issuer
    return f"from elsewhere: issued by {issuer}, not by the configured CA"


def _skew_note(facts: _Facts) -> str:

    # Only when an HTTP answer came: a failed handshake carries no Date header.
    response = facts.version
    if response is None:
        return ""
    header = response.header("date")
    if not header or response.received_at is None:
        return ""
    try:
        server_time = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return ""
    skew = (server_time - response.received_at).total_seconds()
    if abs(skew) < 120:
        return "; the apiserver's Date header agrees with this clock, so it is not clock skew"
    direction = "ahead of" if skew > 0 else "behind"
    return f"; the apiserver's Date header is {abs(skew) / 60:.0f} minutes {direction} this clock: clock skew explains it"


class HostnameCheck(Check):
    """Checks that the serving certificate names the host kubectl connects to.

    The name checked is `tls-server-name` when the kubeconfig sets it, else the host of the server
    URL (an IP address must be an IP SAN). A mismatch is what kubectl reports as "x509: certificate
    is valid for A, B, not C". The result lists the SANs and suggests a host they name or
    `tls-server-name`; with insecure-skip-tls-verify a mismatch is only a warning. When a
    TLS-intercepting proxy is identified the certificate is the interceptor's: skip (tls.chain
    reports the interception; its names are not the apiserver's to adopt).

    Go's rule, not OpenSSL's: a certificate that names the host only in its subject Common Name (no
    SANs) fails ("x509: certificate relies on legacy Common Name field, use SANs instead", Go 1.15+)
    although curl and Python still accept it; the result says so. Fix: reissue it with the name in
    its subjectAltName.
    """

    id = "tls.hostname"
    title = "The serving certificate names the server's host"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
        facts = await _facts(ctx)
        if facts.interception is not None:
            return _interceptors_certificate(facts.interception, "names")
        leaf = facts.analysis.leaf
        if leaf is None:
            return Result.skip("no certificate to check: the handshake did not complete (tls.chain says why)")
        name = facts.session.server_hostname
        access = facts.session.access
        details = ctx.details
        details.update(
            {
                "checked_name": name,
                "tls_server_name": access.tls_server_name,
                "dns_names": list(leaf.dns_names),
                "ip_addresses": list(leaf.ip_addresses),
            }
        )
        via = " (tls-server-name)" if access.tls_server_name else ""
        if hostname_matches(leaf, name):
            return Result.ok(f"{name}{via} is among the certificate's SANs")
        summary = go_hostname_error(leaf, name) + via
        if not leaf.sans and _go_words(facts, ("cn-only",)):
            details["go_rule"] = "cn-only"
            summary = (
                f"x509: certificate relies on legacy Common Name field, use SANs instead: {leaf.subject} names "
                f"{name} only in its CN, which Go (kubectl) ignores since 1.15; OpenSSL-based clients (curl, "
                "Python) still accept it, so they may work where kubectl does not"
            )
        port = facts.session.route.server.port
        dns_choice = next((d for d in leaf.dns_names if not d.startswith("*")), None)
        options = []
        if dns_choice:
            options.append(
                f"set `tls-server-name: {dns_choice}` in the cluster entry (`kubectl config set-cluster {facts.cluster} "
                f"--tls-server-name={dns_choice}`) to keep the address but check that name"
            )
        if leaf.sans:
            first = leaf.sans[0]
            host = f"[{first}]" if ":" in first else first
            options.append(f"use a server URL with a host the certificate names (e.g. https://{host}:{port})")
        options.append(
            f"reissue the serving certificate with {name} in its SANs (kubeadm: apiServer.certSANs)"
        )
        hint = (
            "Either " + "; or ".join(options) if len(options) > 1 else options[0][:1].upper() + options[0][1:]
        ) + "."
        if access.insecure_skip_tls_verify:
            return Result.warn(summary + " (not checked: insecure-skip-tls-verify)", hint=hint)
        return Result.fail(summary, hint=hint)


class ExpiryCheck(Check):
    """Warns when a certificate of the serving chain expires within 30 days.

    kube-apiserver does not renew its own serving certificate on every distribution (kubeadm
    renews on upgrade or `kubeadm certs renew`), so expiry is a common outage. An already expired
    or not yet valid chain is tls.chain's failure; this check then skips.
    When a TLS-intercepting proxy is identified the certificate is the interceptor's: skip (tls.chain
    reports the interception).
    """

    id = "tls.expiry"
    title = "The serving certificate is not about to expire"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
        facts = await _facts(ctx)
        if facts.interception is not None:
            return _interceptors_certificate(facts.interception, "dates")
        analysis = facts.analysis
        if not analysis.chain:
            return Result.skip("no certificate to check: the handshake did not complete (tls.chain says why)")
        now = facts.now
        first = min(analysis.chain, key=lambda c: c.not_after)
        details = ctx.details
        details.update(
            {
                "expires": [
                    {"subject": c.subject, "not_after": c.to_dict()["not_after"]} for c in analysis.chain
                ]
            }
        )
        if first.not_after < now or any(c.not_before > now for c in analysis.chain):
            return Result.skip("the chain is outside its validity period: tls.chain reports it")
        left = first.not_after - now
        details["days_left"] = round(left.total_seconds() / 86400, 1)
        if expires_soon(first.not_after, now):
            return Result.warn(
                f"{first.subject} expires on {human_utc(first.not_after)}, in {_days(left)}",
                hint="Renew it before then (kubeadm: `kubeadm certs check-expiration`, `kubeadm certs renew "
                "apiserver`, then restart kube-apiserver; managed clusters: the provider's rotation).",
            )
        return Result.ok(f"{first.subject} is valid until {human_utc(first.not_after)} ({_days(left)})")


class StrengthCheck(Check):
    """Warns about weak keys and signatures in the serving chain.

    Weak: RSA (or DSA) keys under 2048 bits, SHA-1 or MD5 signatures (a root's self-signature does
    not matter), TLS below 1.2. Current Go clients refuse some of these outright.
    When a TLS-intercepting proxy is identified the certificate is the interceptor's: skip (tls.chain
    reports the interception).
    """

    id = "tls.strength"
    title = "The serving chain uses strong keys and signatures"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
        facts = await _facts(ctx)
        if facts.interception is not None:
            return _interceptors_certificate(facts.interception, "keys")
        chain = facts.analysis.chain
        if not chain:
            return Result.skip("no certificate to check: the handshake did not complete (tls.chain says why)")
        if facts.tls.verification not in ("verified", "off") and facts.analysis.finding == "ok":
            go = _go_words(facts)
            if go:
                return Result.skip(f"kubectl (Go) refuses this chain: tls.chain reports it ({go})")
        problems = [f"{c.subject}: {p}" for c in chain for p in strength_problems(c, is_root=c.self_signed)]
        version = facts.tls.tls_version
        if version in ("TLSv1", "TLSv1.1", "SSLv3"):
            problems.append(f"the connection uses {version}")
        details = ctx.details
        details.update(
            {
                "keys": [
                    {"subject": c.subject, "key": c.key_description, "signature_hash": c.signature_hash}
                    for c in chain
                ],
                "tls_version": version,
                "problems": problems,
            }
        )
        if problems:
            return Result.warn(
                "weak: " + "; ".join(problems),
                hint="Reissue the serving certificate with an RSA key of at least 2048 bits (or ECDSA P-256) and a "
                "SHA-256 signature.",
            )
        keys = ", ".join(sorted({c.key_description for c in chain}))
        return Result.ok(f"{keys} keys, {version or 'TLS'}")


class InsecureCheck(Check):
    """Warns when TLS verification is off (insecure-skip-tls-verify), and shows the chain anyway.

    With verification off, anyone in the path can impersonate the apiserver and read every
    credential sent to it (man-in-the-middle). kubectl sends its credential on such a connection, and
    so does kdoctor (it judges what kubectl does; the user chose to trust that server), so the auth.*
    checks report the real identity: the warning says plainly that the credential went to an
    unverified server. (After a verification *failure* no credential is ever sent.) The chain is shown
    so its fingerprint can be compared with the real CA's. A plain http:// server URL to a
    non-loopback host is warned about too.
    """

    id = "tls.insecure"
    title = "TLS verification is on"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
        session = await ctx.probe(API_SESSION)
        details = ctx.details
        details.update(
            {
                "insecure_skip_tls_verify": session.access.insecure_skip_tls_verify,
                "credentials_allowed": session.credentials_allowed,
                "credentials_reason": session.credentials_reason,
            }
        )
        if not session.https:
            if session.credentials_allowed:
                return Result.ok("plain HTTP to a loopback address (such as kubectl proxy)")
            return Result.warn(
                f"the server URL is plain http:// to {session.route.server.host}: nothing is encrypted or verified",
                hint="Use the apiserver's https:// URL with its CA.",
            )
        if not session.access.insecure_skip_tls_verify:
            source = session.access.ca_source or (
                "the configured CA" if session.access.ca_pem else "the system roots"
            )
            return Result.ok(
                f"verification is on: the server must present a chain from {source} for its name",
            )
        facts = await _facts(ctx)
        chain_words = "no chain could be read"
        if isinstance(facts, _Facts) and facts.analysis.chain:
            details["chain"] = [c.to_dict() for c in facts.analysis.chain]
            chain_words = "; ".join(_describe(c) for c in facts.analysis.chain)
            if facts.analysis.chain[-1].self_signed:
                chain_words += " — self-signed"
        methods = session.access.credentials.methods
        sent = (
            f"the credential ({', '.join(methods)}) went to an unverified server: kubectl sends it to whoever "
            "answers, and kdoctor sent it too, for auth.*"
            if methods
            else "no credential is configured, so none was sent"
        )
        details["credential_sent_unverified"] = bool(methods)
        return Result.warn(
            f"insecure-skip-tls-verify is set: the server is not verified, so a man-in-the-middle can impersonate it; "
            f"{sent}; it presented {chain_words}",
            hint="Remove insecure-skip-tls-verify and trust the cluster CA instead: "
            f"`kubectl config set-cluster {await _cluster_name(ctx)} "
            "--insecure-skip-tls-verify=false --certificate-authority=ca.crt --embed-certs` (kubeadm: "
            "/etc/kubernetes/pki/ca.crt). Compare the fingerprint above with that CA's before trusting it.",
        )


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 60

CHECKS = (ChainCheck, HostnameCheck, ExpiryCheck, StrengthCheck, InsecureCheck)
