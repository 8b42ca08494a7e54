"""The incluster family: can this pod find and authenticate to the apiserver on its own?

A pod's client (client-go's `rest.InClusterConfig()`, the Python client's `load_incluster_config()`)
needs `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` and the service-account files the kubelet
mounts at /var/run/secrets/kubernetes.io/serviceaccount. These checks look at exactly those; the
in-cluster target then goes through the same apiserver, tls and auth checks as a kubeconfig.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import kdoctor.api as api
from kdoctor.api import (
    HOST_VAR,
    IN_CLUSTER_ENV,
    PORT_HTTPS_VAR,
    PORT_VAR,
    SERVICE_ACCOUNT,
    Check,
    Context,
    Mode,
    Result,
    expires_soon,
    iso_utc,
)

if TYPE_CHECKING:
    from kdoctor.api import ServiceAccountFacts

# kdoctor.incluster (its facts, dataclasses and probes, ~3 ms to import) loads where it is used:
# `api.expected_refresh`, `api.REFRESH_GRACE` and `api.is_dns1123_label` resolve on first use (the
# facade's lazy names), so on a laptop, where these checks do not apply, it is never imported.

__all__ = ["CHECKS"]

#: A CA certificate expiring within this window is a warning.
#: Tolerated clock difference for "issued in the future" (the apiserver allows a little skew too).
CLOCK_SKEW = timedelta(minutes=1)

_AUTOMOUNT_HINT = (
    "The kubelet mounts the service-account files only when automountServiceAccountToken is not false "
    "(on the Pod or its ServiceAccount): set `automountServiceAccountToken: true` in the pod spec, or mount "
    "a projected serviceAccountToken volume at that path. Outside a pod, run with `--no-in-cluster`."
)


def _duration(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600}h"
    if seconds >= 120:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _missing_dir(sa: ServiceAccountFacts, what: str) -> Result:
    return Result.fail(
        f"the service-account directory {sa.directory} does not exist, so there is no {what}",
        hint=_AUTOMOUNT_HINT,
        details={"directory": sa.directory},
    )


class Env(Check):
    """Checks KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which in-cluster clients use to find the apiserver.

    The kubelet sets both in every container from the `default/kubernetes` Service; client-go joins
    them into `https://HOST:PORT` (an IPv6 host in brackets).

    - pass: both are set and well-formed; the details give the server URL they make.
    - warn: the host is a DNS name rather than the Service IP (it works, but the serving certificate
      must name it, and it bypasses what the kubelet set), or KUBERNETES_SERVICE_PORT_HTTPS disagrees
      with KUBERNETES_SERVICE_PORT (one of them was overridden).
    - fail: either is missing or malformed. client-go then fails with "unable to load in-cluster
      configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined". Look for an
      `env:` entry in the pod spec or an image entrypoint that overrides or clears them.
    """

    id = "incluster.env"
    title = "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT name the apiserver"
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        env = await ctx.probe(IN_CLUSTER_ENV)
        details = ctx.details
        details.update(env.to_details())
        if env.problems:
            return Result.fail(
                "; ".join(env.problems),
                hint="The kubelet sets both in every container. If they are missing, this is not a pod "
                "(run `kdoctor run --no-in-cluster`) or something clears the environment (an `env -i`/sudo "
                "wrapper); if malformed, remove the override from the pod spec's `env:` "
                "(`kubectl get pod $HOSTNAME -o yaml`).",
            )
        summary = f"{HOST_VAR}={env.host} {PORT_VAR}={env.port} → {env.server}"
        if env.host_kind == "hostname":
            return Result.warn(
                summary + f" ({HOST_VAR} is a DNS name, not the Service IP the kubelet sets)",
                hint=f"Unless this is deliberate, remove the {HOST_VAR} override from the pod spec; the "
                "apiserver's serving certificate must name this host for TLS to verify.",
            )
        if env.port_https and env.port_https != env.port:
            return Result.warn(
                summary + f", but {PORT_HTTPS_VAR}={env.port_https}",
                hint=f"The kubelet sets both from the same Service port; one was overridden. client-go uses "
                f"{PORT_VAR}: remove the override that makes them differ.",
            )
        return Result.ok(summary)


class Token(Check):
    """Checks the service-account token file: readable, non-empty, a JWT that is current.

    Pods get a projected token that the kubelet rewrites before it expires (at 80% of its lifetime,
    at least daily). The claims are read without verifying the signature: the auth checks ask the
    apiserver what it thinks of the token.

    - pass: a current bound token; the summary names the service account, expiry and audience.
    - warn: the file is older than the kubelet's rotation point (a "stale" token: the kubelet is not
      refreshing it, e.g. a token copied out of the volume, or a subPath mount, which never updates);
      a legacy Secret-based token (no expiry; such Secrets are cleaned up by recent clusters); a JWT
      without expiry; a token that is not a JWT. The audience is shown, not judged: the auth checks
      show whether the apiserver accepts it (a token minted for another audience gets 401).
    - fail: the directory or file is missing, unreadable or empty, or the token has expired or is
      not valid yet. Expired projected tokens are rejected with 401 Unauthorized.
    """

    id = "incluster.token"
    title = "The service-account token is readable and current"
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        sa = await ctx.probe(SERVICE_ACCOUNT)
        token = sa.token
        details = ctx.details
        details.update(token.to_details())
        if not sa.exists:
            return _missing_dir(sa, "token")
        if not token.present:
            return Result.fail(f"{token.path} does not exist", hint=_AUTOMOUNT_HINT)
        if token.error:
            return Result.fail(
                f"cannot read {token.path}: {token.error}",
                hint="The token is mounted readable by the pod's user (mode 0644 or fsGroup); check "
                "`securityContext.runAsUser`/`fsGroup` and any `defaultMode` on a projected volume.",
            )
        if token.empty:
            return Result.fail(
                f"{token.path} is empty",
                hint="Recreate the pod so the kubelet writes the token again; an empty file usually means "
                "a hand-made volume or a failed TokenRequest (see `kubectl describe pod`).",
            )
        claims = token.claims
        if claims is None:
            return Result.warn(
                f"{token.path} holds an opaque token ({token.fingerprint}), not a JWT",
                hint="Kubernetes service-account tokens are JWTs; if this one was put there by hand, the "
                "auth checks show whether the apiserver accepts it.",
            )
        now = ctx.environment.now()
        who = token.username or claims.sub or "an unknown subject"
        aud = ", ".join(claims.aud) if claims.aud else "none"
        if claims.is_legacy_service_account:
            return Result.warn(
                f"legacy Secret-based token for {who} (never expires, {token.fingerprint})",
                hint="Mount a projected token instead (the default since Kubernetes 1.24): drop the "
                "service-account-token Secret volume and let automountServiceAccountToken do it.",
            )
        if claims.exp is None:
            return Result.warn(
                f"the token for {who} is a JWT without expiry ({token.fingerprint}): not one the kubelet projects",
                hint="Let the kubelet mount the token (automountServiceAccountToken, or a projected "
                "serviceAccountToken volume) instead of placing a long-lived one in the pod.",
            )
        if claims.exp <= now:
            return Result.fail(
                f"the token for {who} expired {_duration(now - claims.exp)} ago ({iso_utc(claims.exp)})",
                hint="The kubelet should have replaced it. A token mounted through `subPath`, copied out of "
                "the volume, or cached by the application is never refreshed: read the file again on every "
                "use (client-go does), or restart the pod.",
            )
        if claims.nbf is not None and claims.nbf > now + CLOCK_SKEW:
            return Result.fail(
                f"the token for {who} is not valid before {iso_utc(claims.nbf)} (now {iso_utc(now)})",
                hint="This node's clock is behind the apiserver's: fix time sync (chrony/NTP) on the node.",
            )
        refresh = api.expected_refresh(claims)
        if refresh is not None and claims.iat is not None and now > refresh + api.REFRESH_GRACE:
            return Result.warn(
                f"the token for {who} is stale: issued {_duration(now - claims.iat)} ago, the kubelet "
                f"should have replaced it by {iso_utc(refresh)}",
                hint="A token mounted through `subPath` or copied out of the projected volume is never "
                "refreshed; mount the whole volume and read the file on every use, or restart the pod.",
            )
        expiry = f"expires in {_duration(claims.exp - now)}" if claims.exp else "no expiry"
        return Result.ok(f"bound token for {who}, {expiry}, audience {aud} ({token.fingerprint})")


class CA(Check):
    """Checks ca.crt, the CA bundle in-cluster clients trust for the apiserver.

    - pass: PEM certificates, at least one a CA (basicConstraints CA:TRUE, or an old v1 root, as Go
      accepts), all currently valid.
    - warn: a certificate expires within 30 days, or some (not all) have expired.
    - fail: missing, unreadable or not PEM; no CA certificate in it; every certificate expired or not
      yet valid. The tls checks then show the handshake failing with "certificate signed by unknown
      authority" or "certificate has expired".
    """

    id = "incluster.ca"
    title = "ca.crt holds a valid CA certificate"
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        sa = await ctx.probe(SERVICE_ACCOUNT)
        ca = sa.ca
        details = ctx.details
        details.update(ca.to_details())
        if not sa.exists:
            return _missing_dir(sa, "ca.crt")
        if not ca.present:
            return Result.fail(f"{ca.path} does not exist", hint=_AUTOMOUNT_HINT)
        if ca.error:
            return Result.fail(
                f"{ca.path}: {ca.error}",
                hint="The kubelet copies ca.crt from the kube-root-ca.crt ConfigMap of the namespace: "
                "`kubectl get configmap kube-root-ca.crt -o yaml`; recreate the pod once it is right.",
            )
        if not ca.certificates:
            return Result.fail(f"{ca.path} holds no certificate", hint=_AUTOMOUNT_HINT)
        now = ctx.environment.now()
        cas = [c for c in ca.certificates if c.is_ca]
        if not cas:
            subjects = "; ".join(c.subject for c in ca.certificates)
            return Result.fail(
                f"{ca.path} holds no CA certificate (basicConstraints CA:TRUE missing): {subjects}",
                hint="ca.crt must hold the cluster CA, not a serving certificate: check the "
                "kube-root-ca.crt ConfigMap (`kubectl get configmap kube-root-ca.crt -o yaml`).",
            )
        valid = [c for c in ca.certificates if c.not_before <= now <= c.not_after]
        expired = [c for c in ca.certificates if c.not_after < now]
        if not valid:
            first = ca.certificates[0]
            state = (
                f"expired {iso_utc(first.not_after)}"
                if first.not_after < now
                else f"valid from {iso_utc(first.not_before)}"
            )
            return Result.fail(
                f"no certificate in {ca.path} is valid now: {first.subject} {state}",
                hint="Rotate the cluster CA (kubeadm: `kubeadm certs renew`, then restart the pods so the "
                "kube-root-ca.crt ConfigMap is mounted again), or fix the node's clock.",
            )
        soonest = min(valid, key=lambda c: c.not_after)
        summary = f"{len(cas)} CA certificate(s) in {ca.path}: {cas[0].subject}, valid until {iso_utc(cas[0].not_after)}"
        if expired:
            return Result.warn(
                summary + f"; {len(expired)} expired certificate(s) too ({expired[0].subject})",
                hint="Remove the expired certificate from the kube-root-ca.crt bundle once nothing uses it.",
            )
        if expires_soon(soonest.not_after, now):
            return Result.warn(
                f"{soonest.subject} in {ca.path} expires in {_duration(soonest.not_after - now)}",
                hint="Rotate the cluster CA before it expires; every in-cluster client then fails TLS.",
            )
        return Result.ok(summary)


class Namespace(Check):
    """Checks the `namespace` file: the pod's namespace, used by clients for namespaced requests.

    - pass: a valid namespace name that agrees with the token's namespace claim.
    - fail: missing, unreadable, empty or not a valid name; or it disagrees with the token (the files
      come from different mounts, and requests go to the wrong namespace or are forbidden).
    """

    id = "incluster.namespace"
    title = "The namespace file names the pod's namespace"
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        sa = await ctx.probe(SERVICE_ACCOUNT)
        ns = sa.namespace
        details = ctx.details
        details.update({"path": ns.path, "namespace": ns.value})
        if not sa.exists:
            return _missing_dir(sa, "namespace file")
        if not ns.present:
            return Result.fail(f"{ns.path} does not exist", hint=_AUTOMOUNT_HINT)
        if ns.error:
            return Result.fail(f"cannot read {ns.path}: {ns.error}", hint=_AUTOMOUNT_HINT)
        if not ns.value:
            return Result.fail(f"{ns.path} is empty", hint=_AUTOMOUNT_HINT)
        if not api.is_dns1123_label(ns.value):
            return Result.fail(
                f"{ns.path} holds {ns.value[:80]!r}, not a namespace name",
                hint="Recreate the pod; the kubelet writes the pod's namespace there.",
            )
        claims = sa.token.claims
        claimed = claims.service_account.namespace if claims and claims.service_account else None
        details["token_namespace"] = claimed
        if claimed and claimed != ns.value:
            return Result.fail(
                f"{ns.path} says {ns.value!r} but the token is for namespace {claimed!r}",
                hint="The token and namespace files come from different mounts: mount the whole "
                "service-account volume from one source (no mixed subPath or hand-made files).",
            )
        return Result.ok(f"namespace {ns.value}" + (" (matches the token)" if claimed else ""))


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 20

CHECKS = (Env, Token, CA, Namespace)
