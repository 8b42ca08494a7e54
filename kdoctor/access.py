"""How to reach the apiserver of a target, whatever described it (a kubeconfig or a pod's environment).

The network checks (apiserver, tls, auth, proxy) need only this: they do not care whether the server
URL came from a kubeconfig or from KUBERNETES_SERVICE_HOST. Each mode provides a probe that builds
an `AccessSpec`; `ACCESS` picks the one for the target's mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kdoctor.api import Mode, Probe
from kdoctor.redact import Secret

if TYPE_CHECKING:
    from kdoctor.context import Context


@dataclass(frozen=True)
class ExecSpec:
    """A kubeconfig `exec` credential plugin stanza (validated by the kubeconfig family)."""

    api_version: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, Secret], ...] = ()  # values may be credentials
    interactive_mode: str | None = None
    install_hint: str | None = None
    provide_cluster_info: bool = False


@dataclass(frozen=True)
class Credentials:
    """The configured way to authenticate. At most one method is set when the config is valid."""

    token: Secret | None = None
    token_file: str | None = None
    client_cert_pem: bytes | None = None  # certificate (public)
    client_key_pem: Secret | None = None  # private key, PEM text
    username: str | None = None
    password: Secret | None = None
    exec: ExecSpec | None = None
    auth_provider: str | None = None

    @property
    def methods(self) -> list[str]:
        found = []
        if self.token is not None or self.token_file:
            found.append("token")
        if self.client_cert_pem is not None or self.client_key_pem is not None:
            found.append("client-certificate")
        if self.username or self.password is not None:
            found.append("basic-auth")
        if self.exec is not None:
            found.append("exec")
        if self.auth_provider:
            found.append("auth-provider")
        return found


@dataclass(frozen=True)
class AccessSpec:
    """Everything needed to talk to the apiserver the way kubectl (or an in-cluster client) would."""

    server: str  # https://host:port[/path]
    ca_pem: bytes | None = None  # None: system roots
    ca_source: str = ""  # "certificate-authority-data", a file path, ".../ca.crt"
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None  # the cluster's proxy-url field, if any
    #: Set when a CA is configured but cannot be read: kubectl cannot verify (nor send a credential),
    #: yet the server can still be looked at without one.
    ca_error: str | None = None
    credentials: Credentials = field(default_factory=Credentials)
    origin: str = ""  # human words: "context prod in ~/.kube/config", "pod service account"


class AccessUnavailable(Exception):
    """Raised by `ACCESS` when the target's description is too broken to name a server.

    Checks need not catch it: the runner turns it into `skip` ("no server to check: ..."), while
    the kubeconfig or in-cluster checks report the cause.
    """


async def _compute_access(ctx: Context) -> AccessSpec:
    if ctx.mode is Mode.IN_CLUSTER:
        from kdoctor.incluster import IN_CLUSTER_ACCESS

        return await ctx.probe(IN_CLUSTER_ACCESS)
    from kdoctor.kubeconfig import KUBECONFIG_ACCESS

    return await ctx.probe(KUBECONFIG_ACCESS)


ACCESS: Probe[AccessSpec] = Probe("access", _compute_access)
