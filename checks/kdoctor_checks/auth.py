"""auth.*: the credential kubectl would send, what its claims say, who the apiserver says you are,
and what you may do.

The credential is obtained once per target by the `CREDENTIALS` probe (which runs the exec plugin,
if any, with the timeout); the identity and permission checks use the shared API session, which
attaches that credential only where it is safe to send it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from kdoctor.api import (
    ACCESS,
    API_SESSION,
    CREDENTIALS,
    IDENTITY_REVIEW,
    LIVEZ,
    READYZ,
    REMOVED_AUTH_PROVIDERS,
    SELECTION,
    SERVICE_ACCOUNT,
    UNAUTHORIZED_FACTS,
    VERSION,
    ApiResponse,
    Check,
    ClaimedIdentity,
    ClientCertFacts,
    Context,
    ExecEntry,
    JwtClaims,
    Mode,
    ResolvedCredential,
    Result,
    Unavailable,
    anonymous_403_words,
    client_cert_facts,
    credential_details,
    decode_eks_token,
    decode_jwt,
    eks_cluster_argument,
    eks_server_region,
    expires_soon,
    identity_note,
    iso_utc,
    judge_eks_token,
    judge_token_against_server_clock,
    oidc_claim_problems,
)

if TYPE_CHECKING:
    # annotations only: importing them would load their probes with the family
    from kdoctor.api import ExecResult, UnauthorizedFacts

# kdoctor.credentials and kdoctor.jwt are imported where they are used: a run whose auth checks
# are skipped (the connection failed first) never needs them.

__all__ = [
    "CHECKS",
    "CredentialCheck",
    "IdentityCheck",
    "PermissionsCheck",
    "TokenCheck",
    "unauthorized_causes",
]

# The apiserver's JWT validation allows this much clock difference for nbf/iat (go-jose DefaultLeeway).
_JWT_LEEWAY = timedelta(minutes=1)
_NETWORK_DEPS = ("tls.chain", "apiserver.version")
#: Judges the kubeconfig's own client certificate; auth.credential judges only exec-provided ones.
_CLIENT_CERT_CHECK = "kubeconfig.client-cert"


def _ago(delta: timedelta) -> str:
    """A rough human duration: "3h 5m", "42s", "12d"."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{hours // 24}d"


def _exec_details(result: ExecResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "command": result.command,
        "api_version": result.api_version,
        "ran": result.ran,
    }
    if result.resolved_path:
        out["path"] = result.resolved_path
    if result.ran:
        out["exit_code"] = result.exit_code
        out["duration_ms"] = round(result.duration * 1000, 1)
        out["timed_out"] = result.timed_out
        out["stderr_tail"] = list(result.stderr_tail)
    if result.returned_api_version:
        out["returned_api_version"] = result.returned_api_version
    if result.not_found:
        out["not_found"] = True
    if result.parse_error:
        out["parse_error"] = result.parse_error
    if result.not_run_reason:
        out["not_run"] = result.not_run_reason
    return out


async def _interactive_mode(ctx: Context) -> str | None:
    spec = (await ctx.probe(ACCESS)).credentials.exec
    return spec.interactive_mode if spec is not None else None


def _stderr_note(result: ExecResult) -> str:
    if not result.stderr_tail:
        return ""
    return "; stderr: " + " | ".join(result.stderr_tail[-3:])


class CredentialCheck(Check):
    """Obtains the credential kubectl would send for this target, and checks it is usable.

    Looks at the user entry's method: a static token, a tokenFile (read and trimmed like client-go),
    a client certificate and key (parsed: subject, issuer, validity, key matches certificate),
    basic-auth, or an exec credential plugin (run once with --timeout, stdin closed,
    KUBERNETES_EXEC_INFO set like client-go; its exit code, duration and scrubbed stderr are shown).
    The token itself is never shown, only its sha256 fingerprint.

    A client certificate written in the kubeconfig is judged by kubeconfig.client-cert (one verdict
    per fact); this check shows its subject, issuer and expiry and points there. A certificate an
    exec plugin returns exists only here, so it is judged here.

    pass: a credential was obtained (method, source and fingerprint in the summary).
    pass: also a context without any credential (normal against kubectl proxy): auth.identity then
          asks the server and reports whom it takes the requests for, or the 401 that asks for one.
    warn: no service-account token in a pod; basic-auth (removed from kube-apiserver in
          1.19); an exec credential that is already expired; an exec plugin's client certificate
          expiring within 30 days (EXPIRY_WARNING, as kubeconfig.client-cert).
    fail: the exec plugin is not installed (its installHint is shown), failed (exit code and stderr),
          hung past the timeout (killed), or printed something that is not an ExecCredential of the
          configured apiVersion; the tokenFile cannot be read or is empty; the exec plugin's client
          certificate is expired, not yet valid, unparsable, or its key does not match; a removed
          auth-provider.
    skip: --no-exec was given (the plugin is not run), or the plugin needs a terminal
          (interactiveMode: Always): kdoctor never runs plugins interactively; the kubeconfig's
          client certificate cannot be used (kubeconfig.client-cert fails and says why).

    Exec plugin details: output that is not an ExecCredential is described by its shape ("a bare
    JWT", "a JSON object (kind 'Config') with keys [...]", "2 lines of text"), never echoed; a YAML
    ExecCredential is accepted, as client-go accepts it; a plugin with interactiveMode IfAvailable
    that hangs without a terminal is named as waiting for input; a credential without
    expirationTimestamp is noted with the plugin's measured run time, which every kubectl command
    pays (a long-running client keeps such a token until the server rejects it mid-stream).
    """

    id = "auth.credential"
    title = "A credential is obtained the way kubectl would obtain it"
    depends_on = _NETWORK_DEPS

    async def run(self, ctx: Context) -> Result:
        cred = await ctx.probe(CREDENTIALS)
        details = ctx.details
        details.update(credential_details(cred))
        if cred.exec_result is not None:
            details["exec"] = _exec_details(cred.exec_result)
        if cred.not_run is not None:
            return self._not_run(cred, details)
        if cred.problem is not None:
            return self._problem(cred, details, await _interactive_mode(ctx))
        if cred.kind == "none":
            return await self._anonymous(ctx, details)
        if cred.kind == "basic":
            user = cred.basic[0] if cred.basic else ""
            kube_user, _ = await _kube_user(ctx)
            return Result.warn(
                f"basic-auth as user {user!r}: kube-apiserver removed basic-auth support in 1.19",
                hint="Use a token, a client certificate or an exec plugin unless an authenticating proxy in "
                f"front of the apiserver expects basic-auth: `kubectl config set-credentials {kube_user} --token=…`",
            )
        cert_result = self._client_cert(ctx, cred, details)
        if cert_result is not None:
            return cert_result
        return self._obtained(ctx, cred, details)

    def _obtained(self, ctx: Context, cred: ResolvedCredential, details: dict[str, Any]) -> Result:
        parts = [cred.describe()]
        if cred.bearer is not None and cred.client_cert_pem is not None:
            parts.append("with a client certificate")
        result = cred.exec_result
        if result is not None:
            parts.append(f"exit code {result.exit_code} in {result.duration:.2f}s")
        now = ctx.environment.now()
        if cred.expires_at is not None:
            if cred.expires_at <= now:
                return Result.warn(
                    f"{', '.join(parts)}: the plugin returned a credential that expired at "
                    f"{iso_utc(cred.expires_at)} ({_ago(now - cred.expires_at)} ago)",
                    hint="Log in again with the plugin's own command (its cached credential is stale), "
                    "then rerun kdoctor.",
                )
            parts.append(f"expires {iso_utc(cred.expires_at)} (in {_ago(cred.expires_at - now)})")
        elif result is not None and result.ran:
            details["expiration_timestamp"] = None
            parts.append(
                f"note: no expirationTimestamp, so every kubectl command runs the plugin ({result.duration:.2f}s "
                "here) and a long-running client keeps the token until the server rejects it mid-stream"
            )
        summary = ", ".join(parts)
        if result is not None and result.stderr_tail:
            summary += _stderr_note(result)
        return Result.ok(summary)

    def _client_cert(self, ctx: Context, cred: ResolvedCredential, details: dict[str, Any]) -> Result | None:
        if cred.client_cert_pem is None:
            return None
        facts = client_cert_facts(cred.client_cert_pem, cred.client_key_pem)
        details["client_certificate"] = facts.to_details()
        from_plugin = cred.kind == "exec-client-certificate"
        if not from_plugin and ctx.mode is Mode.KUBECONFIG:
            return self._kubeconfig_cert(ctx, cred, facts)
        origin = "exec plugin's" if from_plugin else "client"
        plugin_hint = (
            "The exec plugin returned a broken certificate/key pair (clientCertificateData/clientKeyData): "
            "update the plugin or log in again with it."
        )
        if facts.error:
            return Result.fail(
                f"{origin} certificate unusable: {facts.error}",
                hint=plugin_hint
                if from_plugin
                else "Fix client-certificate-data / client-key-data (or the files they name): both PEM, "
                "the key unencrypted; kubectl config set-credentials NAME --client-certificate=... "
                "--client-key=... --embed-certs",
            )
        who = _cert_identity(facts)
        if facts.key_matches is False:
            return Result.fail(
                f"{origin} certificate for {who}: the private key does not belong to it "
                "(kubectl: tls: private key does not match public key)",
                hint=plugin_hint
                if from_plugin
                else "Put the key that was issued with this certificate in client-key-data, or reissue the pair.",
            )
        now = ctx.environment.now()
        if facts.not_after is not None and facts.not_after <= now:
            return Result.fail(
                f"{origin} certificate for {who} expired at {iso_utc(facts.not_after)} "
                f"({_ago(now - facts.not_after)} ago); the apiserver will answer 401 Unauthorized",
                hint=f"Get a new client certificate (kubeadm: `{facts.kubeadm_command}`; "
                "managed clusters: refresh the kubeconfig from the provider). If the date looks wrong, "
                "check the local clock.",
            )
        if facts.not_before is not None and facts.not_before > now:
            return Result.fail(
                f"{origin} certificate for {who} is not valid before {iso_utc(facts.not_before)} "
                f"(in {_ago(facts.not_before - now)}): clock skew between this machine and the CA",
                hint="Check the local clock (timedatectl status) against the apiserver's Date header.",
            )
        if facts.not_after is not None and expires_soon(facts.not_after, now):
            return Result.warn(
                f"{origin} certificate for {who} expires at {iso_utc(facts.not_after)} "
                f"(in {_ago(facts.not_after - now)})",
                hint="Renew the client certificate before it expires.",
            )
        if cred.bearer is not None:
            return None
        summary = (
            f"{origin} certificate for {who} from {cred.source}, expires {iso_utc(facts.not_after or now)}"
        )
        if cred.exec_result is not None:
            result = cred.exec_result
            summary += f", exit code {result.exit_code} in {result.duration:.2f}s" + _stderr_note(result)
        return Result.ok(summary)

    def _kubeconfig_cert(
        self, ctx: Context, cred: ResolvedCredential, facts: ClientCertFacts
    ) -> Result | None:
        """The kubeconfig's own certificate: kubeconfig.client-cert judges it; here only its facts.

        One verdict per fact (principle 3): an unusable certificate is kubeconfig.client-cert's
        failure, so this check and those after it skip pointing there; an expiring one is its warning.
        """
        now = ctx.environment.now()
        who = _cert_identity(facts)
        out_of_date = (facts.not_after is not None and facts.not_after <= now) or (
            facts.not_before is not None and facts.not_before > now
        )
        if out_of_date and facts.error is None and facts.key_matches is not False and cred.bearer is not None:
            # The apiserver passes over a certificate it cannot verify and authenticates the bearer
            # token sent with it: the token is the credential to judge (kubeconfig.client-cert warns).
            return None
        if facts.error is not None or facts.key_matches is False or out_of_date:
            # client-go refuses to build a transport with a key that does not fit, and the apiserver
            # rejects an expired certificate: nothing can be sent with it.
            raise Unavailable(
                f"the kubeconfig's client certificate ({who}) cannot be used", root=_CLIENT_CERT_CHECK
            )
        if cred.bearer is not None:
            return None
        expiry = f", expires {iso_utc(facts.not_after)}" if facts.not_after is not None else ""
        return Result.ok(
            f"client certificate for {who} from {cred.source}{expiry} (validity: {_CLIENT_CERT_CHECK})"
        )

    def _not_run(self, cred: ResolvedCredential, details: dict[str, Any]) -> Result:
        result = cred.exec_result
        command = result.command if result is not None else cred.source
        if result is None and cred.source.startswith("auth-provider"):
            return Result.skip(
                f"{cred.source}: {cred.not_run}",
                hint="Run any kubectl command once: it refreshes the id-token and writes it back to the "
                "kubeconfig; then rerun kdoctor.",
            )
        if result is not None and result.needs_terminal:
            return Result.skip(
                f"exec plugin {command} needs a terminal (interactiveMode: Always); kdoctor never runs "
                "plugins interactively, so the credential was not obtained",
                hint="Log in once in a terminal (e.g. kubectl auth whoami) so the plugin caches a credential, "
                "or set interactiveMode: IfAvailable if the plugin can work without a terminal.",
            )
        return Result.skip(
            f"exec plugin {command} not run: --no-exec was given",
            hint="Run kdoctor without --no-exec to test the plugin and the identity it yields.",
        )

    def _problem(self, cred: ResolvedCredential, details: dict[str, Any], mode: str | None) -> Result:
        problem = cred.problem or ""
        result = cred.exec_result
        if result is None:
            if cred.source.startswith("auth-provider"):
                name = cred.source.split(" ", 1)[1]
                replacement = REMOVED_AUTH_PROVIDERS.get(name)
                hint = (
                    f"Install {replacement} and switch the user to it (the provider's docs give the "
                    "kubeconfig change)."
                    if replacement
                    else "Switch the user to an exec credential plugin (e.g. kubelogin for OIDC)."
                )
                return Result.fail(problem, hint=hint)
            return Result.fail(
                problem,
                hint="Point tokenFile at a readable file holding the token (client-go trims whitespace), "
                "or set token directly.",
            )
        if result.not_found:
            hint = result.install_hint or "Install the plugin or fix users[].user.exec.command."
            return Result.fail(
                f"{problem}: the exec plugin is not installed or not on PATH",
                hint=hint.strip(),
            )
        if result.timed_out:
            waiting = (
                "interactiveMode: IfAvailable, and with no terminal the plugin still waited, most likely for "
                "input (kubectl in a pipe or CI hangs the same way)"
                if mode == "IfAvailable"
                else "a plugin waiting for a browser login or a prompt hangs like this"
            )
            return Result.fail(
                f"exec plugin {result.command} did not finish within {result.timeout:g}s and was killed "
                f"({waiting}){_stderr_note(result)}",
                hint="Run the plugin's login command in a terminal first, then rerun kdoctor; raise --timeout "
                "if the plugin is merely slow.",
            )
        if result.start_error:
            return Result.fail(
                problem,
                hint=f"Make {result.resolved_path or result.command} executable (chmod +x) with a valid "
                "interpreter line.",
            )
        if result.ran and result.exit_code not in (None, 0):
            return Result.fail(
                f"{problem} after {result.duration:.2f}s{_stderr_note(result)}",
                hint="Run the plugin by hand to see its full message; an expired login (refresh token) is "
                "the usual cause: log in again with the plugin's own command.",
            )
        if result.ran:
            return Result.fail(
                problem,
                hint="The plugin must print an ExecCredential whose apiVersion matches "
                f"users[].user.exec.apiVersion ({result.api_version}) with status.token or "
                "status.clientCertificateData/clientKeyData; update the plugin or the apiVersion.",
            )
        return Result.fail(
            problem,
            hint="Set users[].user.exec.apiVersion to client.authentication.k8s.io/v1 (or v1beta1 for old "
            "plugins).",
        )

    async def _anonymous(self, ctx: Context, details: dict[str, Any]) -> Result:
        if ctx.mode is Mode.IN_CLUSTER:
            return Result.warn(
                "no service-account token: requests are anonymous (system:anonymous)",
                hint="Mount a token: set automountServiceAccountToken: true on the pod or its service "
                "account, or project one with a serviceAccountToken volume.",
            )
        # Evidence over suspicion: a context without a user is how kubectl proxy (or another endpoint
        # that adds its own credential) is used. auth.identity asks the server and judges what it says:
        # 401 is a finding, a named user is fine.
        return Result.ok(
            "no credential configured for this user: requests go without one (normal for kubectl proxy); "
            "auth.identity shows whom the server takes them for",
        )


def _cert_identity(facts: ClientCertFacts) -> str:
    who = f"CN={facts.common_name}" if facts.common_name else facts.subject or "(no subject)"
    if facts.organizations:
        who += f" O={','.join(facts.organizations)}"
    return who


async def _kube_user(ctx: Context) -> tuple[str, ExecEntry | None]:
    """The kubeconfig user's name (so hints carry a runnable command) and its exec plugin, if any."""
    if ctx.mode is Mode.IN_CLUSTER:
        return "USER", None
    selection = await ctx.probe(SELECTION)
    return selection.user_name or "USER", selection.user.exec if selection.user is not None else None


def _exec_login_hint(entry: ExecEntry | None) -> str:
    """Where a fresh token comes from when an exec plugin supplies it: the plugin's own login."""
    if entry is None or not entry.command_as_written:
        return "Log in again with the exec plugin's own login command."
    line = " ".join([entry.command_as_written, *entry.args])
    return (
        f"Log in again with the exec plugin's login command, then retry: running `{line}` shows the "
        "plugin's own error, which names it (e.g. `aws sso login`, `gcloud auth login`, `kubelogin`)."
    )


def _rbac_name(subject: str) -> str:
    """A binding name derived from a user name: lower case, only characters RBAC names allow."""
    return re.sub(r"[^a-z0-9.:-]+", "-", subject.lower()).strip("-") or "kdoctor"


def _sa_hint(claims: JwtClaims) -> str:
    sa = claims.service_account
    if sa is not None and sa.name and sa.namespace:
        return f"kubectl create token {sa.name} -n {sa.namespace}"
    return "request a fresh token from its issuer"


class TokenCheck(Check):
    """Reads the bearer token's JWT claims (without verifying the signature) to explain what the
    apiserver will decide about it.

    Shows issuer, audiences, subject, expiry and, for service-account tokens, the namespace, service
    account and bound pod. Only bearer tokens are inspected; an opaque (non-JWT) token is fine.
    In a pod, incluster.token does this for the service-account token instead.

    pass: an opaque token, or a JWT that is currently valid.
    warn: a legacy secret-based service-account token: it never expires, is only revoked by deleting
          its Secret, and is invalidated after a year unused on 1.29+ clusters.
    fail: expired (exp in the past); not yet valid (nbf or iat in the future beyond the apiserver's
          one-minute leeway), which usually means clock skew between this machine and the issuer;
          valid by this machine's clock but expired by the apiserver's (its Date header).

    EKS tokens (`k8s-aws-v1.` + a presigned STS URL, from `aws eks get-token`) are read without
    showing them: signing time (X-Amz-Date; the authenticator accepts them for 15 minutes), STS
    region, whether the cluster-id header x-k8s-aws-id is signed, the cluster named in the exec
    plugin's --cluster-name. fail: expired, not bound to a cluster, not a GetCallerIdentity URL.
    """

    id = "auth.token"
    title = "The token's claims are currently valid"
    depends_on = (*_NETWORK_DEPS, "auth.credential")

    # In a pod the token is the service-account file, which incluster.token already judges.
    modes = (Mode.KUBECONFIG,)
    not_for_mode = "in a pod, incluster.token reads the service-account token's claims"

    async def run(self, ctx: Context) -> Result:
        cred = await ctx.probe(CREDENTIALS)
        if cred.bearer is None:
            return Result.skip(f"no token to inspect (credential: {cred.describe()})")
        fingerprint = cred.bearer.fingerprint
        claims = decode_jwt(cred.bearer.reveal())
        details = ctx.details
        details.update({"token_fingerprint": fingerprint, "jwt": claims is not None})
        if claims is None:
            eks = await _eks_verdict(ctx, cred.bearer.reveal(), details)
            if eks is not None:
                return eks
            return Result.ok(f"opaque token ({fingerprint}), no claims to read")
        details["claims"] = claims.summary_claims()
        details["alg"] = claims.algorithm
        now = ctx.environment.now()
        who = _claims_identity(claims)
        if claims.exp is not None and claims.exp <= now:
            return Result.fail(
                f"token for {who} expired at {iso_utc(claims.exp)} ({_ago(now - claims.exp)} ago)",
                hint=self._renew_hint(cred, claims),
            )
        for name, moment in (("nbf", claims.nbf), ("iat", claims.iat)):
            if moment is not None and moment > now + _JWT_LEEWAY:
                label = "not valid before" if name == "nbf" else "issued at"
                return Result.fail(
                    f"token for {who} is {label} {iso_utc(moment)}, {_ago(moment - now)} in the future: "
                    "clock skew between this machine and the token issuer (the apiserver rejects it)",
                    hint="Check the clocks: timedatectl status here, and NTP on the issuer; the apiserver's "
                    "Date header is compared in apiserver.clock.",
                )
        if claims.is_legacy_service_account and claims.exp is None:
            sa = claims.service_account
            secret = f" (Secret {sa.secret_name})" if sa and sa.secret_name else ""
            return Result.warn(
                f"legacy secret-based service-account token for {who}{secret}: it never expires",
                hint=f"Use a short-lived token instead: {_sa_hint(claims)} (or a projected "
                "serviceAccountToken volume); unused legacy tokens are invalidated after a year "
                "(LegacyServiceAccountTokenCleanUp, 1.29+).",
            )
        server_late = await _expired_by_server_clock(ctx, claims.exp)
        if server_late is not None:
            return Result.fail(
                f"token for {who}: {server_late}",
                hint="Synchronise the clocks (apiserver.clock shows the skew) and get a fresh token.",
            )
        parts = [f"JWT for {who}"]
        if claims.iss:
            parts.append(f"issuer {claims.iss}")
        if cred.source.startswith("auth-provider oidc"):
            parts += await _oidc_notes(ctx, claims, details)
        if claims.exp is not None:
            parts.append(f"expires {iso_utc(claims.exp)} (in {_ago(claims.exp - now)})")
        else:
            parts.append("no expiry")
        return Result.ok(", ".join(parts))

    @staticmethod
    def _renew_hint(cred: ResolvedCredential, claims: JwtClaims) -> str:
        if cred.kind == "exec-token":
            return "The exec plugin returned an expired token: log in again with its own login command."
        if claims.service_account is not None:
            return f"Get a fresh service-account token: {_sa_hint(claims)}"
        return "Get a fresh token from its issuer and update the kubeconfig (kubectl config set-credentials)."


async def _oidc_notes(ctx: Context, claims: JwtClaims, details: dict[str, Any]) -> list[str]:
    """The id-token's audience, and where it disagrees with the oidc auth-provider's config."""
    config = {k: v.reveal() for k, v in (await ctx.probe(ACCESS)).credentials.auth_provider_config}
    notes = [f"audience {', '.join(claims.aud)}"] if claims.aud else []
    problems = oidc_claim_problems(claims, config)
    if problems:
        details["oidc_problems"] = problems
        notes.append("note: " + "; ".join(problems))
    return notes


async def _eks_verdict(ctx: Context, token: str, details: dict[str, Any]) -> Result | None:
    """An EKS token's verdict (kdoctor.cloudcreds), None when the token is not an EKS token."""
    eks = decode_eks_token(token)
    if eks is None:
        return None
    access = await ctx.probe(ACCESS)
    spec = access.credentials.exec
    verdict = judge_eks_token(
        eks,
        ctx.environment.now(),
        cluster_arg=eks_cluster_argument(spec.args) if spec else None,
        server_region=eks_server_region(access.server),
    )
    details.update(verdict.details)
    make = {"pass": Result.ok, "warn": Result.warn, "fail": Result.fail}[verdict.status]
    return make(verdict.summary, hint=verdict.hint)


async def _expired_by_server_clock(ctx: Context, exp: datetime | None) -> str | None:
    """Why the apiserver's clock (its Date header) already expired a token this machine still accepts."""

    response = await ctx.probe(VERSION)
    header = response.header("date")
    if header is None or response.received_at is None:
        return None
    try:
        server_time = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if server_time.tzinfo is None:
        server_time = server_time.replace(tzinfo=timezone.utc)
    return judge_token_against_server_clock(exp, server_time, response.received_at)


def _claims_identity(claims: JwtClaims) -> str:
    sa = claims.service_account
    if sa is not None and sa.username:
        user = sa.username
        if sa.pod_name:
            user += f" (pod {sa.pod_name})"
        return user
    return claims.sub or "(no subject)"


# --- identity -------------------------------------------------------------------------------------

_FORBIDDEN_USER = re.compile(r'User "([^"]*)" cannot')
_MESSAGE_CAP = 300


def _server_message(response: ApiResponse) -> str:
    """The metav1.Status message of an error answer, else the start of its body."""
    body = response.json
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = str(body["message"])
    else:
        message = response.preview()
    message = " ".join(message.split())
    return message if len(message) <= _MESSAGE_CAP else message[: _MESSAGE_CAP - 1] + "…"


def _response_details(response: ApiResponse) -> dict[str, Any]:
    out: dict[str, Any] = {"method": response.method, "path": response.path, "status": response.status}
    if response.status is None:
        out["error_kind"] = response.error_kind
        out["error"] = response.error
    else:
        out["message"] = _server_message(response)
        body = response.json
        if isinstance(body, dict) and body.get("kind") == "Status":
            out["reason"] = body.get("reason")
    out["credentials_sent"] = response.credentials_sent
    return out


def _credential_phrase(cred: ResolvedCredential) -> str:
    return cred.describe()


def _not_usable_reason(cred: ResolvedCredential) -> str | None:
    if cred.not_run is not None:
        return f"no credential obtained: {cred.not_run}"
    if cred.problem is not None:
        return f"no credential obtained: {cred.problem}"
    return None


async def _unserved_review(ctx: Context, response: ApiResponse, review: str) -> Result | None:
    """The skip for a review the apiserver could not serve or that was never sent, naming its health
    when that is the cause (etcd down leaves storage-backed requests hanging while /livez answers):
    the health check reports it, the review's check would only repeat it. None: judge the answer."""
    if (response.server_could_not_serve or response.not_sent) and (
        unhealthy := await _apiserver_unhealthy(ctx)
    ) is not None:
        return Result.skip(
            f"not examined: the apiserver is not ready: {unhealthy}; {review}: {_what_went_wrong(response)}"
        )
    if response.not_sent:
        return Result.skip(f"not examined: {review} was {response.error}")
    return None


async def _apiserver_unhealthy(ctx: Context) -> str | None:
    """The apiserver's own report that it is unhealthy ("[-]etcd failed: … (apiserver.livez)"), or None.

    Asked only after a request failed server-side: /livez and /readyz are fetched by their checks
    anyway, so this adds no request.
    """
    for probe, check_id in ((LIVEZ, "apiserver.livez"), (READYZ, "apiserver.readyz")):
        health = await ctx.probe(probe)
        failed = health.failed_subchecks
        if health.answered and health.status != 200 and failed:
            return f"{', '.join(failed)} ({check_id})"
    return None


def _what_went_wrong(response: ApiResponse) -> str:
    return (
        response.error or "" if response.status is None else f"{response.status} {_server_message(response)}"
    )


class IdentityCheck(Check):
    """Asks the apiserver who the credential authenticates as (SelfSubjectReview, like
    `kubectl auth whoami`).

    POSTs an authentication.k8s.io/v1 SelfSubjectReview (v1beta1 when v1 is not served) with the
    credential and reports the username, groups and the credential that produced them. The
    credential is only sent on a verified TLS connection (or plain HTTP to loopback).

    pass: the server named the identity; also for a context without a user whose server (kubectl
          proxy, or another endpoint that adds its own credential) answers as a named user. Beside it, the identity the credential claims (a client
          certificate's CN and O, a JWT's subject, the ARN an EKS token maps from) when the server
          reports a different name or fewer groups: RBAC must bind the server's name.
    A 403 for system:anonymous although a credential is configured says which: a token that was
    sent but dropped on the way (an invalid token gets 401, not anonymous), or a client certificate
    that was never asked for (no --client-ca-file, or a TLS-terminating proxy).

    warn: the credential authenticated but RBAC forbids the review (403; `kubectl auth whoami` errors
          here, yet every other request is made as that user, so it is not a failure of the
          credential — the username is read from the 403 message); anonymous requests; the server
          does not offer SelfSubjectReview (before 1.27) but accepted the credential.
    fail: 401 Unauthorized: the credential was not accepted. The likely causes are listed in order,
          using what kdoctor can see: an expired token (its exp claim) or client certificate; a token
          for another cluster (its issuer); a deleted (revoked) service account; a client certificate
          from another CA. The server's own message is shown.
    skip: the review got no answer in time or a server error while the apiserver reports itself
          unhealthy (/livez or /readyz naming failed sub-checks, such as etcd): that health check is
          the finding, named here. Also when the connection is not safe for credentials (plain HTTP
          to a remote host), so the question is not asked. With insecure-skip-tls-verify the credential is sent, as kubectl sends it
          (tls.insecure says so), and the identity is reported.
    """

    id = "auth.identity"
    title = "The apiserver accepts the credential and names the identity"
    depends_on = (*_NETWORK_DEPS, "auth.credential")

    async def run(self, ctx: Context) -> Result:
        cred = await ctx.probe(CREDENTIALS)
        reason = _not_usable_reason(cred)
        if reason is not None:
            return Result.skip(reason)
        session = await ctx.probe(API_SESSION)
        if cred.usable and not session.credentials_allowed:
            return Result.skip(
                f"credential not sent: {session.credentials_reason}",
                hint="Use the apiserver's https:// URL with its CA (certificate-authority-data), so the "
                "credential can be checked safely.",
            )
        review = await ctx.probe(IDENTITY_REVIEW)
        response, api_version = review.response, review.api_version
        details = ctx.details
        details.update(
            {
                "credential": credential_details(cred),
                "review": _response_details(response),
                "api_version": api_version,
            }
        )
        # The apiserver's own health report names the cause (etcd down leaves storage-backed requests
        # hanging while /livez answers): that check reports it, this one would only repeat it.
        if (skipped := await _unserved_review(ctx, response, "the SelfSubjectReview")) is not None:
            return skipped
        if response.status is None:
            return Result.fail(
                f"no answer to the SelfSubjectReview: {response.error}",
                hint="See the apiserver.* and tls.* results for the connection problem.",
            )
        if response.status in (200, 201):
            return self._identified(cred, response, details)
        if response.status == 401:
            return await self._unauthorized(ctx, cred, response, details)
        if response.status == 403:
            return self._forbidden(cred, response, details)
        if review.fallback is not None:
            return self._no_review_api(review.fallback, cred, details)
        return Result.fail(
            f"SelfSubjectReview answered {response.status} {response.reason}: {_server_message(response)}",
            hint="See apiserver.ready for the apiserver's health; retry when it is ready.",
        )

    def _identified(self, cred: ResolvedCredential, response: ApiResponse, details: dict[str, Any]) -> Result:
        body = response.json if isinstance(response.json, dict) else {}
        status = body.get("status") if isinstance(body.get("status"), dict) else {}
        info = status.get("userInfo") if isinstance(status, dict) else None
        if not isinstance(info, dict) or not isinstance(info.get("username"), str):
            return Result.fail(
                "the SelfSubjectReview answer names no user: not a kube-apiserver answer "
                f"({response.preview(80)})",
                hint="Check that the server URL points at the apiserver, not a proxy or ingress.",
            )
        username = str(info["username"])
        groups = [str(g) for g in info.get("groups") or [] if isinstance(g, str)]
        identity: dict[str, Any] = {"username": username, "groups": groups}
        if isinstance(info.get("uid"), str):
            identity["uid"] = info["uid"]
        extra = info.get("extra")
        if isinstance(extra, dict):
            identity["extra"] = {str(k): [str(x) for x in v] for k, v in extra.items() if isinstance(v, list)}
        details["identity"] = identity
        group_text = f" (groups: {', '.join(groups)})" if groups else ""
        if not cred.usable and username != "system:anonymous":
            # No credential of ours, yet the server names a user: something in front of it (kubectl
            # proxy) adds its own credential. That is the normal way to use kubectl proxy.
            return Result.ok(
                f"no credential configured; the server acts as {username}{group_text}: the endpoint (such as "
                "kubectl proxy) authenticates with its own credential",
            )
        if username == "system:anonymous" or not cred.usable:
            return Result.warn(
                f"requests are anonymous: the apiserver treats them as {username}{group_text}",
                hint="Configure a credential for the context's user (see auth.credential).",
            )
        note = _identity_note(cred, username, groups, identity.get("extra") or {}, details)
        return Result.ok(f"authenticated as {username}{group_text} with {_credential_phrase(cred)}{note}")

    def _forbidden(self, cred: ResolvedCredential, response: ApiResponse, details: dict[str, Any]) -> Result:
        message = _server_message(response)
        match = _FORBIDDEN_USER.search(message)
        who = match.group(1) if match else None
        if who:
            details["identity"] = {"username": who, "from": "403 message"}
        if who == "system:anonymous" and cred.usable:
            # The server ignored the credential: it authenticated nobody.
            what, fix = anonymous_403_words(cred.kind, response.credentials_sent)
            return Result.fail(
                f"the credential was not used: the server saw system:anonymous (403: {message}); {what}",
                hint=fix,
            )
        subject = f"authenticated as {who}" if who else "authenticated"
        user = who or "USER"
        return Result.warn(
            f"{subject}, but RBAC forbids the SelfSubjectReview (403): {message}",
            hint="The credential works; kubectl auth whoami fails the same way. To allow it, a cluster admin "
            f"binds the system:basic-user ClusterRole to the user: `kubectl create clusterrolebinding "
            f"{_rbac_name(user)}-basic-user --clusterrole=system:basic-user --user={user}`.",
        )

    def _no_review_api(self, probe: ApiResponse, cred: ResolvedCredential, details: dict[str, Any]) -> Result:
        details["fallback"] = _response_details(probe)
        if probe.status == 401:
            return Result.fail(
                "the server does not offer SelfSubjectReview, and answered GET /api with 401 Unauthorized: "
                f"the credential was not accepted ({_server_message(probe)})",
                hint="Get a valid credential for this cluster (see auth.token and auth.credential).",
            )
        return Result.warn(
            "the server does not offer SelfSubjectReview (kubectl auth whoami needs 1.27+), so the identity "
            f"cannot be named; GET /api with {_credential_phrase(cred)} answered {probe.status}",
            hint="Upgrade the cluster, or check access with kubectl auth can-i --list.",
        )

    async def _unauthorized(
        self,
        ctx: Context,
        cred: ResolvedCredential,
        response: ApiResponse,
        details: dict[str, Any],
    ) -> Result:
        kube_user, exec_entry = await _kube_user(ctx)
        causes = unauthorized_causes(
            cred,
            await ctx.probe(UNAUTHORIZED_FACTS),
            now=ctx.environment.now(),
            kube_user=kube_user,
            exec_entry=exec_entry,
        )
        details["likely_causes"] = causes
        message = _server_message(response)
        if not cred.usable:
            return Result.fail(
                f"401 Unauthorized without a credential: the cluster refuses anonymous requests (server: {message}"
                + (
                    "; kubectl then prompts 'Please enter Username:', and fails without a terminal)"
                    if ctx.mode is Mode.KUBECONFIG
                    else ")"
                ),
                hint="Configure a credential for the context's user (see auth.credential).",
            )
        certain = [c for c in causes if c["certain"]]
        likely = certain or [c for c in causes if c["likely"]] or causes
        if len(likely) == 1:
            listed = f"{likely[0]['cause']} ({likely[0]['evidence']})"
            lead = "Cause" if certain else "Likely cause"
        else:
            listed = "; ".join(f"{i}) {c['cause']} ({c['evidence']})" for i, c in enumerate(likely, 1))
            lead = "Causes" if certain else "Likely, in order"
        summary = (
            f"401 Unauthorized: the apiserver did not accept the {_credential_phrase(cred)} "
            f"(server: {message}). {lead}: {listed}"
        )
        first = likely[0] if likely else None
        hint = first["fix"] if first else "Get a valid credential for this cluster."
        return Result.fail(summary, hint=hint)


def _identity_note(
    cred: ResolvedCredential,
    username: str,
    groups: list[str],
    extra: dict[str, list[str]],
    details: dict[str, Any],
) -> str:
    """The identity the credential claims (JWT sub, certificate CN/O, EKS), beside the server's."""
    claimed: ClaimedIdentity | None = None
    if cred.client_cert_pem is not None and cred.bearer is None:
        facts = client_cert_facts(cred.client_cert_pem, None)
        claimed = ClaimedIdentity(facts.common_name, facts.organizations, "client certificate")
    elif cred.bearer is not None:
        token = cred.bearer.reveal()
        claims = decode_jwt(token)
        if claims is not None:
            sa = claims.service_account
            claimed = ClaimedIdentity(
                sa.username if sa and sa.username else claims.sub, (), "token's JWT subject"
            )
        elif decode_eks_token(token) is not None:
            claimed = ClaimedIdentity(None, (), "EKS token")
    if claimed is not None:
        details["claimed_identity"] = {
            "username": claimed.username,
            "groups": list(claimed.groups),
            "source": claimed.source,
        }
    return identity_note(claimed, username, groups, extra)


def unauthorized_causes(
    cred: ResolvedCredential,
    facts: UnauthorizedFacts,
    *,
    now: datetime,
    kube_user: str = "USER",
    exec_entry: ExecEntry | None = None,
) -> list[dict[str, Any]]:
    """The reasons a 401 may have, most likely first; each {cause, evidence, fix, likely, certain}.

    Pure: the credential, what UNAUTHORIZED_FACTS gathered, and the time decide; `kube_user` and
    `exec_entry` only shape the fixes.
    """
    causes: list[dict[str, Any]] = []
    store = f"`kubectl config set-credentials {kube_user} --token=…`"

    def add(cause: str, evidence: str, fix: str, likely: bool, certain: bool = False) -> None:
        causes.append(
            {"cause": cause, "evidence": evidence, "fix": fix, "likely": likely, "certain": certain}
        )

    if cred.basic is not None and cred.bearer is None:
        add(
            "basic-auth is not supported by kube-apiserver since 1.19",
            "the credential is a username/password",
            f"Use a token, client certificate or exec plugin: {store}",
            True,
            certain=True,
        )
    if cred.bearer is not None:
        claims = decode_jwt(cred.bearer.reveal())
        renew = (
            _exec_login_hint(exec_entry)
            if cred.kind == "exec-token"
            else f"Get a fresh token ({_sa_hint(claims)}) and store it: {store}"
            if claims is not None
            else f"Get a fresh token from whoever issued it and store it: {store}"
        )
        if claims is None:
            add(
                "the token expired or was revoked",
                "opaque token: kdoctor cannot read its expiry",
                renew,
                True,
            )
        elif claims.exp is not None and claims.exp <= now:
            add(
                "the token expired",
                f"exp {iso_utc(claims.exp)}, {_ago(now - claims.exp)} ago",
                renew,
                True,
                certain=True,
            )
        else:
            expiry = f"exp {iso_utc(claims.exp)}" if claims.exp is not None else "no exp claim"
            add("the token expired", f"ruled out by its claims ({expiry})", renew, False)
        if claims is not None:
            issuer = facts.cluster_issuer
            if issuer is not None:
                mismatch = claims.iss is not None and claims.iss != issuer
                add(
                    "the token was issued for another cluster",
                    f"token issuer {claims.iss!r}, this cluster's issuer {issuer!r}",
                    "Use a token minted by this cluster (check the context points at the right cluster).",
                    mismatch,
                )
            else:
                add(
                    "the token was issued for another cluster (or another audience)",
                    f"token issuer {claims.iss!r}, audiences {list(claims.aud)}; compare with "
                    "kubectl get --raw /.well-known/openid-configuration on the intended cluster",
                    "Use a token minted by this cluster (check the context points at the right cluster).",
                    True,
                )
            sa = claims.service_account
            if sa is not None:
                what = (
                    f"Secret {sa.secret_name}"
                    if sa.secret_name
                    else (f"pod {sa.pod_name}" if sa.pod_name else "")
                )
                add(
                    "the service account (or what the token is bound to) was deleted, revoking the token",
                    f"service account {sa.namespace}/{sa.name}" + (f", bound to {what}" if what else ""),
                    f"Check it exists: kubectl get serviceaccount {sa.name} -n {sa.namespace}; then "
                    f"{_sa_hint(claims)}",
                    True,
                )
        else:
            add(
                "the token belongs to another cluster or was removed from the cluster's token authenticator",
                "opaque token",
                "Check the context points at the intended cluster and the token is still configured there.",
                True,
            )
    if cred.client_cert_pem is not None:
        cert = client_cert_facts(cred.client_cert_pem, cred.client_key_pem)
        expired = cert.not_after is not None and cert.not_after <= now
        add(
            "the client certificate expired",
            f"notAfter {iso_utc(cert.not_after)}" if cert.not_after else "unreadable certificate",
            f"Get a new client certificate (`{cert.kubeadm_command}`, or from the provider).",
            expired,
            # With a token next to it, the apiserver tried the token after the certificate: the
            # expired certificate alone does not explain the 401, the refused token does too.
            certain=expired and cred.bearer is None,
        )
        ca_subject, signed_by_ca = facts.client_ca_subject, facts.signed_by_cluster_ca
        if signed_by_ca:
            evidence = f"issuer {cert.issuer}: signed by the kubeconfig's CA, which usually is the client CA"
        elif ca_subject is not None:
            evidence = f"issuer {cert.issuer}, not signed by the kubeconfig's CA ({ca_subject})"
        else:
            evidence = f"issuer {cert.issuer}; the kubeconfig names no cluster CA to compare with"
        add(
            "the client certificate was issued by another CA than the cluster's client CA",
            evidence,
            "Use a client certificate signed by this cluster's CA (the kubeconfig may mix two clusters).",
            not signed_by_ca,
        )
    return causes


# --- permissions ----------------------------------------------------------------------------------

#: What every authenticated user may do (system:basic-user); not a sign of real access.
_BASELINE_RESOURCES = frozenset(
    {
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    }
)
_RULES_PATH = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
_SUMMARY_GROUPS = 4


def _is_baseline(rule: dict[str, Any]) -> bool:
    groups = rule.get("apiGroups") or [""]
    resources = rule.get("resources") or []
    return bool(resources) and all((g, r) in _BASELINE_RESOURCES for g in groups for r in resources)


def _qualified(resource: str, groups: list[str]) -> list[str]:
    out = []
    for group in groups or [""]:
        if resource == "*" and group == "*":
            out.append("*")
        elif group in ("", "*"):
            out.append(resource)
        else:
            out.append(f"{resource}.{group}")
    return out


def summarize_rules(rules: list[dict[str, Any]]) -> str:
    """ "get,list,watch pods,services; create deployments.apps" — verbs grouped, in rule order."""
    by_verbs: dict[str, list[str]] = {}
    for rule in rules:
        verbs = ",".join(str(v) for v in rule.get("verbs") or [])
        groups = [str(g) for g in rule.get("apiGroups") or [""]]
        names = [n for r in rule.get("resources") or [] for n in _qualified(str(r), groups)]
        if rule.get("resourceNames"):
            names = [f"{n}/{'|'.join(str(x) for x in rule['resourceNames'])}" for n in names]
        bucket = by_verbs.setdefault(verbs or "(no verbs)", [])
        bucket.extend(n for n in names if n not in bucket)
    parts = []
    for verbs, names in list(by_verbs.items())[:_SUMMARY_GROUPS]:
        shown = names[:6]
        more = f"…(+{len(names) - len(shown)})" if len(names) > len(shown) else ""
        parts.append(f"{'all verbs' if verbs == '*' else verbs} {','.join(shown)}{more}")
    if len(by_verbs) > _SUMMARY_GROUPS:
        parts.append(f"… {len(by_verbs) - _SUMMARY_GROUPS} more verb sets")
    return "; ".join(parts)


async def _target_namespace(ctx: Context) -> tuple[str, str]:
    """(namespace, where it came from): the context's namespace, the pod's, or "default"."""
    if ctx.mode is Mode.IN_CLUSTER:
        facts = await ctx.probe(SERVICE_ACCOUNT)
        if facts.namespace.value:
            return facts.namespace.value, facts.namespace.path
        return "default", "default (no namespace file)"

    selection = await ctx.probe(SELECTION)
    if selection.context is not None and selection.context.namespace:
        return selection.context.namespace, f"context {selection.context_name}"
    return "default", "default (the context sets no namespace)"


async def _self_review_forbidden(ctx: Context) -> bool:
    """Whether RBAC forbids the SelfSubjectReview too (what auth.identity met): the shared review probe."""
    review = await ctx.probe(IDENTITY_REVIEW)
    return review.response.status == 403


async def _reviewed_username(ctx: Context) -> str | None:
    """The username the apiserver gave auth.identity (its SelfSubjectReview, or a 403's words), if any."""
    response = (await ctx.probe(IDENTITY_REVIEW)).response
    if response.status in (200, 201) and isinstance(response.json, dict):
        status = response.json.get("status")
        info = status.get("userInfo") if isinstance(status, dict) else None
        name = info.get("username") if isinstance(info, dict) else None
        return name if isinstance(name, str) and name else None
    if response.status == 403:
        match = _FORBIDDEN_USER.search(_server_message(response))
        return match.group(1) if match else None
    return None


async def _no_permissions_hint(ctx: Context, namespace: str) -> str:
    username = await _reviewed_username(ctx)
    prefix = "system:serviceaccount:"
    if username and username.startswith(prefix) and username.count(":") == 3:
        # A service account is bound by --serviceaccount, not as a --user.
        sa_namespace, sa_name = username[len(prefix) :].split(":")
        subject, binding = f"--serviceaccount={sa_namespace}:{sa_name}", sa_name
    elif username is None and ctx.mode is Mode.IN_CLUSTER:
        # No review answer to name it: a pod acts as its service account, whose name kdoctor lacks here.
        subject, binding = f"--serviceaccount={namespace}:SERVICEACCOUNT", "SERVICEACCOUNT"
    else:
        user = username or "USERNAME"
        subject, binding = f"--user={user}", user
    command = (
        f"kubectl create rolebinding {_rbac_name(binding)}-view --clusterrole=view {subject} -n {namespace}"
    )
    if ctx.mode is Mode.IN_CLUSTER:
        # A pod's service account: the fix is a binding for it, not another kubeconfig namespace.
        return (
            f"If this pod needs API access, bind a role to its service account: `{command}`. "
            "kdoctor's own deploy/ grants only what its checks need, so this is expected there."
        )
    selection = await ctx.probe(SELECTION)
    # --current would edit the kubeconfig's current context, not the one the user named with --context.
    which = selection.context_name if selection.context_source == "--context" else "--current"
    return (
        f"Ask a cluster admin for a RoleBinding in {namespace} (`{command}`), or use a namespace you have "
        f"access to: `kubectl config set-context {which} --namespace=NAMESPACE`"
    )


class PermissionsCheck(Check):
    """Summarises what the identity may do in the context's namespace (SelfSubjectRulesReview, like
    `kubectl auth can-i --list`).

    The namespace is the kubeconfig context's `namespace` (default: "default"), or the pod's own
    namespace in a pod. Rules every authenticated user has (the self-review APIs) are left out of
    the judgement.

    pass: some resource rules allow something; the summary groups them by verbs.
    warn: nothing beyond the self-review basics is allowed (every real request will be Forbidden),
          or RBAC forbids the review itself (403). A review marked incomplete (an authorizer that
          cannot list rules, e.g. a webhook) is noted: the list may be shorter than the truth.
    skip: the credential is not sent on this connection (see auth.identity); or RBAC forbids the
          SelfSubjectReview too, one missing system:basic-user binding that auth.identity reports;
          or the review got no answer in time (or a server error) while /livez or /readyz report the
          apiserver unhealthy: the health check is the finding, named here.
    """

    id = "auth.permissions"
    title = "The identity is allowed to do something in the context's namespace"
    depends_on = (*_NETWORK_DEPS, "auth.credential", "auth.identity")

    async def run(self, ctx: Context) -> Result:
        cred = await ctx.probe(CREDENTIALS)
        reason = _not_usable_reason(cred)
        if reason is not None:
            return Result.skip(reason)
        session = await ctx.probe(API_SESSION)
        if cred.usable and not session.credentials_allowed:
            return Result.skip(f"credential not sent: {session.credentials_reason}")
        namespace, source = await _target_namespace(ctx)
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
        }
        response = await session.post(_RULES_PATH, review, authenticated=True)
        details = ctx.details
        details.update(
            {
                "namespace": namespace,
                "namespace_source": source,
                "review": _response_details(response),
            }
        )
        if (skipped := await _unserved_review(ctx, response, "the SelfSubjectRulesReview")) is not None:
            return skipped
        if response.status is None:
            return Result.fail(f"no answer to the SelfSubjectRulesReview: {response.error}")
        if response.status == 403 and await _self_review_forbidden(ctx):
            # One missing binding (system:basic-user) forbids both reviews: auth.identity reports it, with the fix.
            return Result.skip(
                f"not examined: RBAC forbids the self-reviews here too ({_server_message(response)}); "
                "auth.identity reports it",
            )
        if response.status == 403:
            return Result.warn(
                f"RBAC forbids the SelfSubjectRulesReview in namespace {namespace} (403): "
                f"{_server_message(response)}",
                hint=f"Ask for access, or probe one action: kubectl auth can-i get pods -n {namespace}",
            )
        if response.status not in (200, 201) or not isinstance(response.json, dict):
            return Result.fail(
                f"SelfSubjectRulesReview answered {response.status}: {_server_message(response)}",
                hint="See auth.identity for whether the credential is accepted.",
            )
        status = response.json.get("status")
        status = status if isinstance(status, dict) else {}
        rules = [r for r in status.get("resourceRules") or [] if isinstance(r, dict)]
        non_resource = [r for r in status.get("nonResourceRules") or [] if isinstance(r, dict)]
        incomplete = bool(status.get("incomplete"))
        evaluation_error = status.get("evaluationError")
        meaningful = [r for r in rules if not _is_baseline(r)]
        details.update(
            {
                "resource_rules": rules[:50],
                "resource_rule_count": len(rules),
                "non_resource_rule_count": len(non_resource),
                "incomplete": incomplete,
            }
        )
        if evaluation_error:
            details["evaluation_error"] = str(evaluation_error)[:_MESSAGE_CAP]
        note = ""
        if incomplete:
            note = (
                " (the review is incomplete: an authorizer could not list its rules, so more may be allowed)"
            )
        if not meaningful:
            return Result.warn(
                f"nothing is allowed in namespace {namespace} beyond the self-review basics "
                f"({len(rules)} rules){note}",
                hint=await _no_permissions_hint(ctx, namespace),
            )
        everything = any(
            "*" in (r.get("verbs") or [])
            and "*" in (r.get("resources") or [])
            and "*" in (r.get("apiGroups") or [])
            for r in meaningful
        )
        lead = "everything (all verbs on all resources)" if everything else summarize_rules(meaningful)
        return Result.ok(
            f"in namespace {namespace} can: {lead}; {len(rules)} rules{note}",
        )


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 70

CHECKS = (CredentialCheck, TokenCheck, IdentityCheck, PermissionsCheck)
