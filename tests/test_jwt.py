"""JWT claims are read without verification; anything that is not a JWT is opaque (None)."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import pytest

from kdoctor.emulator.pki import ServiceAccountKeys
from kdoctor.jwt import LEGACY_SA_ISSUER, decode


def _unsigned(header: object, claims: object) -> str:
    def seg(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{seg(header)}.{seg(claims)}.c2ln"


@pytest.fixture(scope="module")
def keys() -> ServiceAccountKeys:
    return ServiceAccountKeys()


def test_bound_service_account_token(keys: ServiceAccountKeys) -> None:
    now = int(time.time())
    token = keys.sign(
        {
            "iss": "https://kubernetes.default.svc.cluster.local",
            "aud": ["https://kubernetes.default.svc.cluster.local", "other"],
            "sub": "system:serviceaccount:team-a:builder",
            "exp": now + 3600,
            "nbf": now - 10,
            "iat": now - 10,
            "kubernetes.io": {
                "namespace": "team-a",
                "serviceaccount": {"name": "builder", "uid": "u-1"},
                "pod": {"name": "builder-7d9", "uid": "p-1"},
            },
        }
    )
    claims = decode(token)
    assert claims is not None
    assert claims.algorithm == "RS256"
    assert claims.iss == "https://kubernetes.default.svc.cluster.local"
    assert claims.aud == ("https://kubernetes.default.svc.cluster.local", "other")
    assert claims.exp == datetime.fromtimestamp(now + 3600, tz=timezone.utc)
    assert claims.nbf is not None and claims.iat is not None
    sa = claims.service_account
    assert sa is not None and not sa.legacy
    assert (sa.namespace, sa.name, sa.uid, sa.pod_name) == ("team-a", "builder", "u-1", "builder-7d9")
    assert sa.username == "system:serviceaccount:team-a:builder"
    assert not claims.is_legacy_service_account
    summary = claims.summary_claims()
    assert summary["serviceaccount"] == {
        "namespace": "team-a",
        "name": "builder",
        "pod": "builder-7d9",
        "legacy": False,
    }
    assert summary["exp"].endswith("Z")
    json.dumps(summary)


def test_legacy_secret_token_has_no_expiry(keys: ServiceAccountKeys) -> None:
    token = keys.sign(
        {
            "iss": LEGACY_SA_ISSUER,
            "sub": "system:serviceaccount:default:deployer",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/secret.name": "deployer-token-x7k2p",
            "kubernetes.io/serviceaccount/service-account.name": "deployer",
            "kubernetes.io/serviceaccount/service-account.uid": "u-2",
        }
    )
    claims = decode(token)
    assert claims is not None
    assert claims.exp is None
    assert claims.is_legacy_service_account
    sa = claims.service_account
    assert sa is not None
    assert (sa.namespace, sa.name, sa.secret_name) == ("default", "deployer", "deployer-token-x7k2p")


def test_oidc_style_token_with_single_audience() -> None:
    claims = decode(
        _unsigned({"alg": "ES256", "typ": "JWT"}, {"iss": "https://idp", "aud": "kubectl", "exp": 5})
    )
    assert claims is not None
    assert claims.aud == ("kubectl",)
    assert claims.service_account is None
    assert claims.exp == datetime(1970, 1, 1, 0, 0, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abcdef0123456789",  # opaque static token
        "sha256~ZXhhbXBsZQ",  # OpenShift-style
        "a.b.c",
        "a.b",
        "....",
        "eyJ.eyJ.x",
        _unsigned(["not", "an", "object"], {"exp": 1}),
        _unsigned({"typ": "JWT"}, {"exp": 1}),  # no alg: not a JWS header
        _unsigned({"alg": "none"}, "claims are a string"),
        "eyJhbGciOiJIUzI1NiJ9.%%%%.sig",
        "eyJhbGciOiJIUzI1NiJ9." + base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".sig",
        "x" * 100_000,
    ],
)
def test_opaque_or_junk_tokens_are_none(token: str) -> None:
    assert decode(token) is None


def test_junk_claim_types_are_ignored_not_fatal() -> None:
    claims = decode(
        _unsigned(
            {"alg": "RS256"},
            {
                "exp": "tomorrow",
                "nbf": True,
                "iat": 1e300,
                "aud": [1, "ok"],
                "iss": 7,
                "kubernetes.io": {"serviceaccount": "x"},
            },
        )
    )
    assert claims is not None
    assert claims.exp is None and claims.nbf is None and claims.iat is None
    assert claims.aud == ("ok",)
    assert claims.iss is None
    assert claims.service_account is not None and claims.service_account.name is None
