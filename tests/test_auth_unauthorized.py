"""auth.identity's 401 judgement as a table: credential + gathered facts + time -> ranked causes.

No network: `unauthorized_causes` is pure; the facts the UNAUTHORIZED_FACTS probe would gather
(the cluster's issuer, the client certificate's CA) are written into each row.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from kdoctor_checks.auth import unauthorized_causes

from kdoctor.api import ExecEntry, ResolvedCredential, UnauthorizedFacts
from kdoctor.emulator.pki import make_ca, make_client_cert
from kdoctor.redact import Secret

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
CANARY_PASSWORD = "canary-password-4d3c2b1a"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _jwt(**claims: Any) -> str:
    """An unsigned JWS: the judgement reads claims, it never verifies signatures."""

    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'RS256', 'typ': 'JWT'})}.{segment(claims)}.c2ln"


def _ts(delta: timedelta) -> int:
    return int((NOW + delta).timestamp())


_SA = {"kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "deployer", "uid": "u"}}}
_CA = make_ca("cluster-ca")
_CLIENT = make_client_cert(_CA, "jane", ["devs"])
_OLD_CLIENT = make_client_cert(
    _CA, "old", not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1)
)


def _token(token: str, kind: str = "token") -> ResolvedCredential:
    return ResolvedCredential(kind=kind, bearer=Secret(token), source="the token setting")


def _cert(pem: bytes, key: bytes) -> ResolvedCredential:
    return ResolvedCredential(
        kind="client-certificate",
        client_cert_pem=pem,
        client_key_pem=Secret(key.decode()),
        source="kubeconfig",
    )


@dataclass(frozen=True)
class Row:
    name: str
    cred: ResolvedCredential
    #: (cause prefix, likely, certain) of every cause, in order
    expected: list[tuple[str, bool, bool]]
    facts: UnauthorizedFacts = field(default_factory=UnauthorizedFacts)
    #: text the first likely cause's evidence or fix must contain
    mentions: tuple[str, ...] = ()
    exec_entry: ExecEntry | None = None


ROWS = [
    Row(
        "basic-auth is certain",
        ResolvedCredential(
            kind="basic", basic=("admin", Secret(CANARY_PASSWORD)), source="username/password"
        ),
        [("basic-auth is not supported", True, True)],
        mentions=("set-credentials alice",),
    ),
    Row(
        "opaque token: expiry and another cluster both likely",
        _token("opaque-token-value"),
        [
            ("the token expired or was revoked", True, False),
            ("the token belongs to another cluster", True, False),
        ],
        mentions=("opaque token",),
    ),
    Row(
        "expired JWT is certain",
        _token(_jwt(iss=ISSUER, exp=_ts(-timedelta(hours=1)), **_SA)),
        [
            ("the token expired", True, True),
            ("the token was issued for another cluster", False, False),
            ("the service account", True, False),
        ],
        facts=UnauthorizedFacts(cluster_issuer=ISSUER, issuer_asked=True),
        mentions=("kubectl create token deployer -n ci",),
    ),
    Row(
        "valid JWT from another issuer",
        _token(_jwt(iss="https://other.example", exp=_ts(timedelta(hours=1)))),
        [("the token expired", False, False), ("the token was issued for another cluster", True, False)],
        facts=UnauthorizedFacts(cluster_issuer=ISSUER, issuer_asked=True),
        mentions=("https://other.example", ISSUER),
    ),
    Row(
        "valid JWT, the cluster does not publish its issuer",
        _token(_jwt(iss=ISSUER, aud=["api"], exp=_ts(timedelta(hours=1)))),
        [("the token expired", False, False), ("the token was issued for another cluster (or", True, False)],
        facts=UnauthorizedFacts(issuer_asked=True),
        mentions=("openid-configuration",),
    ),
    Row(
        "JWT without exp from an exec plugin: the fix is the plugin's login",
        _token(_jwt(iss=ISSUER), kind="exec-token"),
        [("the token expired", False, False), ("the token was issued for another cluster", False, False)],
        facts=UnauthorizedFacts(cluster_issuer=ISSUER, issuer_asked=True),
        mentions=("no exp claim",),
    ),
    Row(
        "client certificate signed by the cluster CA: nothing likely",
        _cert(_CLIENT.cert_pem, _CLIENT.key_pem),
        [
            ("the client certificate expired", False, False),
            ("the client certificate was issued by another CA", False, False),
        ],
        facts=UnauthorizedFacts(client_ca_subject="CN=cluster-ca", signed_by_cluster_ca=True),
    ),
    Row(
        "client certificate from another CA",
        _cert(_CLIENT.cert_pem, _CLIENT.key_pem),
        [
            ("the client certificate expired", False, False),
            ("the client certificate was issued by another CA", True, False),
        ],
        facts=UnauthorizedFacts(client_ca_subject="CN=other-ca"),
        mentions=("not signed by the kubeconfig's CA (CN=other-ca)",),
    ),
    Row(
        "client certificate, no CA to compare with",
        _cert(_CLIENT.cert_pem, _CLIENT.key_pem),
        [
            ("the client certificate expired", False, False),
            ("the client certificate was issued by another CA", True, False),
        ],
        mentions=("names no cluster CA",),
    ),
    Row(
        "expired client certificate is certain",
        _cert(_OLD_CLIENT.cert_pem, _OLD_CLIENT.key_pem),
        [
            ("the client certificate expired", True, True),
            ("the client certificate was issued by another CA", False, False),
        ],
        facts=UnauthorizedFacts(client_ca_subject="CN=cluster-ca", signed_by_cluster_ca=True),
        mentions=("notAfter",),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_unauthorized_causes(row: Row) -> None:
    causes = unauthorized_causes(row.cred, row.facts, now=NOW, kube_user="alice", exec_entry=row.exec_entry)
    got = [(c["cause"], c["likely"], c["certain"]) for c in causes]
    assert len(got) == len(row.expected), got
    for (cause, likely, certain), (prefix, want_likely, want_certain) in zip(got, row.expected, strict=True):
        assert cause.startswith(prefix), (cause, prefix)
        assert (likely, certain) == (want_likely, want_certain), cause
    text = json.dumps(causes)
    for needle in row.mentions:
        assert needle in text, (needle, text)
    assert CANARY_PASSWORD not in text


def test_unauthorized_causes_exec_token_points_at_the_plugin_login() -> None:
    entry = ExecEntry(
        api_version="client.authentication.k8s.io/v1",
        command="aws",
        command_as_written="aws",
        args=("eks", "get-token"),
    )
    causes = unauthorized_causes(
        _token("opaque-token-value", kind="exec-token"),
        UnauthorizedFacts(),
        now=NOW,
        exec_entry=entry,
    )
    assert "`aws eks get-token`" in causes[0]["fix"]
