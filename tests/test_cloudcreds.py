"""Cloud credentials (kdoctor.cloudcreds): EKS tokens read without showing them, the removed auth-providers'
replacements, a token the apiserver's clock already expired; table tests, then through the checks against
the emulator and against kubeconfigs."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kdoctor.api import Status
from kdoctor.cloudcreds import (
    decode_eks_token,
    eks_cluster_argument,
    eks_server_region,
    judge_eks_token,
    judge_token_against_server_clock,
    oidc_claim_problems,
    oidc_id_token_state,
    removed_provider_migration,
)
from kdoctor.emulator.scenarios import UserInfo
from tests.fixtures.kubeconfigs.factory import kubeconfig, write
from tests.fixtures.kubeconfigs.harness import run_kubeconfig_checks
from tests.test_apiserver_checks import run_checks

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
SIGNATURE = "5e7a11c0ffee" * 5 + "abcd"


def eks_token(
    signed_at: datetime = NOW - timedelta(minutes=2),
    *,
    region: str = "eu-west-1",
    headers: str = "host;x-k8s-aws-id",
    key: str = "ASIAEXAMPLEKEY123456",
    action: str = "GetCallerIdentity",
    signature: str = SIGNATURE,
) -> str:
    """An EKS token: k8s-aws-v1. + a presigned STS URL (tests/test_secrets_canary.py makes its canary one here)."""
    url = (
        f"https://sts.{region}.amazonaws.com/?Action={action}&Version=2011-06-15"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={key}%2F{signed_at:%Y%m%d}%2F{region}%2Fsts%2Faws4_request"
        f"&X-Amz-Date={signed_at:%Y%m%dT%H%M%SZ}&X-Amz-Expires=60"
        f"&X-Amz-SignedHeaders={headers.replace(';', '%3B')}&X-Amz-Signature={signature}"
    )
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def test_decode_eks_token() -> None:
    token = decode_eks_token(eks_token())
    assert token is not None
    assert (token.region, token.host, token.key_kind) == (
        "eu-west-1",
        "sts.eu-west-1.amazonaws.com",
        "temporary",
    )
    assert token.cluster_id_signed
    assert token.signed_at == NOW - timedelta(minutes=2)
    assert token.valid_until == NOW + timedelta(minutes=13)
    shown = json.dumps(token.to_dict())
    assert SIGNATURE not in shown and "ASIAEXAMPLEKEY" not in shown
    assert decode_eks_token(eks_token(key="AKIAEXAMPLE")).key_kind == "long-term"  # type: ignore[union-attr]
    for junk in (
        "k8s-aws-v1.!!!",
        "k8s-aws-v1." + base64.urlsafe_b64encode(b"ftp://x").decode(),
        "eyJhbGciOi",
        "",
    ):
        assert decode_eks_token(junk) is None


@pytest.mark.parametrize(
    ("token", "status", "words"),
    [
        (eks_token(), "pass", "EKS token for STS eu-west-1, bound to cluster prod"),
        (eks_token(NOW - timedelta(minutes=40)), "fail", "expired at 2026-12-06T11:35:00Z (25 min ago"),
        (eks_token(headers="host"), "fail", "x-k8s-aws-id header is not among the signed headers"),
        (eks_token(action="AssumeRole"), "fail", "not GetCallerIdentity"),
        (eks_token(NOW + timedelta(hours=1)), "fail", "in the future"),
    ],
)
def test_judge_eks_token(token: str, status: str, words: str) -> None:
    decoded = decode_eks_token(token)
    assert decoded is not None
    verdict = judge_eks_token(decoded, NOW, cluster_arg="prod")
    assert verdict.status == status
    assert words in verdict.summary


def test_region_mismatch_is_named() -> None:
    decoded = decode_eks_token(eks_token(region="eu-west-1"))
    assert decoded is not None
    verdict = judge_eks_token(decoded, NOW, server_region="us-west-2")
    assert verdict.status == "warn" and "--region us-west-2" in verdict.hint


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("eks", "get-token", "--cluster-name", "prod"), "prod"),
        (("eks", "get-token", "--cluster-name=prod", "--region", "x"), "prod"),
        (("token", "-i", "prod"), "prod"),
        (("eks", "get-token"), None),
    ],
)
def test_eks_cluster_argument(args: tuple[str, ...], expected: str | None) -> None:
    assert eks_cluster_argument(args) == expected


def test_server_clock_expiry() -> None:
    exp = NOW + timedelta(minutes=5)
    assert judge_token_against_server_clock(exp, NOW + timedelta(minutes=10), NOW) is not None
    assert judge_token_against_server_clock(exp, NOW + timedelta(minutes=1), NOW) is None
    assert judge_token_against_server_clock(None, NOW, NOW) is None


def test_removed_provider_migration() -> None:
    installed = removed_provider_migration("azure", lambda name: f"/opt/bin/{name}")
    assert installed is not None
    assert installed.words() == "its replacement kubelogin is installed at /opt/bin/kubelogin"
    assert installed.hint().startswith(
        "Switch to the kubelogin exec plugin: `kubelogin convert-kubeconfig -l azurecli`"
    )
    missing = removed_provider_migration("gcp", lambda name: None)
    assert missing is not None and "not installed on PATH" in missing.words()
    assert "gcloud components install gke-gcloud-auth-plugin" in missing.hint()
    assert removed_provider_migration("oidc", lambda name: None) is None


def test_azure_provider_names_the_installed_kubelogin(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    plugin = bin_dir / "kubelogin"
    plugin.write_text("#!/bin/sh\nexit 0\n")
    plugin.chmod(0o755)
    path = write(
        tmp_path / "config",
        kubeconfig(server="https://127.0.0.1:6443", user={"auth-provider": {"name": "azure", "config": {}}}),
    )
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path), env={"PATH": str(bin_dir)}).results[
        "kubeconfig.credentials"
    ]
    assert result.status is Status.FAIL
    assert f"its replacement kubelogin is installed at {plugin}" in result.summary
    assert "kubelogin convert-kubeconfig -l azurecli" in result.hint
    assert result.details["replacement_installed"] == str(plugin)


def test_eks_token_through_auth_token(emulator: EmulatorFactory, tmp_path: Path) -> None:
    """The emulator accepts the token (as EKS would while it is fresh); auth.token reads it, never shows it."""
    fresh = eks_token(datetime.now(timezone.utc) - timedelta(minutes=1))
    api = emulator(
        "healthy", tokens={fresh: UserInfo("arn:aws:iam::111122223333:role/dev", ("system:authenticated",))}
    )
    run = run_checks(api.write_kubeconfig(tmp_path / "config", token=fresh), tmp_path)
    token = run["auth.token"]
    assert token.status is Status.PASS, token.summary
    assert token.summary.startswith(
        "EKS token for STS eu-west-1, x-k8s-aws-id signed, temporary AWS credentials"
    )
    assert SIGNATURE not in json.dumps(token.details) and fresh not in run.text()


def test_expired_eks_token_is_the_finding(emulator: EmulatorFactory, tmp_path: Path) -> None:
    stale = eks_token(datetime.now(timezone.utc) - timedelta(hours=2))
    api = emulator("healthy")
    run = run_checks(api.write_kubeconfig(tmp_path / "config", token=stale), tmp_path)
    token = run["auth.token"]
    assert token.status is Status.FAIL
    assert "EKS tokens live 15 minutes" in token.summary
    assert "aws eks get-token" in token.hint
    assert stale not in run.text()


def _jwt(**claims: object) -> str:
    def part(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.{part('oidc-signature-canary')}"


@pytest.mark.parametrize(
    ("config", "usable", "refreshable", "words"),
    [
        ({"id-token": _jwt(exp=int((NOW + timedelta(hours=1)).timestamp()))}, True, False, "valid"),
        (
            {
                "id-token": _jwt(exp=int((NOW - timedelta(hours=1)).timestamp())),
                "refresh-token": "r",
                "idp-issuer-url": "https://idp.example",
            },
            False,
            True,
            "kubectl would refresh it at https://idp.example",
        ),
        (
            {"id-token": _jwt(exp=int((NOW - timedelta(hours=1)).timestamp()))},
            False,
            False,
            "no refresh-token",
        ),
        ({"refresh-token": "r"}, False, True, "no usable id-token"),
        ({}, False, False, "no id-token and no refresh-token"),
    ],
)
def test_oidc_id_token_state(config: dict[str, str], usable: bool, refreshable: bool, words: str) -> None:
    state = oidc_id_token_state(config, NOW)
    assert (state.usable, state.refreshable) == (usable, refreshable)
    assert words in state.words


def test_oidc_claim_problems() -> None:
    from kdoctor.jwt import decode

    claims = decode(_jwt(iss="https://other.example", aud="kubectl", sub="jane"))
    assert claims is not None
    config = {"idp-issuer-url": "https://idp.example/", "client-id": "kubernetes"}
    assert oidc_claim_problems(claims, config) == [
        "its issuer https://other.example is not the configured idp-issuer-url https://idp.example/",
        "its audience kubectl does not include the client-id kubernetes",
    ]
    assert (
        oidc_claim_problems(claims, {"idp-issuer-url": "https://other.example/", "client-id": "kubectl"})
        == []
    )


def _oidc_kubeconfig(api: object, path: Path, config: dict[str, str]) -> Path:
    import yaml

    written = api.write_kubeconfig(path, user="none")  # type: ignore[attr-defined]
    doc = yaml.safe_load(written.read_text())
    doc["users"][0]["user"] = {"auth-provider": {"name": "oidc", "config": config}}
    written.write_text(yaml.safe_dump(doc))
    return Path(written)


def test_oidc_id_token_is_sent_and_judged(emulator: EmulatorFactory, tmp_path: Path) -> None:
    exp = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())
    id_token = _jwt(iss="https://idp.example", aud="kubernetes", sub="jane@example.com", exp=exp)
    api = emulator("healthy", tokens={id_token: UserInfo("oidc:jane@example.com", ("system:authenticated",))})
    config = {"idp-issuer-url": "https://idp.example", "client-id": "kubernetes", "id-token": id_token,
              "refresh-token": "oidc-refresh-canary"}  # fmt: skip
    run = run_checks(_oidc_kubeconfig(api, tmp_path / "config", config), tmp_path)
    assert run["auth.credential"].status is Status.PASS, run["auth.credential"].summary
    token = run["auth.token"]
    assert token.status is Status.PASS
    assert "JWT for jane@example.com, issuer https://idp.example, audience kubernetes" in token.summary
    identity = run["auth.identity"]
    assert "the token's JWT subject claims jane@example.com, the server maps it to oidc:jane@example.com" in (
        identity.summary
    )
    text = run.text()
    assert id_token not in text and "oidc-refresh-canary" not in text


def test_expired_oidc_id_token_with_refresh_token_is_not_a_failure(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    exp = int((datetime.now(timezone.utc) - timedelta(hours=1)).timestamp())
    config = {"idp-issuer-url": "https://idp.example", "client-id": "kubernetes",
              "id-token": _jwt(iss="https://idp.example", exp=exp), "refresh-token": "oidc-refresh-canary"}  # fmt: skip
    api = emulator("healthy")
    credential = run_checks(_oidc_kubeconfig(api, tmp_path / "config", config), tmp_path)["auth.credential"]
    assert credential.status is Status.SKIP
    assert "kubectl would refresh it at https://idp.example" in credential.summary


@pytest.mark.parametrize(
    ("server", "region"),
    [
        ("https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com", "eu-west-1"),
        ("https://abc.yl4.cn-north-1.eks.amazonaws.com.cn", "cn-north-1"),
        ("https://127.0.0.1:6443", None),
        ("https://eks.amazonaws.com", None),
    ],
)
def test_eks_server_region(server: str, region: str | None) -> None:
    assert eks_server_region(server) == region
