"""Obtaining the target's credential the way kubectl would, as a shared probe.

`CREDENTIALS` turns the configured method (`ACCESS.credentials`) into what goes on the wire: a
bearer token (static, read from tokenFile, or from an exec plugin), a client certificate and key,
or basic-auth. It gathers facts and never judges them; `auth.credential` does. Every secret value
it meets is registered with `ctx.secrets` before anything else happens to it.
"""

from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kdoctor.access import ACCESS, AccessSpec, Credentials
from kdoctor.certs import KEY_MISMATCH, credential_fingerprint, describe, key_problem, parse_pem_certificates
from kdoctor.cloudcreds import oidc_id_token_state
from kdoctor.keys import CREDENTIALS
from kdoctor.redact import Secret

if TYPE_CHECKING:
    from kdoctor.context import Context
    from kdoctor.execplugin import ExecResult

__all__ = ["CREDENTIALS", "KINDS", "ResolvedCredential", "resolve_credentials"]

KINDS = ("none", "token", "client-certificate", "basic", "exec-token", "exec-client-certificate")

# auth-providers that kubectl 1.26+ refuses outright (the message users see names the replacement).
REMOVED_AUTH_PROVIDERS = {
    "gcp": "gke-gcloud-auth-plugin (an exec plugin)",
    "azure": "kubelogin (an exec plugin)",
}
# A token file is a few KiB at most; do not slurp a wrong path to a large file.
_TOKEN_FILE_CAP = 1024 * 1024


@dataclass(frozen=True)
class ResolvedCredential:
    """The credential kubectl would send, and where it came from.

    `kind` is one of `KINDS`. `problem` says why no usable credential was obtained although one
    was configured (unreadable token file, plugin failure, removed auth-provider); `not_run` says
    why an exec plugin was deliberately not run (--no-exec, needs a terminal) — kubectl would run
    it, kdoctor will not, so nothing can be concluded about it.
    """

    kind: str
    bearer: Secret | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: Secret | None = None
    basic: tuple[str, Secret] | None = None
    source: str = ""
    expires_at: datetime | None = None
    problem: str | None = None
    exec_result: ExecResult | None = None
    not_run: str | None = None
    #: The methods the configuration names (Credentials.methods), for the report.
    configured: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """Something will be sent: a bearer token, a client certificate or basic-auth."""
        return self.bearer is not None or self.client_cert_pem is not None or self.basic is not None

    @property
    def token_fingerprint(self) -> str | None:
        return self.bearer.fingerprint if self.bearer is not None else None

    def describe(self) -> str:
        """A short phrase for messages: "token sha256:1a2b3c4d from tokenFile /x".

        Never "bearer <word>": the report scrubber takes that for an Authorization header value.
        """
        source = f" from {self.source}" if self.source else ""
        if self.kind in ("token", "exec-token") and self.bearer is not None:
            return f"token {self.bearer.fingerprint}{source}"
        if self.kind in ("client-certificate", "exec-client-certificate"):
            return f"client certificate{source}"
        if self.kind == "basic" and self.basic is not None:
            return f"basic-auth for user {self.basic[0]!r}"
        return "no credential"


async def resolve_credentials(ctx: Context, access: AccessSpec) -> ResolvedCredential:
    """The credential for `access`, obtained as kubectl would (running the exec plugin if any)."""
    creds = access.credentials
    configured = tuple(creds.methods)
    _register(ctx, creds)

    if creds.auth_provider == "oidc":
        return _from_oidc(ctx, creds, configured)
    if creds.auth_provider:
        return ResolvedCredential(
            kind="none",
            source=f"auth-provider {creds.auth_provider}",
            problem=_auth_provider_problem(creds.auth_provider),
            configured=configured,
        )

    cert_pem, key_pem, cert_source = (
        creds.client_cert_pem,
        creds.client_key_pem,
        "client-certificate/client-key",
    )
    bearer, token_source, token_problem = _static_token(ctx, creds)
    if token_problem is not None:
        return ResolvedCredential(
            kind="none", source=token_source, problem=token_problem, configured=configured
        )

    if bearer is not None:
        # kubeconfig validation allows a client certificate alongside a token: both are sent.
        return ResolvedCredential(
            kind="token",
            bearer=bearer,
            client_cert_pem=cert_pem,
            client_key_pem=key_pem if cert_pem is not None else None,
            source=token_source,
            configured=configured,
        )
    if creds.username or creds.password is not None:
        password = creds.password if creds.password is not None else Secret("")
        return ResolvedCredential(
            kind="basic",
            basic=(creds.username or "", password),
            source="username/password",
            configured=configured,
        )
    if creds.exec is None:
        if cert_pem is not None or key_pem is not None:
            if cert_pem is None or key_pem is None:
                missing = "client-key" if key_pem is None else "client-certificate"
                return ResolvedCredential(
                    kind="none",
                    source=cert_source,
                    problem=f"a client certificate needs both the certificate and the key; {missing} is missing",
                    configured=configured,
                )
            return ResolvedCredential(
                kind="client-certificate",
                client_cert_pem=cert_pem,
                client_key_pem=key_pem,
                source=cert_source,
                configured=configured,
            )
        return ResolvedCredential(kind="none", configured=configured)
    return await _from_exec(ctx, access, configured)


async def _from_exec(ctx: Context, access: AccessSpec, configured: tuple[str, ...]) -> ResolvedCredential:
    # Imported here: a token or certificate user never needs the plugin runner.
    from kdoctor.execplugin import cluster_info, run_exec_plugin

    spec = access.credentials.exec
    assert spec is not None
    cluster = cluster_info(
        server=access.server,
        tls_server_name=access.tls_server_name,
        insecure_skip_tls_verify=access.insecure_skip_tls_verify,
        ca_pem=access.ca_pem,
        proxy_url=access.proxy_url,
    )
    result = await run_exec_plugin(
        spec,
        env=ctx.env,
        timeout=ctx.timeout,
        secrets=ctx.secrets,
        which=ctx.environment.which,
        cluster=cluster,
        no_exec=ctx.options.no_exec,
        monotonic=ctx.environment.monotonic,
    )
    source = f"exec plugin {spec.command}"
    if result.not_run_reason is not None and not result.needs_terminal and not ctx.options.no_exec:
        # An apiVersion client-go refuses is a broken configuration, not a deliberate skip.
        return ResolvedCredential(
            kind="none",
            source=source,
            problem=result.not_run_reason,
            exec_result=result,
            configured=configured,
        )
    if result.not_run_reason is not None:
        return ResolvedCredential(
            kind="none",
            source=source,
            not_run=result.not_run_reason,
            exec_result=result,
            configured=configured,
        )
    if not result.ok:
        return ResolvedCredential(
            kind="none",
            source=source,
            problem=result.client_go_error() or "exec plugin returned no credential",
            exec_result=result,
            configured=configured,
        )
    # A static client certificate in the kubeconfig is used as-is; the plugin's is used otherwise.
    creds = access.credentials
    static_cert = creds.client_cert_pem is not None and creds.client_key_pem is not None
    if result.token is not None:
        return ResolvedCredential(
            kind="exec-token",
            bearer=result.token,
            client_cert_pem=creds.client_cert_pem if static_cert else result.client_cert_pem,
            client_key_pem=creds.client_key_pem if static_cert else result.client_key_pem,
            source=source,
            expires_at=result.expires_at,
            exec_result=result,
            configured=configured,
        )
    return ResolvedCredential(
        kind="exec-client-certificate",
        client_cert_pem=result.client_cert_pem,
        client_key_pem=result.client_key_pem,
        source=source,
        expires_at=result.expires_at,
        exec_result=result,
        configured=configured,
    )


def _static_token(ctx: Context, creds: Credentials) -> tuple[Secret | None, str, str | None]:
    """(token, source, problem). tokenFile wins when readable, as client-go's refreshing source does.

    A token holding a control character is no credential: Go's net/http refuses to send it.
    """
    token, source, problem = _read_static_token(ctx, creds)
    if token is not None:
        text = token.reveal()
        bad = next(
            (i for i, ch in enumerate(text) if (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F), None
        )
        if bad is not None:
            return (
                None,
                source,
                (
                    f"the token from {source} contains the control character {text[bad]!r} at position {bad}; "
                    'kubectl refuses to send it (net/http: invalid header field value for "Authorization")'
                ),
            )
    return token, source, problem


def _read_static_token(ctx: Context, creds: Credentials) -> tuple[Secret | None, str, str | None]:
    if creds.token_file:
        path = creds.token_file
        try:
            # O_NONBLOCK and a regular-file check: opening a FIFO with no writer would block the
            # event loop, and every timeout with it, for ever (Go's os.ReadFile blocks kubectl).
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with open(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return (
                        None,
                        f"tokenFile {path}",
                        f"tokenFile {path} is not a regular file (a pipe, device or directory); "
                        "kubectl would block reading it",
                    )
                raw = fh.read(_TOKEN_FILE_CAP + 1)
        except ValueError:  # a NUL byte in the path: Go's open says "invalid argument"
            return (
                None,
                "tokenFile",
                "cannot read tokenFile: the path holds a NUL byte (kubectl: invalid argument)",
            )
        except OSError as exc:
            if creds.token is not None and creds.token:
                return creds.token, "the token setting (tokenFile unreadable)", None
            return None, f"tokenFile {path}", f"cannot read tokenFile {path}: {exc.strerror or exc}"
        if len(raw) > _TOKEN_FILE_CAP:
            return None, f"tokenFile {path}", f"tokenFile {path} is larger than {_TOKEN_FILE_CAP} bytes"
        text = raw.decode("utf-8", "replace")
        ctx.secrets.add(text)
        # client-go: strings.TrimSpace, then an empty token is an error.
        token = text.strip()
        if not token:
            if creds.token:
                return creds.token, "the token setting (tokenFile empty)", None
            return None, f"tokenFile {path}", f'read empty token from file "{path}"'
        ctx.secrets.add(token)
        return Secret(token), f"tokenFile {path}", None
    if creds.token is not None and creds.token:
        return creds.token, "the token setting", None
    return None, "", None


def _from_oidc(ctx: Context, creds: Credentials, configured: tuple[str, ...]) -> ResolvedCredential:
    """client-go's oidc auth-provider: the id-token while it is valid, else a refresh at the IdP.

    kdoctor sends the id-token as kubectl would; it never contacts the identity provider, so an
    expired id-token with a refresh-token is "not run" (kubectl would refresh), not a failure.
    """

    config = {k: v.reveal() for k, v in creds.auth_provider_config}
    state = oidc_id_token_state(config, ctx.environment.now())
    source = "auth-provider oidc (id-token)"
    if state.usable:
        return ResolvedCredential(
            kind="token",
            bearer=Secret(config["id-token"]),
            source=source,
            expires_at=state.expires_at,
            configured=configured,
        )
    if state.refreshable:
        return ResolvedCredential(kind="none", source=source, not_run=state.words, configured=configured)
    return ResolvedCredential(kind="none", source=source, problem=state.words, configured=configured)


#: auth-provider config keys that name things rather than prove them: shown, never scrubbed.
_PUBLIC_PROVIDER_KEYS = frozenset(
    {
        "client-id",
        "idp-issuer-url",
        "idp-certificate-authority",
        "idp-certificate-authority-data",
        "extra-scopes",
    }
)


def _register(ctx: Context, creds: Credentials) -> None:
    for key, value in creds.auth_provider_config:
        if key not in _PUBLIC_PROVIDER_KEYS:
            ctx.secrets.add(value)
    ctx.secrets.add(creds.token)
    ctx.secrets.add(creds.client_key_pem)
    ctx.secrets.add(creds.password)
    if creds.exec is not None:
        for _, value in creds.exec.env:
            ctx.secrets.add(value)


def _auth_provider_problem(name: str) -> str:
    replacement = REMOVED_AUTH_PROVIDERS.get(name)
    if replacement is not None:
        return f"The {name} auth plugin has been removed from kubectl (1.26+); use {replacement} instead"
    return (
        f"auth-provider {name!r}: kdoctor does not run legacy auth-provider plugins, so it cannot obtain "
        "the credential kubectl would send"
    )


async def _compute(ctx: Context) -> ResolvedCredential:
    access = await ctx.probe(ACCESS)
    return await resolve_credentials(ctx, access)


def credential_details(cred: ResolvedCredential) -> dict[str, Any]:
    """JSON-safe facts about `cred` for a report: never a value, only fingerprints."""
    out: dict[str, Any] = {"kind": cred.kind, "source": cred.source, "configured": list(cred.configured)}
    if cred.bearer is not None:
        out["token_fingerprint"] = cred.bearer.fingerprint
    if cred.basic is not None:
        out["username"] = cred.basic[0]
    if cred.expires_at is not None:
        out["expires_at"] = cred.expires_at.isoformat()
    if cred.problem:
        out["problem"] = cred.problem
    if cred.not_run:
        out["not_run"] = cred.not_run
    return out


@dataclass(frozen=True)
class ClientCertFacts:
    """What a client certificate says about the identity it asserts, read without a server."""

    subject: str = ""
    common_name: str | None = None  # the username the apiserver takes from it
    organizations: tuple[str, ...] = ()  # the groups
    issuer: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None
    sha256: str = ""
    #: False when the private key is not the certificate's (TLS fails before any HTTP); None if unknown.
    key_matches: bool | None = None
    error: str | None = None

    @property
    def kubeadm_command(self) -> str:
        """kubeadm's command (on a control-plane node) that issues a certificate for the same identity:
        the CN is the username and each O a group, so a renewal keeps the user's RBAC bindings."""
        name = shlex.quote(self.common_name) if self.common_name else "USERNAME"
        groups = "".join(f" --org {shlex.quote(org)}" for org in self.organizations)
        return f"kubeadm kubeconfig user --client-name {name}{groups}"

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subject": self.subject,
            "common_name": self.common_name,
            "organizations": list(self.organizations),
            "issuer": self.issuer,
            "sha256": self.sha256,
        }
        if self.not_before is not None:
            out["not_before"] = self.not_before.isoformat()
        if self.not_after is not None:
            out["not_after"] = self.not_after.isoformat()
        if self.key_matches is not None:
            out["key_matches"] = self.key_matches
        if self.error:
            out["error"] = self.error
        return out


def client_cert_facts(cert_pem: bytes, key_pem: Secret | None) -> ClientCertFacts:
    """Parse the client certificate (the first PEM block) and check the key belongs to it.

    Errors name what is wrong, never the key material.
    """

    certs, error = parse_pem_certificates(cert_pem)
    if error is not None:
        return ClientCertFacts(error=f"the client certificate {error}")
    cert = describe(certs[0])
    facts = ClientCertFacts(
        subject=cert.subject,
        common_name=cert.common_name,
        organizations=cert.organizations,
        issuer=cert.issuer,
        not_before=cert.not_before,
        not_after=cert.not_after,
        sha256=credential_fingerprint(cert),
    )
    if key_pem is None:
        return facts
    problem = key_problem(key_pem.reveal().encode(), certs[0])
    if problem is None or problem == KEY_MISMATCH:
        return _with(facts, key_matches=problem is None)
    return _with(facts, error=f"the client key {problem}")


def _with(facts: ClientCertFacts, **changes: Any) -> ClientCertFacts:

    return replace(facts, **changes)
