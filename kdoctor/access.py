"""How to reach the apiserver of a target, whatever described it (a kubeconfig or a pod's environment).

The network checks (apiserver, tls, auth, proxy) need only this: they do not care whether the server
URL came from a kubeconfig or from KUBERNETES_SERVICE_HOST. Each mode provides a probe that builds
an `AccessSpec`; `ACCESS` picks the one for the target's mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kdoctor.core import Mode, Unavailable
from kdoctor.keys import ACCESS as ACCESS  # re-exported: its home before kdoctor.keys
from kdoctor.keys import IN_CLUSTER_ACCESS, KUBECONFIG_ACCESS
from kdoctor.redact import Secret

if TYPE_CHECKING:
    from kdoctor.context import Context


#: The ways to authenticate, in client-go's words: kubectl's own message reads
#: "more than one authentication method found for NAME; found [token basicAuth], only one is allowed"
#: (k8s.io/client-go/tools/clientcmd/validation.go). Used for a kubeconfig user and for any target.
TOKEN, CLIENT_CERT, BASIC_AUTH, EXEC, AUTH_PROVIDER = (
    "token",
    "clientCert",
    "basicAuth",
    "exec",
    "authProvider",
)


def auth_methods(
    *, token: bool, basic: bool, client_cert: bool, exec_plugin: bool, auth_provider: bool
) -> list[str]:
    """The methods configured, named and ordered as client-go lists them in its "more than one
    authentication method found" error."""
    configured = (
        (token, TOKEN),
        (basic, BASIC_AUTH),
        (client_cert, CLIENT_CERT),
        (exec_plugin, EXEC),
        (auth_provider, AUTH_PROVIDER),
    )
    return [name for present, name in configured if present]


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
    #: The auth-provider's config (id-token, refresh-token, client-secret, ...); every value a Secret.
    auth_provider_config: tuple[tuple[str, Secret], ...] = ()

    @property
    def methods(self) -> list[str]:
        return auth_methods(
            token=self.token is not None or bool(self.token_file),
            basic=bool(self.username) or self.password is not None,
            client_cert=self.client_cert_pem is not None or self.client_key_pem is not None,
            exec_plugin=self.exec is not None,
            auth_provider=bool(self.auth_provider),
        )


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


class AccessUnavailable(Unavailable):
    """Raised by `ACCESS` when the target's description is too broken to name a server.

    Checks need not catch it: the runner turns it into `skip` ("no server to check: ..."), while
    the kubeconfig or in-cluster checks report the cause.
    """

    @property
    def summary(self) -> str:
        return f"no server to check: {super().summary}"


async def _compute_access(ctx: Context) -> AccessSpec:
    key = IN_CLUSTER_ACCESS if ctx.mode is Mode.IN_CLUSTER else KUBECONFIG_ACCESS
    return await ctx.probe(key)
