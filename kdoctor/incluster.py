"""The in-pod way to the apiserver: service-account files and KUBERNETES_SERVICE_HOST/PORT.

A pod finds the apiserver the way client-go's `rest.InClusterConfig()` does: the kubelet sets
`KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` (the `default/kubernetes` Service) and mounts a
service-account directory holding `token`, `ca.crt` and `namespace`. The probes here gather those
facts (never judging them: the `incluster.*` checks do) and build the `AccessSpec` through which the
in-cluster target goes through the same apiserver/tls/auth checks as a kubeconfig target.

Everything is read from `ctx.options.serviceaccount_dir` and `ctx.env`, never from os.environ.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kdoctor.access import AccessSpec, AccessUnavailable, Credentials
from kdoctor.certs import CertSummary, describe, parse_pem_certificates
from kdoctor.jwt import JwtClaims, decode
from kdoctor.keys import IN_CLUSTER_ACCESS, IN_CLUSTER_ENV, SERVICE_ACCOUNT
from kdoctor.probes.inpod import HOST_VAR, PORT_HTTPS_VAR, PORT_VAR, detect
from kdoctor.redact import Secret
from kdoctor.timefmt import iso_utc

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kdoctor.context import Context

__all__ = [
    "HOST_VAR",
    "IN_CLUSTER_ACCESS",
    "IN_CLUSTER_ENV",
    "PORT_HTTPS_VAR",
    "PORT_VAR",
    "SERVICE_ACCOUNT",
    "CAFacts",
    "InClusterEnv",
    "NamespaceFacts",
    "ServiceAccountFacts",
    "TokenFacts",
    "detect",
    "read_env",
    "read_serviceaccount",
]

# Service-account files are tiny; a huge file is not what the kubelet wrote.
_MAX_FILE = 1024 * 1024
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$")


# --- the service-account directory ------------------------------------------------------------


@dataclass(frozen=True)
class TokenFacts:
    """The `token` file: whether it reads, and the JWT claims it carries (unverified)."""

    path: str
    present: bool
    error: str | None = None  # why it could not be read
    empty: bool = False
    secret: Secret | None = None
    claims: JwtClaims | None = None  # None: not a JWT (or not read)
    modified_at: datetime | None = None

    @property
    def readable(self) -> bool:
        return self.present and self.error is None

    @property
    def fingerprint(self) -> str | None:
        return self.secret.fingerprint if self.secret else None

    @property
    def username(self) -> str | None:
        sa = self.claims.service_account if self.claims else None
        return sa.username if sa else None

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "present": self.present}
        if self.error:
            out["error"] = self.error
        if self.readable:
            out["empty"] = self.empty
            out["fingerprint"] = self.fingerprint
            out["jwt"] = self.claims is not None
        if self.claims is not None:
            out["claims"] = self.claims.summary_claims()
            warn_after = warn_after_of(self.claims)
            if warn_after is not None:
                out["claims"]["warnafter"] = iso_utc(warn_after)
        if self.modified_at is not None:
            out["modified_at"] = iso_utc(self.modified_at)
        return out


@dataclass(frozen=True)
class CAFacts:
    """The `ca.crt` file: the PEM bundle the pod trusts for the apiserver."""

    path: str
    present: bool
    error: str | None = None  # unreadable, or not PEM certificates
    pem: bytes | None = None
    #: The shared description of each certificate of ca.crt (kdoctor.certs).
    certificates: tuple[CertSummary, ...] = ()

    @property
    def usable(self) -> bool:
        return self.pem is not None and bool(self.certificates)

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "present": self.present}
        if self.error:
            out["error"] = self.error
        out["certificates"] = [c.to_dict() for c in self.certificates]
        return out


@dataclass(frozen=True)
class NamespaceFacts:
    """The `namespace` file: the pod's namespace, as the kubelet wrote it."""

    path: str
    present: bool
    error: str | None = None
    value: str | None = None  # stripped text


@dataclass(frozen=True)
class ServiceAccountFacts:
    """What the service-account directory holds."""

    directory: str
    exists: bool
    token: TokenFacts
    ca: CAFacts
    namespace: NamespaceFacts


def read_serviceaccount(directory: str) -> ServiceAccountFacts:
    """Read the service-account directory (no judging; never raises for missing/broken files)."""
    base = Path(directory)
    return ServiceAccountFacts(
        directory=directory,
        exists=base.is_dir(),
        token=_read_token(base / "token"),
        ca=_read_ca(base / "ca.crt"),
        namespace=_read_namespace(base / "namespace"),
    )


def _read_bytes(path: Path) -> tuple[bytes | None, str | None]:
    """The file's bytes, or the reason it cannot be read (OS error text, no content)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_FILE + 1)
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"{type(exc).__name__}: {exc.strerror or exc}"
    if len(data) > _MAX_FILE:
        return None, f"larger than {_MAX_FILE} bytes"
    return data, None


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except OSError:
        return None


def _read_token(path: Path) -> TokenFacts:
    data, error = _read_bytes(path)
    present = error != "missing"
    if data is None:
        return TokenFacts(path=str(path), present=present, error=error if present else None)
    text = data.decode("utf-8", "replace").strip()
    if not text:
        return TokenFacts(path=str(path), present=True, empty=True, modified_at=_mtime(path))
    return TokenFacts(
        path=str(path),
        present=True,
        secret=Secret(text),
        claims=decode(text),
        modified_at=_mtime(path),
    )


def _read_ca(path: Path) -> CAFacts:
    data, error = _read_bytes(path)
    present = error != "missing"
    if data is None:
        return CAFacts(path=str(path), present=present, error=error if present else None)
    certs, error = parse_pem_certificates(data)
    if error is not None:
        return CAFacts(path=str(path), present=True, error=error)
    return CAFacts(path=str(path), present=True, pem=data, certificates=tuple(describe(c) for c in certs))


def _read_namespace(path: Path) -> NamespaceFacts:
    data, error = _read_bytes(path)
    present = error != "missing"
    if data is None:
        return NamespaceFacts(path=str(path), present=present, error=error if present else None)
    return NamespaceFacts(path=str(path), present=True, value=data.decode("utf-8", "replace").strip())


def is_dns1123_label(value: str) -> bool:
    """A valid namespace name (RFC 1123 label, at most 63 characters)."""
    return len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def warn_after_of(claims: JwtClaims) -> datetime | None:
    """`kubernetes.io.warnafter`: when an extended-expiry token should already have been replaced."""
    bound = claims.claims.get("kubernetes.io")
    value = bound.get("warnafter") if isinstance(bound, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc)


#: The kubelet rotates a projected token once 80% of its lifetime or 24 hours have passed.
KUBELET_REFRESH_FRACTION = 0.8
KUBELET_MAX_TOKEN_AGE = timedelta(hours=24)
#: How late a rotation may be before the file counts as stale (the kubelet syncs volumes every ~minute).
REFRESH_GRACE = timedelta(minutes=10)


def expected_refresh(claims: JwtClaims) -> datetime | None:
    """When the kubelet should have rotated this token, from its iat/exp (or warnafter) claims."""
    if claims.iat is None:
        return None
    end = warn_after_of(claims) or claims.exp
    if end is None:
        return None
    lifetime = (end - claims.iat) * KUBELET_REFRESH_FRACTION
    return claims.iat + min(lifetime, KUBELET_MAX_TOKEN_AGE)


# --- the environment variables ----------------------------------------------------------------


@dataclass(frozen=True)
class InClusterEnv:
    """KUBERNETES_SERVICE_HOST/PORT as the pod sees them, and the server URL they make."""

    host: str | None
    port: str | None
    port_https: str | None
    host_kind: str | None  # "ipv4", "ipv6", "hostname", "invalid"; None when unset
    port_number: int | None
    problems: tuple[str, ...]

    @property
    def usable(self) -> bool:
        return not self.problems

    @property
    def server(self) -> str | None:
        """https://HOST:PORT the way client-go builds it (net.JoinHostPort brackets IPv6)."""
        if not self.usable or self.host is None or self.port_number is None:
            return None
        return f"https://{join_host_port(self.host, self.port_number)}"

    @property
    def host_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        if self.host_kind in ("ipv4", "ipv6") and self.host is not None:
            return ipaddress.ip_address(self.host)
        return None

    def to_details(self) -> dict[str, Any]:
        return {
            HOST_VAR: self.host,
            PORT_VAR: self.port,
            PORT_HTTPS_VAR: self.port_https,
            "host_kind": self.host_kind,
            "server": self.server,
            "problems": list(self.problems),
        }


def join_host_port(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def read_env(env: Mapping[str, str]) -> InClusterEnv:
    """Parse KUBERNETES_SERVICE_HOST/PORT (no judging beyond "well-formed")."""
    host = env.get(HOST_VAR)
    port = env.get(PORT_VAR)
    port_https = env.get(PORT_HTTPS_VAR)
    problems: list[str] = []
    host_kind: str | None = None
    if not host:
        problems.append(f"{HOST_VAR} is not set")
    else:
        host_kind = _host_kind(host)
        if host != host.strip():
            problems.append(f"{HOST_VAR} has surrounding whitespace: {host!r}")
        elif host_kind == "invalid":
            problems.append(f"{HOST_VAR}={host!r} is neither an IP address nor a host name")
    port_number: int | None = None
    if not port:
        problems.append(f"{PORT_VAR} is not set")
    elif not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(f"{PORT_VAR}={port!r} is not a port number (1-65535)")
    else:
        port_number = int(port)
    return InClusterEnv(
        host=host,
        port=port,
        port_https=port_https,
        host_kind=host_kind,
        port_number=port_number,
        problems=tuple(problems),
    )


def _host_kind(host: str) -> str:
    candidate = host.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        # client-go brackets the host itself; a pre-bracketed value becomes "[[::1]]:443".
        return "invalid"
    try:
        address = ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return "hostname" if _HOSTNAME.match(candidate) and len(candidate) <= 253 else "invalid"
    return "ipv6" if address.version == 6 else "ipv4"


# --- probes -----------------------------------------------------------------------------------


async def _compute_serviceaccount(ctx: Context) -> ServiceAccountFacts:
    facts = read_serviceaccount(ctx.options.serviceaccount_dir)
    if facts.token.secret is not None:
        ctx.secrets.add(facts.token.secret)
    ctx.identify(cluster="in-cluster", user=facts.token.username, config=_config(facts, None))
    return facts


async def _compute_env(ctx: Context) -> InClusterEnv:
    env = read_env(ctx.env)
    ctx.identify(cluster="in-cluster", server=env.server)
    return env


def _config(sa: ServiceAccountFacts, env: InClusterEnv | None) -> dict[str, Any]:
    """The redacted facts the report header shows for an in-cluster target."""
    config: dict[str, Any] = {
        "serviceaccount_dir": sa.directory,
        "namespace": sa.namespace.value,
        "token": sa.token.fingerprint,
        "ca": sa.ca.path if sa.ca.usable else None,
    }
    if env is not None:
        config[HOST_VAR] = env.host
        config[PORT_VAR] = env.port
    return config


async def _compute_access(ctx: Context) -> AccessSpec:
    env = await ctx.probe(IN_CLUSTER_ENV)
    sa = await ctx.probe(SERVICE_ACCOUNT)
    ctx.identify(
        context=None,
        cluster="in-cluster",
        user=sa.token.username,
        server=env.server,
        config=_config(sa, env),
    )
    server = env.server
    if server is None:
        raise AccessUnavailable("; ".join(env.problems))
    token = sa.token.secret
    return AccessSpec(
        server=server,
        ca_pem=sa.ca.pem if sa.ca.usable else None,
        ca_source=sa.ca.path,
        credentials=Credentials(token=token, token_file=sa.token.path),
        origin=f"pod service account ({sa.directory})",
    )
