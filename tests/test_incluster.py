"""In-cluster mode: detection, the service-account files, KUBERNETES_SERVICE_HOST/PORT, and the incluster.* checks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from kdoctor_checks import incluster

from kdoctor.access import ACCESS, AccessUnavailable
from kdoctor.api import Check, Mode, Result, Status, run_check
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.emulator.pki import ServiceAccountKeys, make_ca, make_leaf
from kdoctor.incluster import (
    IN_CLUSTER_ACCESS,
    detect,
    read_env,
)
from tests.lab.dnsserver import dns_server

__all__ = ["dns_server"]

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ENV = {
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
}


@pytest.fixture(scope="module")
def keys() -> ServiceAccountKeys:
    return ServiceAccountKeys()


@pytest.fixture(scope="module")
def cluster_ca() -> Any:
    return make_ca("kubernetes")


def bound_token(
    keys: ServiceAccountKeys,
    *,
    iat: datetime = NOW,
    ttl: timedelta = timedelta(hours=1),
    namespace: str = "team-a",
    name: str = "doctor",
    aud: tuple[str, ...] = ("https://kubernetes.default.svc",),
    nbf: datetime | None = None,
) -> str:
    claims = {
        "aud": list(aud),
        "exp": int((iat + ttl).timestamp()),
        "iat": int(iat.timestamp()),
        "nbf": int((nbf or iat).timestamp()),
        "iss": "https://kubernetes.default.svc",
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": "u-1"},
            "pod": {"name": "kdoctor-x", "uid": "p-1"},
        },
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    return keys.sign(claims)


def make_sa_dir(
    path: Path, *, token: str | None, ca_pem: bytes | None, namespace: str | None = "team-a"
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if token is not None:
        (path / "token").write_text(token)
    if ca_pem is not None:
        (path / "ca.crt").write_bytes(ca_pem)
    if namespace is not None:
        (path / "namespace").write_text(namespace)
    return path


def make_ctx(tmp_path: Path, sa_dir: Path, env: dict[str, str] | None = None, now: datetime = NOW) -> Context:
    return Context(
        options=Options(
            serviceaccount_dir=str(sa_dir), resolv_conf=str(tmp_path / "resolv.conf"), timeout=1.0
        ),
        environment=Environment(env=ENV if env is None else env, home=tmp_path, now=lambda: now),
        target=Target(Mode.IN_CLUSTER),
    )


def run_checks(ctx: Context, *checks: type[Check]) -> dict[str, Result]:
    async def go() -> dict[str, Result]:
        results = await asyncio.gather(*(run_check(c(), ctx) for c in checks))
        return {c.id: r for c, r in zip(checks, results, strict=True)}

    return asyncio.run(go())


@pytest.fixture
def sa(tmp_path: Path, keys: ServiceAccountKeys, cluster_ca: Any) -> Callable[..., Path]:
    counter = iter(range(100))

    def make(**kwargs: Any) -> Path:
        kwargs.setdefault("token", bound_token(keys))
        kwargs.setdefault("ca_pem", cluster_ca.cert_pem)
        return make_sa_dir(tmp_path / f"sa{next(counter)}", **kwargs)

    return make


# --- detection and the environment ---------------------------------------------------------------


def test_detect(tmp_path: Path) -> None:
    sa_dir = tmp_path / "sa"
    sa_dir.mkdir()
    env = Environment(env=ENV, home=tmp_path)
    assert detect(Options(serviceaccount_dir=str(sa_dir)), env) is True
    assert detect(Options(serviceaccount_dir=str(tmp_path / "absent")), env) is False
    assert detect(Options(serviceaccount_dir=str(sa_dir)), Environment(env={}, home=tmp_path)) is False
    assert detect(Options(serviceaccount_dir=str(tmp_path / "absent"), in_cluster=True), env) is True
    assert detect(Options(serviceaccount_dir=str(sa_dir), in_cluster=False), env) is False


@pytest.mark.parametrize(
    ("host", "port", "server", "problem"),
    [
        ("10.96.0.1", "443", "https://10.96.0.1:443", None),
        ("fd00:10:96::1", "443", "https://[fd00:10:96::1]:443", None),
        ("api.internal.example", "6443", "https://api.internal.example:6443", None),
        (None, "443", None, "KUBERNETES_SERVICE_HOST is not set"),
        ("10.96.0.1", None, None, "KUBERNETES_SERVICE_PORT is not set"),
        ("10.96.0.1", "https", None, "is not a port number"),
        ("10.96.0.1", "70000", None, "is not a port number"),
        ("[fd00::1]", "443", None, "neither an IP address nor a host name"),
        ("10.96.0.1 ", "443", None, "surrounding whitespace"),
    ],
)
def test_read_env(host: str | None, port: str | None, server: str | None, problem: str | None) -> None:
    env = {
        k: v
        for k, v in (("KUBERNETES_SERVICE_HOST", host), ("KUBERNETES_SERVICE_PORT", port))
        if v is not None
    }
    facts = read_env(env)
    assert facts.server == server
    if problem is None:
        assert facts.problems == ()
    else:
        assert any(problem in p for p in facts.problems), facts.problems


def test_env_check(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, tmp_path)
    result = run_checks(ctx, incluster.Env)["incluster.env"]
    assert result.status is Status.PASS and result.summary.endswith("→ https://10.96.0.1:443")
    result = run_checks(make_ctx(tmp_path, tmp_path, env={}), incluster.Env)["incluster.env"]
    assert result.status is Status.FAIL and "KUBERNETES_SERVICE_HOST is not set" in result.summary
    mismatch = {**ENV, "KUBERNETES_SERVICE_PORT": "6443"}
    result = run_checks(make_ctx(tmp_path, tmp_path, env=mismatch), incluster.Env)["incluster.env"]
    assert result.status is Status.WARN and "KUBERNETES_SERVICE_PORT_HTTPS=443" in result.summary
    named = {"KUBERNETES_SERVICE_HOST": "api.example", "KUBERNETES_SERVICE_PORT": "443"}
    result = run_checks(make_ctx(tmp_path, tmp_path, env=named), incluster.Env)["incluster.env"]
    assert result.status is Status.WARN and "DNS name" in result.summary


# --- the access spec -----------------------------------------------------------------------------


def test_access_spec_from_pod_files(
    tmp_path: Path, sa: Callable[..., Path], keys: ServiceAccountKeys, cluster_ca: Any
) -> None:
    token = bound_token(keys)
    sa_dir = sa(token=token)
    ctx = make_ctx(
        tmp_path, sa_dir, env={"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    )

    async def go() -> Any:
        return await ctx.probe(ACCESS)

    spec = asyncio.run(go())
    assert spec.server == "https://[fd00::1]:443"
    assert spec.ca_pem == cluster_ca.cert_pem and spec.ca_source == str(sa_dir / "ca.crt")
    assert spec.credentials.token is not None and spec.credentials.token.reveal() == token
    assert spec.credentials.methods == ["token"]
    assert token in ctx.secrets
    assert ctx.identity["cluster"] == "in-cluster"
    assert ctx.identity["user"] == "system:serviceaccount:team-a:doctor"
    assert ctx.identity["server"] == "https://[fd00::1]:443"
    assert ctx.identity["config"]["namespace"] == "team-a"
    assert token not in json.dumps(ctx.identity) and token not in repr(spec)


def test_access_unavailable_without_env(tmp_path: Path, sa: Callable[..., Path]) -> None:
    ctx = make_ctx(tmp_path, sa(), env={"KUBERNETES_SERVICE_PORT": "443"})

    async def go() -> Any:
        return await ctx.probe(IN_CLUSTER_ACCESS)

    with pytest.raises(AccessUnavailable, match="KUBERNETES_SERVICE_HOST is not set"):
        asyncio.run(go())


# --- token ---------------------------------------------------------------------------------------


def token_result(tmp_path: Path, sa_dir: Path, now: datetime = NOW) -> Result:
    return run_checks(make_ctx(tmp_path, sa_dir, now=now), incluster.Token)["incluster.token"]


def test_token_current(tmp_path: Path, sa: Callable[..., Path], keys: ServiceAccountKeys) -> None:
    token = bound_token(keys)
    result = token_result(tmp_path, sa(token=token))
    assert result.status is Status.PASS
    assert "system:serviceaccount:team-a:doctor" in result.summary and "expires in 60m" in result.summary
    assert "audience https://kubernetes.default.svc" in result.summary
    assert result.details["claims"]["serviceaccount"]["pod"] == "kdoctor-x"
    assert token not in json.dumps(result.details) + result.summary + result.hint


def test_token_expired_stale_and_future(
    tmp_path: Path, sa: Callable[..., Path], keys: ServiceAccountKeys
) -> None:
    expired = token_result(tmp_path, sa(token=bound_token(keys, iat=NOW - timedelta(hours=2))))
    assert (
        expired.status is Status.FAIL and "expired 60m ago" in expired.summary and "subPath" in expired.hint
    )

    # 4h token issued 3h50m ago: the kubelet should have replaced it at 3h12m.
    stale_token = bound_token(keys, iat=NOW - timedelta(hours=3, minutes=50), ttl=timedelta(hours=4))
    stale = token_result(tmp_path, sa(token=stale_token))
    assert stale.status is Status.WARN and "stale" in stale.summary

    future = token_result(tmp_path, sa(token=bound_token(keys, nbf=NOW + timedelta(hours=1))))
    assert future.status is Status.FAIL and "not valid before" in future.summary


def test_token_legacy_opaque_empty_missing(
    tmp_path: Path, sa: Callable[..., Path], keys: ServiceAccountKeys
) -> None:
    legacy_claims = {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "team-a",
        "kubernetes.io/serviceaccount/service-account.name": "doctor",
        "kubernetes.io/serviceaccount/secret.name": "doctor-token-abcde",
        "sub": "system:serviceaccount:team-a:doctor",
    }
    legacy = token_result(tmp_path, sa(token=keys.sign(legacy_claims)))
    assert legacy.status is Status.WARN and "legacy Secret-based token" in legacy.summary

    forever = token_result(
        tmp_path, sa(token=keys.sign({"iss": "someone", "sub": "system:serviceaccount:team-a:doctor"}))
    )
    assert forever.status is Status.WARN and "without expiry" in forever.summary

    opaque = token_result(tmp_path, sa(token="opaque-token-value-1234"))
    assert opaque.status is Status.WARN and "not a JWT" in opaque.summary
    assert "opaque-token-value-1234" not in opaque.summary + json.dumps(opaque.details)

    assert token_result(tmp_path, sa(token="\n")).summary.endswith("is empty")
    missing = token_result(tmp_path, sa(token=None))
    assert missing.status is Status.FAIL and "does not exist" in missing.summary
    assert "automountServiceAccountToken" in missing.hint
    no_dir = token_result(tmp_path, tmp_path / "nowhere")
    assert no_dir.status is Status.FAIL and "directory" in no_dir.summary

    unreadable = sa(token=None)
    (unreadable / "token").mkdir()  # a directory where the file should be: open() fails
    result = token_result(tmp_path, unreadable)
    assert result.status is Status.FAIL and "cannot read" in result.summary


# --- ca.crt --------------------------------------------------------------------------------------


def ca_result(tmp_path: Path, sa_dir: Path, now: datetime = NOW) -> Result:
    return run_checks(make_ctx(tmp_path, sa_dir, now=now), incluster.CA)["incluster.ca"]


def test_ca_outcomes(tmp_path: Path, sa: Callable[..., Path], cluster_ca: Any) -> None:
    good = ca_result(tmp_path, sa())
    assert good.status is Status.PASS and "CN=kubernetes" in good.summary
    assert good.details["certificates"][0]["is_ca"] is True

    leaf = make_leaf("apiserver", issuer=cluster_ca)
    not_ca = ca_result(tmp_path, sa(ca_pem=leaf.cert_pem))
    assert not_ca.status is Status.FAIL and "no CA certificate" in not_ca.summary

    old = make_ca("old-ca", not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1))
    expired = ca_result(tmp_path, sa(ca_pem=old.cert_pem))
    assert expired.status is Status.FAIL and "expired" in expired.summary

    mixed = ca_result(tmp_path, sa(ca_pem=cluster_ca.cert_pem + old.cert_pem))
    assert mixed.status is Status.WARN and "1 expired" in mixed.summary

    soon = make_ca("soon-ca", not_after=NOW + timedelta(days=5))
    expiring = ca_result(tmp_path, sa(ca_pem=soon.cert_pem))
    assert expiring.status is Status.WARN and "expires in" in expiring.summary

    garbage = ca_result(tmp_path, sa(ca_pem=b"not a certificate\n"))
    assert garbage.status is Status.FAIL and "not PEM" in garbage.summary
    missing = ca_result(tmp_path, sa(ca_pem=None))
    assert missing.status is Status.FAIL and "does not exist" in missing.summary


# --- namespace -----------------------------------------------------------------------------------


def test_namespace_outcomes(tmp_path: Path, sa: Callable[..., Path]) -> None:
    def result(sa_dir: Path) -> Result:
        return run_checks(make_ctx(tmp_path, sa_dir), incluster.Namespace)["incluster.namespace"]

    ok = result(sa())
    assert ok.status is Status.PASS and ok.summary == "namespace team-a (matches the token)"
    mismatch = result(sa(namespace="team-b"))
    assert mismatch.status is Status.FAIL and "token is for namespace 'team-a'" in mismatch.summary
    assert result(sa(namespace="Not_A_Name")).status is Status.FAIL
    assert result(sa(namespace="")).summary.endswith("is empty")
    assert result(sa(namespace=None)).status is Status.FAIL


def test_checks_apply_only_in_cluster(tmp_path: Path) -> None:
    ctx = Context(
        options=Options(), environment=Environment(env={}, home=tmp_path), target=Target(Mode.KUBECONFIG)
    )
    for check in incluster.CHECKS:
        assert check().applies(ctx) is not None
        assert check().applies(replace(ctx, target=Target(Mode.IN_CLUSTER))) is None


def test_no_check_shows_the_token(tmp_path: Path, sa: Callable[..., Path], keys: ServiceAccountKeys) -> None:
    for token in (
        bound_token(keys),
        bound_token(keys, iat=NOW - timedelta(days=1)),
        "opaque-canary-secret-0042",
    ):
        results = run_checks(make_ctx(tmp_path, sa(token=token, namespace="other")), *incluster.CHECKS)
        assert {r.status for r in results.values()} & {Status.FAIL, Status.WARN}
        for result in results.values():
            text = result.summary + result.hint + json.dumps(result.details)
            assert token not in text
            assert token.split(".")[-1] not in text  # not even the signature
