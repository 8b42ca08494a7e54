"""Reading a bearer token's JWT claims without verifying its signature.

kdoctor never trusts these claims: it reads them to explain what the apiserver will decide (an
expired token, a token minted for another cluster, a legacy secret-based service-account token).
Anything that is not a well-formed JWT is an opaque token: `decode` returns None, never raises.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kdoctor.timefmt import iso_utc

__all__ = ["LEGACY_SA_ISSUER", "JwtClaims", "ServiceAccountClaims", "decode"]

#: The `iss` of tokens minted by the token controller into kubernetes.io/service-account-token Secrets.
LEGACY_SA_ISSUER = "kubernetes/serviceaccount"
_LEGACY_PREFIX = "kubernetes.io/serviceaccount/"
# A JWT is small; a multi-megabyte "token" is junk and not worth decoding.
_MAX_TOKEN_LEN = 64 * 1024


@dataclass(frozen=True)
class ServiceAccountClaims:
    """Who a service-account token speaks for, from the bound (`kubernetes.io`) or legacy claims."""

    namespace: str | None
    name: str | None
    uid: str | None = None
    pod_name: str | None = None
    pod_uid: str | None = None
    secret_name: str | None = None  # legacy tokens only: the Secret that holds the token
    legacy: bool = False

    @property
    def username(self) -> str | None:
        """The username the apiserver gives this service account."""
        if self.namespace and self.name:
            return f"system:serviceaccount:{self.namespace}:{self.name}"
        return None


@dataclass(frozen=True)
class JwtClaims:
    """The header and registered claims of a JWT, read without verification."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any] = field(repr=False)
    iss: str | None = None
    sub: str | None = None
    aud: tuple[str, ...] = ()
    exp: datetime | None = None
    nbf: datetime | None = None
    iat: datetime | None = None
    service_account: ServiceAccountClaims | None = None

    @property
    def algorithm(self) -> str | None:
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else None

    @property
    def is_legacy_service_account(self) -> bool:
        """A token from a service-account-token Secret: no expiry, valid until the Secret goes."""
        return self.service_account is not None and self.service_account.legacy

    def summary_claims(self) -> dict[str, Any]:
        """The claims worth showing in a report (no signature, nothing secret)."""
        out: dict[str, Any] = {}
        for key in ("iss", "sub"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.aud:
            out["aud"] = list(self.aud)
        for key in ("exp", "nbf", "iat"):
            value = getattr(self, key)
            if value is not None:
                out[key] = iso_utc(value)
        sa = self.service_account
        if sa is not None:
            out["serviceaccount"] = {
                k: v
                for k, v in (
                    ("namespace", sa.namespace),
                    ("name", sa.name),
                    ("pod", sa.pod_name),
                    ("secret", sa.secret_name),
                    ("legacy", sa.legacy),
                )
                if v is not None
            }
        return out


def decode(token: str) -> JwtClaims | None:
    """The claims of `token` if it is a JWT (JWS compact form), else None. Never raises."""
    try:
        return _decode(token)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError, RecursionError):
        return None


def _decode(token: str) -> JwtClaims | None:
    token = token.strip()
    if len(token) > _MAX_TOKEN_LEN:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    header = _json_segment(parts[0])
    claims = _json_segment(parts[1])
    if header is None or claims is None:
        return None
    # Every JWS header names its algorithm; JSON objects that lack one are not JWTs.
    if not isinstance(header.get("alg"), str):
        return None
    return JwtClaims(
        header=header,
        claims=claims,
        iss=_str(claims.get("iss")),
        sub=_str(claims.get("sub")),
        aud=_audiences(claims.get("aud")),
        exp=_numeric_date(claims.get("exp")),
        nbf=_numeric_date(claims.get("nbf")),
        iat=_numeric_date(claims.get("iat")),
        service_account=_service_account(claims),
    )


def _json_segment(segment: str) -> dict[str, Any] | None:
    if not all(c.isalnum() or c in "-_=" for c in segment):
        return None
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    value = json.loads(raw.decode("utf-8"))
    return value if isinstance(value, dict) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _audiences(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _numeric_date(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        # A date past year 9999 is junk, not a reason to call the whole token opaque.
        return None


def _service_account(claims: Mapping[str, Any]) -> ServiceAccountClaims | None:
    bound = claims.get("kubernetes.io")
    if isinstance(bound, dict):
        sa = bound.get("serviceaccount")
        pod = bound.get("pod")
        sa = sa if isinstance(sa, dict) else {}
        pod = pod if isinstance(pod, dict) else {}
        return ServiceAccountClaims(
            namespace=_str(bound.get("namespace")),
            name=_str(sa.get("name")),
            uid=_str(sa.get("uid")),
            pod_name=_str(pod.get("name")),
            pod_uid=_str(pod.get("uid")),
        )
    if any(isinstance(k, str) and k.startswith(_LEGACY_PREFIX) for k in claims):
        return ServiceAccountClaims(
            namespace=_str(claims.get(_LEGACY_PREFIX + "namespace")),
            name=_str(claims.get(_LEGACY_PREFIX + "service-account.name")),
            uid=_str(claims.get(_LEGACY_PREFIX + "service-account.uid")),
            secret_name=_str(claims.get(_LEGACY_PREFIX + "secret.name")),
            legacy=True,
        )
    return None
