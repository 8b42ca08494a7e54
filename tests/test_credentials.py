"""CREDENTIALS obtains what kubectl would send, registering every secret it meets."""

from __future__ import annotations

import os
from pathlib import Path

from kdoctor.access import Credentials
from kdoctor.context import Context
from kdoctor.credentials import CREDENTIALS, ResolvedCredential, client_cert_facts, resolve_credentials
from kdoctor.emulator.pki import make_ca, make_client_cert
from kdoctor.redact import Secret
from tests.plugins.authlab import (
    V1,
    access_with,
    exec_credential_body,
    exec_spec,
    make_ctx,
    run_async,
    seed_access,
    write_plugin,
)


def _resolve(ctx: Context, creds: Credentials) -> ResolvedCredential:
    async def go() -> ResolvedCredential:
        seed_access(ctx, access_with(creds))
        try:
            return await ctx.probe(CREDENTIALS)
        finally:
            ctx.cancel_probes()

    return run_async(go)


def test_static_token(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    cred = _resolve(ctx, Credentials(token=Secret("static-token-abcdef")))
    assert cred.kind == "token" and cred.source == "the token setting"
    assert cred.bearer == Secret("static-token-abcdef")
    assert cred.usable and cred.problem is None
    assert "static-token-abcdef" in ctx.secrets


def test_token_file_is_trimmed_like_client_go(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  \tfile-token-123456\n\n")
    ctx = make_ctx(tmp_path)
    cred = _resolve(ctx, Credentials(token_file=str(path)))
    assert cred.kind == "token"
    assert cred.bearer is not None and cred.bearer.reveal() == "file-token-123456"
    assert cred.source == f"tokenFile {path}"
    assert "file-token-123456" in ctx.secrets


def test_token_file_wins_over_token_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("file-token-123456")
    cred = _resolve(make_ctx(tmp_path), Credentials(token=Secret("inline-token"), token_file=str(path)))
    assert cred.bearer is not None and cred.bearer.reveal() == "file-token-123456"
    fallback = _resolve(
        make_ctx(tmp_path), Credentials(token=Secret("inline-token"), token_file=str(tmp_path / "gone"))
    )
    assert fallback.bearer is not None and fallback.bearer.reveal() == "inline-token"


def test_token_file_problems(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text(" \n")
    cred = _resolve(make_ctx(tmp_path), Credentials(token_file=str(empty)))
    assert cred.kind == "none" and not cred.usable
    assert cred.problem == f'read empty token from file "{empty}"'

    missing = _resolve(make_ctx(tmp_path), Credentials(token_file=str(tmp_path / "missing")))
    assert missing.problem is not None and "cannot read tokenFile" in missing.problem
    assert "No such file" in missing.problem


def test_client_certificate(tmp_path: Path) -> None:
    ca = make_ca("test-ca")
    client = make_client_cert(ca, "jane", ["devs"])
    ctx = make_ctx(tmp_path)
    cred = _resolve(
        ctx, Credentials(client_cert_pem=client.cert_pem, client_key_pem=Secret(client.key_pem.decode()))
    )
    assert cred.kind == "client-certificate" and cred.bearer is None
    assert cred.client_cert_pem == client.cert_pem
    assert client.key_pem.decode() in ctx.secrets

    half = _resolve(make_ctx(tmp_path), Credentials(client_cert_pem=client.cert_pem))
    assert half.kind == "none" and half.problem and "client-key is missing" in half.problem


def test_client_cert_facts() -> None:
    ca = make_ca("test-ca")
    client = make_client_cert(ca, "jane", ["devs", "ops"])
    other = make_client_cert(ca, "bob")
    facts = client_cert_facts(client.cert_pem, Secret(client.key_pem.decode()))
    assert facts.common_name == "jane" and facts.organizations == ("devs", "ops")
    assert facts.issuer == "CN=test-ca"
    assert facts.key_matches is True and facts.error is None
    assert facts.sha256 == "sha256:" + client.sha256
    mismatch = client_cert_facts(client.cert_pem, Secret(other.key_pem.decode()))
    assert mismatch.key_matches is False
    junk = client_cert_facts(b"not a cert", None)
    assert junk.error is not None
    bad_key = client_cert_facts(
        client.cert_pem, Secret("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    )
    assert bad_key.error is not None and "AAAA" not in bad_key.error


def test_basic_auth(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    cred = _resolve(ctx, Credentials(username="admin", password=Secret("pa55word-canary")))
    assert cred.kind == "basic"
    assert cred.basic == ("admin", Secret("pa55word-canary"))
    assert "pa55word-canary" in ctx.secrets


def test_auth_provider_is_a_problem(tmp_path: Path) -> None:
    cred = _resolve(make_ctx(tmp_path), Credentials(auth_provider="gcp"))
    assert cred.kind == "none"
    assert cred.problem is not None and "gke-gcloud-auth-plugin" in cred.problem
    oidc = _resolve(make_ctx(tmp_path), Credentials(auth_provider="oidc"))
    assert oidc.problem is not None and "oidc" in oidc.problem


def test_none_configured(tmp_path: Path) -> None:
    cred = _resolve(make_ctx(tmp_path), Credentials())
    assert cred.kind == "none" and cred.problem is None and cred.not_run is None
    assert cred.describe() == "no credential"


def test_exec_token_through_the_context(tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path,
        "kd-ctx",
        exec_credential_body(V1, token="exec-token-abcdef", expiration="2031-05-06T07:08:09Z"),
    )
    ctx = make_ctx(tmp_path, env={"PATH": f"{tmp_path}:{os.environ['PATH']}", "KD_FROM_CTX": "ctx-env"})
    cred = _resolve(ctx, Credentials(exec=exec_spec("kd-ctx", env={"KD_SECRET": "exec-env-secret"})))
    assert cred.kind == "exec-token"
    assert cred.bearer is not None and cred.bearer.reveal() == "exec-token-abcdef"
    assert cred.expires_at is not None and cred.expires_at.year == 2031
    assert cred.exec_result is not None and cred.exec_result.exit_code == 0
    assert cred.source == "exec plugin kd-ctx"
    assert "exec-token-abcdef" in ctx.secrets and "exec-env-secret" in ctx.secrets
    from tests.plugins.authlab import seen

    assert seen(plugin)["env"]["KD_FROM_CTX"] == "ctx-env"  # the injected environment, not os.environ


def test_exec_client_certificate(tmp_path: Path) -> None:
    ca = make_ca("test-ca")
    client = make_client_cert(ca, "exec-user")
    plugin = write_plugin(
        tmp_path, "kd-ecert", exec_credential_body(V1, cert_pem=client.cert_pem, key_pem=client.key_pem)
    )
    cred = _resolve(make_ctx(tmp_path), Credentials(exec=exec_spec(plugin)))
    assert cred.kind == "exec-client-certificate"
    assert cred.client_cert_pem == client.cert_pem and cred.bearer is None


def test_exec_not_run_and_failed(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-x", exec_credential_body(V1, token="abcd-efgh", exit_code=2))
    skipped = _resolve(make_ctx(tmp_path, no_exec=True), Credentials(exec=exec_spec(plugin)))
    assert skipped.kind == "none" and skipped.not_run and "--no-exec" in skipped.not_run
    assert skipped.problem is None

    failed = _resolve(make_ctx(tmp_path), Credentials(exec=exec_spec(plugin)))
    assert failed.kind == "none" and failed.problem == f"exec: executable {plugin} failed with exit code 2"

    alpha = _resolve(
        make_ctx(tmp_path), Credentials(exec=exec_spec(plugin, "client.authentication.k8s.io/v1alpha1"))
    )
    assert alpha.problem is not None and "invalid apiVersion" in alpha.problem


def test_resolve_credentials_direct(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    cred = run_async(lambda: resolve_credentials(ctx, access_with(Credentials(token=Secret("direct-tok")))))
    assert cred.kind == "token"
