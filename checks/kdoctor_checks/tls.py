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

from kdoctor.api import (
    API_SESSION,
    CHAIN_ANALYSIS,
    SELECTION,
    TLS_HANDSHAKE,
    VERSION,
    ApiResponse,
    ApiSession,
    CertSummary,
    ChainAnalysis,
    Check,
    Context,
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

__all__ = ["CHECKS", "ChainCheck", "ExpiryCheck", "HostnameCheck", "InsecureCheck", "StrengthCheck"]

_DEPS = ("apiserver.tcp", "kubeconfig.ca", "kubeconfig.tls", "incluster.ca")
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
    return _Facts(session, tls, analysis, ctx.environment.now(), ctx.peek(VERSION), await _cluster_name(ctx))


async def _cluster_name(ctx: Context) -> str:
    """The selected kubeconfig cluster's name; a placeholder in a pod (there is no kubeconfig)."""
    if ctx.mode is not Mode.KUBECONFIG:
        return "CLUSTER"
    selection = await ctx.probe(SELECTION)
    if selection.cluster is not None:
        return selection.cluster.name
    return selection.context.cluster if selection.context and selection.context.cluster else "CLUSTER"


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
    return Result.skip(f"no TLS handshake took place: {tls.error}")


class ChainCheck(Check):
    """Checks the chain the apiserver presents against the cluster CA from the kubeconfig.

    Every certificate is shown with subject, issuer and SHA-256 fingerprint, and each way the chain
    can fail is named separately:

    - unknown authority: the chain leads to a CA that is not the configured one — the kubeconfig is
      for another cluster, or a TLS-intercepting proxy re-signs the traffic (the usual cause when a
      corporate network is in the path: compare fingerprints from inside the network, check
      HTTPS_PROXY).
    - CA rotated: the issuer has the configured CA's name (CN=kubernetes) but another key: the
      cluster CA was rebuilt; fetch the new one.
    - self-signed: the serving certificate signs itself.
    - missing intermediate: the server sends its certificate without the intermediate CA that
      links it to the cluster CA.
    - expired / not yet valid: a certificate of the chain is outside its validity (mind this
      machine's clock: see apiserver.clock).
    - TLS handshake timeout: TCP was accepted but TLS never answered.

    Without a configured CA the system roots are used, as kubectl does. With
    insecure-skip-tls-verify nothing is verified: tls.insecure reports that.
    details.issuer_is_cluster_ca is true/false, or null when no cluster CA is configured.
    """

    id = "tls.chain"
    title = "The serving certificate chains to the cluster CA"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
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
            return Result.skip(
                "verification is off (insecure-skip-tls-verify): there is no CA to check against; "
                "tls.insecure shows the chain",
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
        return self._failed(facts, details)

    def _failed(self, facts: _Facts, details: dict[str, Any]) -> Result:
        analysis, tls = facts.analysis, facts.tls
        leaf = analysis.leaf
        kubectl_unknown = "x509: certificate signed by unknown authority"
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
            return Result.fail(
                f"{kubectl_unknown}: the issuer {anchor.subject} has the name of the configured CA but another key "
                f"(configured CA SHA-256 {anchor.sha256[:23]}…): the cluster CA was rotated or the cluster rebuilt "
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
        return Result.fail(
            f"{kubectl_unknown}: the chain {_chain_words(analysis)} (SHA-256 {leaf.sha256[:23]}…) {top} {issuer}, "
            f"not {facts.ca_words} — likely a TLS-intercepting proxy, or a kubeconfig for another cluster",
            hint="A corporate proxy or security product re-signing TLS is the usual cause: check HTTPS_PROXY and "
            "the network, and compare the certificate fingerprint seen here with one taken from inside the "
            f"cluster's network ({facts.fingerprint_hint()}). If the server is right, the kubeconfig's CA is for "
            f"another cluster: fetch this cluster's CA. If {issuer} is an intermediate of the cluster CA, the "
            "server must send it along.",
        )

    def _validity(self, facts: _Facts, details: dict[str, Any]) -> Result:
        analysis = facts.analysis
        now = facts.now
        clock = f"this machine's clock reads {human_utc(now)}"
        skew = _skew_note(facts)
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
    `tls-server-name`; with insecure-skip-tls-verify a mismatch is only a warning.
    """

    id = "tls.hostname"
    title = "The serving certificate names the server's host"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
        facts = await _facts(ctx)
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
        hint = "Either " + "; or ".join(options) + "."
        if access.insecure_skip_tls_verify:
            return Result.warn(summary + " (not checked: insecure-skip-tls-verify)", hint=hint)
        return Result.fail(summary, hint=hint)


class ExpiryCheck(Check):
    """Warns when a certificate of the serving chain expires within 30 days.

    kube-apiserver does not renew its own serving certificate on every distribution (kubeadm
    renews on upgrade or `kubeadm certs renew`), so expiry is a common outage. An already expired
    or not yet valid chain is tls.chain's failure; this check then skips.
    """

    id = "tls.expiry"
    title = "The serving certificate is not about to expire"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
        facts = await _facts(ctx)
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
    """

    id = "tls.strength"
    title = "The serving chain uses strong keys and signatures"
    depends_on = _DEPS

    async def run(self, ctx: Context) -> Result:
        facts = await _facts(ctx)
        chain = facts.analysis.chain
        if not chain:
            return Result.skip("no certificate to check: the handshake did not complete (tls.chain says why)")
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
    credential sent to it (man-in-the-middle). kdoctor itself sends no credential on such a
    connection, so the auth.* checks skip. The chain is shown so its fingerprint can be compared
    with the real CA's. A plain http:// server URL to a non-loopback host is warned about too.
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
        return Result.warn(
            f"insecure-skip-tls-verify is set: the server is not verified, so a man-in-the-middle can impersonate it "
            f"and read every credential kubectl sends; it presented {chain_words}",
            hint="Remove insecure-skip-tls-verify and trust the cluster CA instead: "
            f"`kubectl config set-cluster {await _cluster_name(ctx)} "
            "--insecure-skip-tls-verify=false --certificate-authority=ca.crt --embed-certs` (kubeadm: "
            "/etc/kubernetes/pki/ca.crt). Compare the fingerprint above with that CA's before trusting it.",
        )


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 60

CHECKS = (ChainCheck, HostnameCheck, ExpiryCheck, StrengthCheck, InsecureCheck)
