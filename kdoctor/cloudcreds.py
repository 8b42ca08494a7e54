"""Credentials as the clouds issue them, judged without a network: pure functions.

- EKS tokens (`aws eks get-token`, aws-iam-authenticator): ``k8s-aws-v1.`` + the base64url of a
  presigned STS GetCallerIdentity URL. The apiserver's authenticator replays that URL to STS,
  so the URL's signing time (X-Amz-Date), region (X-Amz-Credential scope) and signed headers
  decide: aws-iam-authenticator accepts a token for 15 minutes after X-Amz-Date and requires the
  `x-k8s-aws-id` header (the cluster name) among the signed headers. The header's value is not in
  the URL; the exec plugin's `--cluster-name`/`--cluster-id` argument says which cluster it signed.
  Nothing of the token (signature, access key id) is ever shown.
- The removed `gcp` and `azure` auth-providers (kubectl 1.26+): the replacement plugin, whether it
  is installed, and the migration command.
- OIDC id-tokens: issuer, audience and expiry against this machine's clock and the apiserver's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from kdoctor.jwt import decode

__all__ = [
    "EKS_TOKEN_PREFIX",
    "EksToken",
    "ProviderMigration",
    "decode_eks_token",
    "eks_cluster_argument",
    "eks_server_region",
    "judge_eks_token",
    "judge_token_against_server_clock",
    "oidc_claim_problems",
    "oidc_id_token_state",
    "removed_provider_migration",
]

EKS_TOKEN_PREFIX = "k8s-aws-v1."
#: aws-iam-authenticator accepts a presigned URL for this long after X-Amz-Date, whatever X-Amz-Expires says.
EKS_TOKEN_LIFETIME = timedelta(minutes=15)
CLUSTER_ID_HEADER = "x-k8s-aws-id"
_MAX_TOKEN = 16 * 1024

Verdict = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class EksToken:
    """What an EKS token's presigned URL says; no secret part of it."""

    host: str
    region: str | None
    signed_at: datetime | None
    url_expires_seconds: int | None
    signed_headers: tuple[str, ...]
    #: "long-term" (an AKIA access key: an IAM user) or "temporary" (ASIA: a role session), else None.
    key_kind: str | None
    action: str | None

    @property
    def cluster_id_signed(self) -> bool:
        return CLUSTER_ID_HEADER in self.signed_headers

    @property
    def valid_until(self) -> datetime | None:
        return self.signed_at + EKS_TOKEN_LIFETIME if self.signed_at else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sts_host": self.host,
            "region": self.region,
            "signed_at": _iso(self.signed_at),
            "valid_until": _iso(self.valid_until),
            "url_expires_seconds": self.url_expires_seconds,
            "signed_headers": list(self.signed_headers),
            "cluster_id_signed": self.cluster_id_signed,
            "access_key_kind": self.key_kind,
            "action": self.action,
        }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def decode_eks_token(token: str) -> EksToken | None:
    """The facts of an EKS token, or None when `token` is not one (or its URL is unreadable)."""
    if not token.startswith(EKS_TOKEN_PREFIX) or len(token) > _MAX_TOKEN:
        return None
    payload = token[len(EKS_TOKEN_PREFIX) :]
    try:
        url = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items() if v}
    credential = query.get("x-amz-credential", "").split("/")
    region = credential[2] if len(credential) >= 5 else None
    if region is None and parts.hostname.startswith("sts.") and parts.hostname.count(".") >= 3:
        region = parts.hostname.split(".")[1]
    signed_at: datetime | None = None
    try:
        signed_at = datetime.strptime(query.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=timezone.utc
        )
    except ValueError:
        signed_at = None
    expires = query.get("x-amz-expires")
    key_id = credential[0] if credential and credential[0] else ""
    key_kind = {"AKIA": "long-term", "ASIA": "temporary"}.get(key_id[:4])
    return EksToken(
        host=parts.hostname,
        region=region,
        signed_at=signed_at,
        url_expires_seconds=int(expires) if expires and expires.isdigit() else None,
        signed_headers=tuple(h for h in query.get("x-amz-signedheaders", "").lower().split(";") if h),
        key_kind=key_kind,
        action=query.get("action"),
    )


def eks_cluster_argument(args: Sequence[str]) -> str | None:
    """The cluster an exec plugin signs for: `aws eks get-token --cluster-name X` / authenticator `-i X`."""
    names = ("--cluster-name", "--cluster-id", "-i")
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def eks_server_region(server: str) -> str | None:
    """The region of an EKS endpoint (https://ID.gr7.REGION.eks.amazonaws.com), else None."""
    host = (urlsplit(server if "://" in server else f"https://{server}").hostname or "").lower()
    labels = host.split(".")
    if len(labels) >= 5 and labels[-3:] == ["eks", "amazonaws", "com"]:
        return labels[-4]
    if len(labels) >= 6 and labels[-4:] == ["eks", "amazonaws", "com", "cn"]:
        return labels[-5]
    return None


@dataclass(frozen=True)
class EksJudgement:
    status: Verdict
    summary: str
    hint: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def judge_eks_token(
    token: EksToken, now: datetime, *, cluster_arg: str | None = None, server_region: str | None = None
) -> EksJudgement:
    """Expired, unbound to a cluster, or signed in another region than the cluster's: each a finding."""
    details = {"eks": token.to_dict(), "cluster_argument": cluster_arg}
    who = (
        f"EKS token (STS {token.region or token.host}"
        + (f", cluster {cluster_arg}" if cluster_arg else "")
        + ")"
    )
    relogin = (
        "Get a fresh one: `aws eks get-token --cluster-name CLUSTER` (or let the exec plugin run again)."
    )
    if token.action and token.action.lower() != "getcalleridentity":
        return EksJudgement(
            "fail",
            f"{who}: the presigned URL calls {token.action}, not GetCallerIdentity: the apiserver rejects it",
            "Use the token `aws eks get-token` prints, unmodified.",
            details,
        )
    if not token.cluster_id_signed:
        return EksJudgement(
            "fail",
            f"{who}: the {CLUSTER_ID_HEADER} header is not among the signed headers, so the token is bound to no "
            "cluster and aws-iam-authenticator rejects it",
            "Generate it for the cluster: `aws eks get-token --cluster-name CLUSTER` (or "
            "`aws-iam-authenticator token -i CLUSTER`).",
            details,
        )
    if server_region and token.region and token.region != server_region and token.region != "us-east-1":
        details["server_region"] = server_region
        return EksJudgement(
            "warn",
            f"{who}: signed for STS in {token.region}, the cluster is in {server_region}",
            "Pass the cluster's region: `aws eks get-token --cluster-name CLUSTER --region "
            f"{server_region}` (the kubeconfig's exec args or AWS_REGION).",
            details,
        )
    if token.valid_until is not None and token.valid_until <= now:
        ago = now - token.valid_until
        return EksJudgement(
            "fail",
            f"{who} signed at {_iso(token.signed_at)} expired at {_iso(token.valid_until)} "
            f"({int(ago.total_seconds() // 60)} min ago; EKS tokens live 15 minutes)",
            relogin + " A static token: in the kubeconfig goes stale: use the exec plugin instead.",
            details,
        )
    if token.signed_at is not None and token.signed_at > now + timedelta(minutes=5):
        return EksJudgement(
            "fail",
            f"{who} is signed at {_iso(token.signed_at)}, in the future: this machine's clock and AWS's disagree",
            "Synchronise this machine's clock (`timedatectl set-ntp true`).",
            details,
        )
    left = (token.valid_until - now) if token.valid_until else None
    tail = (
        f", valid until {_iso(token.valid_until)} ({int(left.total_seconds() // 60)} min left)"
        if left
        else ""
    )
    kind = f", {token.key_kind} AWS credentials" if token.key_kind else ""
    bound = f", bound to cluster {cluster_arg}" if cluster_arg else f", {CLUSTER_ID_HEADER} signed"
    return EksJudgement(
        "pass", f"EKS token for STS {token.region or token.host}{bound}{kind}{tail}", details=details
    )


def judge_token_against_server_clock(
    exp: datetime | None, server_now: datetime | None, local_now: datetime
) -> str | None:
    """When a token is valid by this machine's clock but expired by the apiserver's, why (else None).

    The apiserver checks `exp` against its own clock; a skew hides the expiry from a local check.
    """
    if exp is None or server_now is None or exp <= local_now:
        return None
    if exp <= server_now:
        return (
            f"the token expires at {_iso(exp)}: still valid by this machine's clock, but the apiserver's clock "
            f"({_iso(server_now)}) is past it, so the apiserver rejects it"
        )
    return None


@dataclass(frozen=True)
class ProviderMigration:
    provider: str
    plugin: str
    installed_at: str | None
    install: str
    migrate: str

    def words(self) -> str:
        where = f"installed at {self.installed_at}" if self.installed_at else "not installed on PATH"
        return f"its replacement {self.plugin} is {where}"

    def hint(self) -> str:
        if self.installed_at:
            return f"Switch to the {self.plugin} exec plugin: {self.migrate}."
        return f"Switch to the {self.plugin} exec plugin: install it ({self.install}), then {self.migrate}."


def removed_provider_migration(provider: str, which: Callable[[str], str | None]) -> ProviderMigration | None:
    """The exec plugin that replaces a removed auth-provider (gcp, azure), and whether it is installed."""
    if provider == "gcp":
        return ProviderMigration(
            "gcp",
            "gke-gcloud-auth-plugin",
            which("gke-gcloud-auth-plugin"),
            "`gcloud components install gke-gcloud-auth-plugin`, or the google-cloud-cli-gke-gcloud-auth-plugin "
            "package",
            "`gcloud container clusters get-credentials CLUSTER --region REGION` rewrites the user entry",
        )
    if provider == "azure":
        return ProviderMigration(
            "azure",
            "kubelogin",
            which("kubelogin"),
            "`az aks install-cli`, or https://github.com/Azure/kubelogin/releases",
            "`kubelogin convert-kubeconfig -l azurecli` rewrites the user entry",
        )
    return None


@dataclass(frozen=True)
class OidcState:
    """The oidc auth-provider's id-token as client-go sees it before sending a request."""

    usable: bool
    refreshable: bool
    words: str
    expires_at: datetime | None = None


def oidc_id_token_state(config: Mapping[str, str], now: datetime) -> OidcState:
    """Whether kubectl would send the configured id-token, refresh it at the IdP, or fail."""

    token = config.get("id-token", "")
    issuer = config.get("idp-issuer-url") or "the identity provider"
    refresh = bool(config.get("refresh-token"))
    claims = decode(token) if token else None
    if claims is None:
        if refresh:
            return OidcState(
                False,
                True,
                f"no usable id-token: kubectl would get one from {issuer} with the refresh-token "
                "(kdoctor does not contact identity providers)",
            )
        what = "no id-token" if not token else "an id-token that is not a JWT"
        return OidcState(False, False, f"the oidc auth-provider has {what} and no refresh-token to get one")
    if claims.exp is not None and claims.exp <= now:
        if refresh:
            return OidcState(
                False,
                True,
                f"the id-token expired at {_iso(claims.exp)}; kubectl would refresh it at {issuer} with the "
                "refresh-token (kdoctor does not contact identity providers)",
                claims.exp,
            )
        return OidcState(
            False,
            False,
            f"the id-token expired at {_iso(claims.exp)} and there is no refresh-token",
            claims.exp,
        )
    return OidcState(True, False, "the id-token is valid", claims.exp)


def oidc_claim_problems(claims: Any, config: Mapping[str, str]) -> list[str]:
    """Where an id-token disagrees with its auth-provider config: issuer and audience (client-id)."""
    problems = []
    issuer = config.get("idp-issuer-url")
    if issuer and claims.iss and claims.iss.rstrip("/") != issuer.rstrip("/"):
        problems.append(f"its issuer {claims.iss} is not the configured idp-issuer-url {issuer}")
    client_id = config.get("client-id")
    if client_id and claims.aud and client_id not in claims.aud:
        problems.append(f"its audience {', '.join(claims.aud)} does not include the client-id {client_id}")
    return problems
