"""auth.* checks: verdicts, evidence and hints, and no secret in any of them."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kdoctor_checks.auth import CHECKS, CredentialCheck, TokenCheck
from kdoctor_checks.kubeconfig import CHECKS as KUBECONFIG_CHECKS

from kdoctor.access import AccessSpec, Credentials
from kdoctor.api import Check, Mode, Result, Status, Unavailable
from kdoctor.api import run_check as run_one_check
from kdoctor.context import Context
from kdoctor.emulator import Rule
from kdoctor.emulator.pki import ServiceAccountKeys, make_ca, make_client_cert
from kdoctor.redact import Secret, SecretRegistry, fingerprint
from kdoctor.report import CheckResult
from tests.plugins.authlab import (
    V1,
    access_with,
    exec_credential_body,
    exec_spec,
    make_ctx,
    write_plugin,
)
from tests.plugins.authlab import (
    run_check as _run_check,
)

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

CANARY_TOKEN = "canary-token-5e1f0a2b3c4d5e6f"
CANARY_PASSWORD = "canary-password-9a8b7c6d"
CANARY_ENV = "canary-exec-env-1b2c3d4e"


def _assert_clean(result: Result | CheckResult, *secrets: str) -> None:
    text = json.dumps({"summary": result.summary, "hint": result.hint, "details": result.details})
    for secret in secrets:
        assert secret not in text, f"secret leaked into {result}"
    # The report's last-line scrubber must find nothing to remove: no text that looks like a
    # credential ("Bearer xyz", a PEM key) and so would be mangled into "<redacted>".
    scrubber = SecretRegistry()
    assert scrubber.scrub(result.summary) == result.summary
    assert scrubber.scrub(result.hint) == result.hint
    assert scrubber.scrub_data(dict(result.details)) == json.loads(json.dumps(dict(result.details)))


def run_check(check: type[Check], ctx: Context, access: AccessSpec) -> Result:
    """authlab.run_check, and every result must survive the report scrubber unchanged."""
    result = _run_check(check, ctx, access)
    _assert_clean(result)
    return result


@pytest.fixture(scope="module")
def sa_keys() -> ServiceAccountKeys:
    return ServiceAccountKeys()


def _sa_token(keys: ServiceAccountKeys, **claims: Any) -> str:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "aud": ["https://kubernetes.default.svc.cluster.local"],
        "sub": "system:serviceaccount:team-a:builder",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "kubernetes.io": {"namespace": "team-a", "serviceaccount": {"name": "builder", "uid": "u"}},
    }
    base.update(claims)
    return keys.sign({k: v for k, v in base.items() if v is not None})


def test_family_shape() -> None:
    assert [c.id for c in CHECKS][:2] == ["auth.credential", "auth.token"]
    for check in CHECKS:
        assert check.__doc__ and check.title
        assert "tls.chain" in check.depends_on and "apiserver.version" in check.depends_on
    assert "auth.credential" in TokenCheck.depends_on


# --- auth.credential ------------------------------------------------------------------------------


def test_credential_static_token_shows_fingerprint_only(tmp_path: Path) -> None:
    result = run_check(
        CredentialCheck, make_ctx(tmp_path), access_with(Credentials(token=Secret(CANARY_TOKEN)))
    )
    assert result.status is Status.PASS
    assert fingerprint(CANARY_TOKEN) in result.summary
    assert result.details["token_fingerprint"] == fingerprint(CANARY_TOKEN)
    assert result.details["kind"] == "token"
    _assert_clean(result, CANARY_TOKEN)


def test_credential_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tok"
    path.write_text(CANARY_TOKEN + "\n")
    result = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(token_file=str(path))))
    assert result.status is Status.PASS
    assert f"tokenFile {path}" in result.summary and fingerprint(CANARY_TOKEN) in result.summary
    _assert_clean(result, CANARY_TOKEN)

    empty = tmp_path / "empty"
    empty.write_text("\n")
    bad = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(token_file=str(empty))))
    assert bad.status is Status.FAIL and "empty token" in bad.summary and "tokenFile" in bad.hint


def test_credential_exec_success_reports_exit_code_duration_and_stderr(tmp_path: Path) -> None:
    expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plugin = write_plugin(
        tmp_path,
        "kd-ok",
        exec_credential_body(V1, token=CANARY_TOKEN, expiration=expiry, stderr="using cached login\n"),
    )
    ctx = make_ctx(tmp_path)
    result = run_check(
        CredentialCheck, ctx, access_with(Credentials(exec=exec_spec(plugin, env={"KD_X": CANARY_ENV})))
    )
    assert result.status is Status.PASS, result
    assert result.summary.startswith(f"token {fingerprint(CANARY_TOKEN)} from exec plugin {plugin}")
    assert "exit code 0" in result.summary and "using cached login" in result.summary
    assert fingerprint(CANARY_TOKEN) in result.summary
    exec_details = result.details["exec"]
    assert exec_details["exit_code"] == 0 and exec_details["duration_ms"] > 0
    assert exec_details["stderr_tail"] == ["using cached login"]
    _assert_clean(result, CANARY_TOKEN, CANARY_ENV)


def test_credential_exec_expired_credential_warns(tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path, "kd-old", exec_credential_body(V1, token=CANARY_TOKEN, expiration="2020-01-01T00:00:00Z")
    )
    result = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(exec=exec_spec(plugin))))
    assert result.status is Status.WARN and "expired at 2020-01-01T00:00:00Z" in result.summary


def test_credential_exec_not_found_uses_install_hint(tmp_path: Path) -> None:
    hint = "Install it: https://example.invalid/kd-login#install"
    ctx = make_ctx(tmp_path, env={"PATH": str(tmp_path)})
    result = run_check(
        CredentialCheck, ctx, access_with(Credentials(exec=exec_spec("kd-login", install_hint=hint)))
    )
    assert result.status is Status.FAIL
    assert "exec: executable kd-login not found" in result.summary
    assert result.hint == hint


def test_credential_exec_failure_scrubs_stderr(tmp_path: Path) -> None:
    body = f"""
sys.stderr.write("refresh failed: token " + {CANARY_TOKEN!r} + " env " + os.environ["KD_X"] + "\\n")
sys.exit(1)
"""
    plugin = write_plugin(tmp_path, "kd-fail", body)
    ctx = make_ctx(tmp_path)
    ctx.secrets.add(CANARY_TOKEN)  # e.g. the kubeconfig's stale token the plugin echoes
    result = run_check(
        CredentialCheck, ctx, access_with(Credentials(exec=exec_spec(plugin, env={"KD_X": CANARY_ENV})))
    )
    assert result.status is Status.FAIL
    assert "failed with exit code 1" in result.summary and "refresh failed" in result.summary
    assert result.details["exec"]["exit_code"] == 1
    _assert_clean(result, CANARY_TOKEN, CANARY_ENV)


def test_credential_exec_timeout_fails_within_the_timeout(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-hang", "time.sleep(30)\n")
    started = time.monotonic()
    result = run_check(
        CredentialCheck, make_ctx(tmp_path, timeout=0.8), access_with(Credentials(exec=exec_spec(plugin)))
    )
    assert time.monotonic() - started < 3.5
    assert result.status is Status.FAIL
    assert "did not finish within 0.8s" in result.summary and "killed" in result.summary
    assert result.details["exec"]["timed_out"] is True


def test_credential_exec_bad_output(tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path, "kd-beta", exec_credential_body("client.authentication.k8s.io/v1beta1", token=CANARY_TOKEN)
    )
    result = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(exec=exec_spec(plugin))))
    assert result.status is Status.FAIL
    assert "plugin returned version" in result.summary and "apiVersion" in result.hint
    _assert_clean(result, CANARY_TOKEN)


def test_credential_no_exec_and_terminal_skip(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-skip", exec_credential_body(V1, token=CANARY_TOKEN))
    no_exec = run_check(
        CredentialCheck, make_ctx(tmp_path, no_exec=True), access_with(Credentials(exec=exec_spec(plugin)))
    )
    assert no_exec.status is Status.SKIP and "--no-exec" in no_exec.summary
    terminal = run_check(
        CredentialCheck,
        make_ctx(tmp_path),
        access_with(Credentials(exec=exec_spec(plugin, interactive_mode="Always"))),
    )
    assert terminal.status is Status.SKIP and "needs a terminal" in terminal.summary
    assert not plugin.with_name(plugin.name + ".seen.json").exists()


def test_credential_client_certificate_outcomes(tmp_path: Path) -> None:
    ca = make_ca("test-ca")
    good = make_client_cert(ca, "jane", ["devs"])
    other = make_client_cert(ca, "bob")
    now = datetime.now(timezone.utc)
    expired = make_client_cert(
        ca, "old", not_before=now - timedelta(days=10), not_after=now - timedelta(days=1)
    )
    future = make_client_cert(
        ca, "early", not_before=now + timedelta(hours=2), not_after=now + timedelta(days=30)
    )
    soon = make_client_cert(ca, "soon", not_before=now - timedelta(days=1), not_after=now + timedelta(days=2))

    def run(cert: bytes, key: bytes) -> Result:
        # A certificate an exec plugin returns: no other check sees it, so auth.credential judges it.
        name = f"kd-cert-{len(list(tmp_path.iterdir()))}"
        plugin = write_plugin(tmp_path, name, exec_credential_body(V1, cert_pem=cert, key_pem=key))
        creds = Credentials(exec=exec_spec(plugin))
        result = run_check(CredentialCheck, make_ctx(tmp_path), access_with(creds))
        _assert_clean(result, key.decode().strip().splitlines()[1])
        return result

    ok = run(good.cert_pem, good.key_pem)
    assert ok.status is Status.PASS and "CN=jane O=devs" in ok.summary
    assert "exec plugin's certificate" in ok.summary
    assert ok.details["client_certificate"]["common_name"] == "jane"
    mismatch = run(good.cert_pem, other.key_pem)
    assert mismatch.status is Status.FAIL and "does not belong" in mismatch.summary
    assert run(expired.cert_pem, expired.key_pem).status is Status.FAIL
    early = run(future.cert_pem, future.key_pem)
    assert early.status is Status.FAIL and "clock skew" in early.summary
    assert run(soon.cert_pem, soon.key_pem).status is Status.WARN


def test_credential_kubeconfig_certificate_is_shown_not_judged(tmp_path: Path) -> None:
    """The kubeconfig's own certificate is kubeconfig.client-cert's to judge: shown here, never re-judged."""
    ca = make_ca("test-ca")
    now = datetime.now(timezone.utc)
    good = make_client_cert(ca, "jane", ["devs"])
    soon = make_client_cert(ca, "soon", not_before=now - timedelta(days=1), not_after=now + timedelta(days=2))
    expired = make_client_cert(
        ca, "old", not_before=now - timedelta(days=10), not_after=now - timedelta(days=1)
    )

    def creds(cert: bytes, key: bytes) -> AccessSpec:
        return access_with(Credentials(client_cert_pem=cert, client_key_pem=Secret(key.decode())))

    ok = run_check(CredentialCheck, make_ctx(tmp_path), creds(good.cert_pem, good.key_pem))
    assert ok.status is Status.PASS and "CN=jane O=devs" in ok.summary
    assert ok.summary.endswith("(validity: kubeconfig.client-cert)")
    assert ok.details["client_certificate"]["common_name"] == "jane"
    # Expiring soon is kubeconfig.client-cert's warning, not a second one here.
    expiring = run_check(CredentialCheck, make_ctx(tmp_path), creds(soon.cert_pem, soon.key_pem))
    assert expiring.status is Status.PASS and "kubeconfig.client-cert" in expiring.summary
    # Expired: kubeconfig.client-cert fails; this check skips pointing there (raised for the runner).
    with pytest.raises(Unavailable) as raised:
        run_check(CredentialCheck, make_ctx(tmp_path), creds(expired.cert_pem, expired.key_pem))
    assert raised.value.root == "kubeconfig.client-cert"
    assert "expired" not in raised.value.summary


def test_expired_kubeconfig_certificate_fails_once(emulator: EmulatorFactory, tmp_path: Path) -> None:
    """Through the runner: kubeconfig.client-cert fails; every auth check after it names it, none repeats it."""
    api = emulator("healthy")
    cert = api.mint_client_cert("old", ("devs",), expired=True)
    results = run_family(
        api.write_kubeconfig(tmp_path / "config", user="cert", client_cert=cert),
        tmp_path,
        extra=KUBECONFIG_CHECKS,
    )
    failed = [r for r in results.values() if r.status is Status.FAIL]
    assert [r.id for r in failed] == ["kubeconfig.client-cert"], failed
    assert "expired" in failed[0].summary
    credential = results["auth.credential"]
    assert credential.status is Status.SKIP
    assert credential.summary.endswith("(see kubeconfig.client-cert)"), credential.summary
    assert credential.details["client_certificate"]["common_name"] == "old"
    for check_id in ("auth.token", "auth.identity", "auth.permissions"):
        assert results[check_id].summary == "skipped: kubeconfig.client-cert failed", results[check_id]
    # Nothing was sent with the expired certificate.
    assert not [r for r in api.requests if r.path.endswith("selfsubjectreviews")]


def _with_token(path: Path, token: str) -> Path:
    """The kubeconfig at `path` with `token` added to its (only) user, next to its client certificate."""
    import yaml

    data = yaml.safe_load(path.read_text())
    data["users"][0]["user"]["token"] = token
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("good_token", [True, False], ids=["good-token", "refused-token"])
def test_expired_certificate_next_to_a_token_is_kubectls_verdict(
    emulator: EmulatorFactory, tmp_path: Path, good_token: bool
) -> None:
    """kubectl sends both (the certificate in TLS, the token as Bearer); kube-apiserver's union
    authenticator passes over the certificate it cannot verify and tries the token. Asked first."""
    from tests.lab.tools import ask_kubectl

    api = emulator("healthy")
    cert = api.mint_client_cert("old-admin", ("system:masters",), expired=True)
    token = api.limited_token if good_token else "not-a-token-the-server-knows"
    path = _with_token(api.write_kubeconfig(tmp_path / "config", user="cert", client_cert=cert), token)
    proc = ask_kubectl(path, tmp_path, "auth", "whoami", "-o", "json")
    kubectl_got_in = proc.returncode == 0
    assert kubectl_got_in is good_token, proc.stderr
    results = run_family(path, tmp_path, extra=KUBECONFIG_CHECKS)
    cert_result = results["kubeconfig.client-cert"]
    # The dead certificate is a warning either way: it is never what decides access here.
    assert cert_result.status is Status.WARN, cert_result
    assert "the apiserver ignores it and authenticates the token" in cert_result.summary
    assert "kubectl config unset users.emulator.client-certificate-data" in cert_result.hint
    assert "kubeadm kubeconfig user --client-name old-admin --org system:masters" in cert_result.hint
    identity = results["auth.identity"]
    if good_token:
        assert json.loads(proc.stdout)["status"]["userInfo"]["username"] == "jane"
        assert identity.status is Status.PASS, identity
        assert identity.details["identity"]["username"] == "jane"
        assert results["auth.permissions"].status is Status.PASS
    else:
        assert "Unauthorized" in proc.stderr
        assert identity.status is Status.FAIL, identity
        # the refused token is the cause to fix first; the dead certificate alone does not explain the 401
        assert "Likely, in order: 1) the token expired or was revoked" in identity.summary, identity.summary
        assert "kubectl config set-credentials emulator --token=" in identity.hint
    assert token not in _dump_all(results)


def test_credential_basic_none_and_auth_provider(tmp_path: Path) -> None:
    basic = run_check(
        CredentialCheck,
        make_ctx(tmp_path),
        access_with(Credentials(username="admin", password=Secret(CANARY_PASSWORD))),
    )
    assert basic.status is Status.WARN and "1.19" in basic.summary
    _assert_clean(basic, CANARY_PASSWORD)

    none = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials()))
    # no evidence of trouble yet: auth.identity asks the server
    assert none.status is Status.PASS and "no credential configured" in none.summary
    pod = run_check(CredentialCheck, make_ctx(tmp_path, mode=Mode.IN_CLUSTER), access_with(Credentials()))
    assert pod.status is Status.WARN and "automountServiceAccountToken" in pod.hint

    gcp = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(auth_provider="gcp")))
    assert gcp.status is Status.FAIL and "gke-gcloud-auth-plugin" in gcp.hint


# --- auth.token -----------------------------------------------------------------------------------


def test_token_opaque_passes(tmp_path: Path) -> None:
    result = run_check(TokenCheck, make_ctx(tmp_path), access_with(Credentials(token=Secret(CANARY_TOKEN))))
    assert result.status is Status.PASS
    assert "opaque token" in result.summary and "no claims to read" in result.summary
    _assert_clean(result, CANARY_TOKEN)


def test_token_not_applicable_to_client_certificates(tmp_path: Path) -> None:
    ca = make_ca("test-ca")
    client = make_client_cert(ca, "jane")
    creds = Credentials(client_cert_pem=client.cert_pem, client_key_pem=Secret(client.key_pem.decode()))
    result = run_check(TokenCheck, make_ctx(tmp_path), access_with(creds))
    assert result.status is Status.SKIP and "client certificate" in result.summary


def test_token_valid_service_account_jwt(tmp_path: Path, sa_keys: ServiceAccountKeys) -> None:
    token = _sa_token(
        sa_keys,
        **{
            "kubernetes.io": {
                "namespace": "team-a",
                "serviceaccount": {"name": "builder"},
                "pod": {"name": "web-1"},
            }
        },
    )
    result = run_check(TokenCheck, make_ctx(tmp_path), access_with(Credentials(token=Secret(token))))
    assert result.status is Status.PASS
    assert "system:serviceaccount:team-a:builder (pod web-1)" in result.summary
    assert "issuer https://kubernetes.default.svc.cluster.local" in result.summary
    assert result.details["claims"]["serviceaccount"]["pod"] == "web-1"
    _assert_clean(result, token, token.split(".")[2])


def test_token_expired_fails(tmp_path: Path, sa_keys: ServiceAccountKeys) -> None:
    now = int(time.time())
    token = _sa_token(sa_keys, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    result = run_check(TokenCheck, make_ctx(tmp_path), access_with(Credentials(token=Secret(token))))
    assert result.status is Status.FAIL
    assert "expired at" in result.summary and "ago" in result.summary
    assert "kubectl create token builder -n team-a" in result.hint
    _assert_clean(result, token)


def test_token_not_yet_valid_mentions_clock_skew(tmp_path: Path, sa_keys: ServiceAccountKeys) -> None:
    now = int(time.time())
    token = _sa_token(sa_keys, iat=now + 600, nbf=now + 600, exp=now + 4200)
    result = run_check(TokenCheck, make_ctx(tmp_path), access_with(Credentials(token=Secret(token))))
    assert result.status is Status.FAIL
    assert "not valid before" in result.summary and "clock skew" in result.summary
    # Within the apiserver's one-minute leeway it is fine.
    near = _sa_token(sa_keys, iat=now + 20, nbf=now + 20)
    assert (
        run_check(TokenCheck, make_ctx(tmp_path), access_with(Credentials(token=Secret(near)))).status
        is Status.PASS
    )


def test_token_legacy_secret_based_warns(tmp_path: Path, sa_keys: ServiceAccountKeys) -> None:
    token = sa_keys.sign(
        {
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:default:deployer",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/secret.name": "deployer-token-abcde",
            "kubernetes.io/serviceaccount/service-account.name": "deployer",
            "kubernetes.io/serviceaccount/service-account.uid": "u",
        }
    )
    result = run_check(TokenCheck, make_ctx(tmp_path), access_with(Credentials(token=Secret(token))))
    assert result.status is Status.WARN
    assert "legacy secret-based" in result.summary and "deployer-token-abcde" in result.summary
    assert "kubectl create token deployer -n default" in result.hint


def test_token_from_exec_expired_hint(tmp_path: Path, sa_keys: ServiceAccountKeys) -> None:
    now = int(time.time())
    token = _sa_token(sa_keys, iat=now - 7200, nbf=now - 7200, exp=now - 60, **{"kubernetes.io": None})
    plugin = write_plugin(tmp_path, "kd-jwt", exec_credential_body(V1, token=token))
    result = run_check(TokenCheck, make_ctx(tmp_path), access_with(Credentials(exec=exec_spec(plugin))))
    assert result.status is Status.FAIL and "exec plugin" in result.hint
    _assert_clean(result, token)


# --- canaries through a real kubeconfig -------------------------------------------------------------


def test_canaries_never_appear_in_results_from_a_kubeconfig(tmp_path: Path) -> None:
    """Every credential kind from a real kubeconfig file: no secret in any result of the family."""
    import yaml

    from kdoctor.context import Context, Environment, Options, Target

    ca = make_ca("test-ca")
    client = make_client_cert(ca, "jane")
    key_text = client.key_pem.decode()
    fail_plugin = write_plugin(
        tmp_path,
        "kd-echo",
        "sys.stderr.write('denied ' + os.environ['KD_REFRESH'] + '\\n'); sys.exit(1)\n",
    )
    ok_plugin = write_plugin(tmp_path, "kd-good", exec_credential_body(V1, token=CANARY_TOKEN + "-exec"))
    users = {
        "token": {"token": CANARY_TOKEN},
        "basic": {"username": "admin", "password": CANARY_PASSWORD},
        "cert": {
            "client-certificate-data": __import__("base64").b64encode(client.cert_pem).decode(),
            "client-key-data": __import__("base64").b64encode(client.key_pem).decode(),
        },
        "exec-fail": {
            "exec": {
                "apiVersion": V1,
                "command": str(fail_plugin),
                "interactiveMode": "Never",
                "env": [{"name": "KD_REFRESH", "value": CANARY_ENV}],
            }
        },
        "exec-ok": {"exec": {"apiVersion": V1, "command": str(ok_plugin), "interactiveMode": "Never"}},
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": n}} for n in users],
        "current-context": "token",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    secrets = [CANARY_TOKEN, CANARY_PASSWORD, CANARY_ENV, key_text.strip().splitlines()[1]]
    statuses = {}
    for name in users:
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path), "KUBECONFIG": str(path)}
        ctx = Context(
            options=Options(kubeconfig=str(path), context=name),
            environment=Environment(env=env, home=tmp_path),
            target=Target(Mode.KUBECONFIG, context=name),
        )

        async def go(ctx: Context = ctx) -> list[Result]:
            try:
                return [await run_one_check(check(), ctx) for check in (CredentialCheck, TokenCheck)]
            finally:
                ctx.cancel_probes()

        import asyncio

        results = asyncio.run(go())
        statuses[name] = results[0].status
        for result in results:
            _assert_clean(result, *secrets)
    assert statuses == {
        "token": Status.PASS,
        "basic": Status.WARN,
        "cert": Status.PASS,
        "exec-fail": Status.FAIL,
        "exec-ok": Status.PASS,
    }


# --- identity and permissions against the apiserver emulator ---------------------------------------


def run_family(
    kubeconfig: Path | None,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 3.0,
    mode: Mode = Mode.KUBECONFIG,
    serviceaccount_dir: Path | None = None,
    extra: tuple[type[Check], ...] = (),
    context: str | None = None,
) -> dict[str, CheckResult]:
    """The auth family (and `extra` checks) through the real runner, ACCESS from a real kubeconfig
    (or a pod's files)."""
    import asyncio

    from kdoctor.context import Context, Environment, Options, Target
    from kdoctor.probes.api import close_session
    from kdoctor.registry import RegisteredCheck
    from kdoctor.runner import run_target

    full_env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path)}
    full_env.update(env or {})
    options = Options(
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        timeout=timeout,
        in_cluster=mode is Mode.IN_CLUSTER,
        **({"serviceaccount_dir": str(serviceaccount_dir)} if serviceaccount_dir else {}),
    )
    ctx = Context(
        options=options, environment=Environment(env=full_env, home=tmp_path), target=Target(mode, context)
    )

    async def go() -> list[CheckResult]:
        try:
            run = await run_target(
                ctx,
                [RegisteredCheck(check=c(), origin="kdoctor", entry_point="auth") for c in (*extra, *CHECKS)],
            )
        finally:
            await close_session(ctx)
        assert not run.tracebacks, run.tracebacks
        return list(run.results)

    results = asyncio.run(go())
    for result in results:
        _assert_clean(result)
    return {r.id: r for r in results}


def _dump_all(results: dict[str, CheckResult]) -> str:
    return json.dumps([r.to_json_dict() for r in results.values()])


def test_identity_healthy_admin_token(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    results = run_family(api.write_kubeconfig(tmp_path / "config"), tmp_path)
    identity = results["auth.identity"]
    assert identity.status is Status.PASS, identity
    assert (
        "authenticated as kubernetes-admin (groups: system:masters, system:authenticated)" in identity.summary
    )
    assert fingerprint(api.admin_token) in identity.summary
    assert identity.details["identity"]["username"] == "kubernetes-admin"
    assert results["auth.permissions"].status is Status.PASS
    assert "everything" in results["auth.permissions"].summary
    assert results["auth.token"].summary.startswith("opaque token")
    # The review went with the credential, over the verified connection.
    reviews = [r for r in api.requests if r.path.endswith("/selfsubjectreviews")]
    assert reviews and reviews[0].header("Authorization") == f"Bearer {api.admin_token}"
    assert reviews[0].path == "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    assert api.admin_token not in _dump_all(results)


def test_identity_and_permissions_limited_user(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    default_ns = run_family(api.write_kubeconfig(tmp_path / "a", token=api.limited_token), tmp_path)
    assert (
        "authenticated as jane (groups: developers, system:authenticated)"
        in default_ns["auth.identity"].summary
    )
    perms = default_ns["auth.permissions"]
    assert perms.status is Status.PASS, perms
    assert "in namespace default can: get,list,watch pods,services,configmaps" in perms.summary
    assert perms.details["namespace_source"] == "default (the context sets no namespace)"

    other_ns = run_family(
        api.write_kubeconfig(tmp_path / "b", token=api.limited_token, namespace="team-x"), tmp_path
    )
    nothing = other_ns["auth.permissions"]
    assert nothing.status is Status.WARN, nothing
    assert "nothing is allowed in namespace team-x" in nothing.summary
    assert nothing.details["namespace_source"] == "context emulator"
    # the fix names the user the apiserver reported, not a placeholder
    assert (
        "`kubectl create rolebinding jane-view --clusterrole=view --user=jane -n team-x`" in nothing.hint
    ), nothing.hint
    assert "`kubectl config set-context --current --namespace=NAMESPACE`" in nothing.hint
    body = json.loads([r for r in api.requests if r.path.endswith("selfsubjectrulesreviews")][-1].body)
    assert body["spec"] == {"namespace": "team-x"}


def test_identity_service_account_jwt(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator(
        "healthy",
        rules={"system:serviceaccount:ci:deployer": (Rule(("create",), ("apps",), ("deployments",)),)},
    )
    token = api.mint_sa_token("ci", "deployer", pod="runner-0")
    results = run_family(api.write_kubeconfig(tmp_path / "config", token=token, namespace="ci"), tmp_path)
    assert results["auth.token"].status is Status.PASS
    assert "system:serviceaccount:ci:deployer (pod runner-0)" in results["auth.token"].summary
    identity = results["auth.identity"]
    assert "authenticated as system:serviceaccount:ci:deployer" in identity.summary
    assert identity.details["identity"]["extra"]["authentication.kubernetes.io/pod-name"] == ["runner-0"]
    assert "create deployments.apps" in results["auth.permissions"].summary
    assert token not in _dump_all(results)
    # one that may do nothing: the fix binds the service account (not a --user), by its name
    bare = api.mint_sa_token("ci", "deployer-2")
    elsewhere = run_family(
        api.write_kubeconfig(tmp_path / "other", token=bare, namespace="prod"), tmp_path, context="emulator"
    )
    nothing = elsewhere["auth.permissions"]
    assert nothing.status is Status.WARN, nothing
    assert (
        "`kubectl create rolebinding deployer-2-view --clusterrole=view --serviceaccount=ci:deployer-2 -n prod`"
        in nothing.hint
    ), nothing.hint
    # the context was named with --context: the namespace fix edits that one, not the current context
    assert "`kubectl config set-context emulator --namespace=NAMESPACE`" in nothing.hint


def test_identity_client_certificate(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    cert = api.mint_client_cert("carol", ("ops", "devs"))
    results = run_family(api.write_kubeconfig(tmp_path / "config", user="cert", client_cert=cert), tmp_path)
    assert results["auth.credential"].status is Status.PASS
    assert "CN=carol O=ops,devs" in results["auth.credential"].summary
    assert results["auth.token"].status is Status.SKIP
    identity = results["auth.identity"]
    assert identity.status is Status.PASS
    assert "authenticated as carol (groups: ops, devs, system:authenticated)" in identity.summary
    assert "client certificate" in identity.summary
    assert cert[1].decode().splitlines()[1] not in _dump_all(results)


def test_identity_exec_plugin(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    path = api.write_kubeconfig(
        tmp_path / "config", user="exec", token=api.limited_token, exec_env={"KD_SECRET": CANARY_ENV}
    )
    results = run_family(path, tmp_path)
    assert results["auth.credential"].status is Status.PASS
    assert "exec plugin" in results["auth.credential"].summary
    assert "authenticated as jane" in results["auth.identity"].summary
    text = _dump_all(results)
    assert api.limited_token not in text and CANARY_ENV not in text


def test_hanging_exec_plugin_ends_within_the_timeout(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    path = api.write_kubeconfig(tmp_path / "config", user="exec")
    plugin = write_plugin(tmp_path, "kd-hang", "time.sleep(30)\n")
    import yaml

    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"]["exec"].update({"command": str(plugin), "args": []})
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    results = run_family(path, tmp_path, timeout=1.0)
    assert time.monotonic() - started < 5.0
    credential = results["auth.credential"]
    assert credential.status is Status.FAIL and "did not finish within 1s" in credential.summary
    assert results["auth.identity"].status is Status.SKIP


def test_unauthorized_lists_causes_and_the_server_message(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("unauthorized")
    results = run_family(api.write_kubeconfig(tmp_path / "config", token=CANARY_TOKEN), tmp_path)
    identity = results["auth.identity"]
    assert identity.status is Status.FAIL
    assert identity.summary.startswith("401 Unauthorized")
    assert "(server: Unauthorized)" in identity.summary
    assert "1) the token expired or was revoked" in identity.summary
    assert identity.details["review"]["status"] == 401
    assert results["auth.permissions"].status is Status.SKIP  # depends on the identity
    assert CANARY_TOKEN not in _dump_all(results)


def test_unauthorized_expired_service_account_token(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    token = api.mint_sa_token("ci", "deployer", issued_at=time.time() - 7200, expires_in=3600)
    results = run_family(api.write_kubeconfig(tmp_path / "config", token=token), tmp_path)
    assert results["auth.token"].status is Status.FAIL
    identity = results["auth.identity"]
    assert identity.status is Status.FAIL
    causes = identity.details["likely_causes"]
    assert causes[0]["cause"] == "the token expired" and causes[0]["likely"]
    assert "Cause: the token expired (exp " in identity.summary
    assert "kubectl create token deployer -n ci" in identity.hint


def test_unauthorized_token_from_another_cluster_and_revoked(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("healthy", revoked_service_accounts=frozenset({"ci/gone"}))
    foreign = api.mint_sa_token(
        "ci", "deployer", issuer="https://other-cluster.example", keys=ServiceAccountKeys()
    )
    results = run_family(api.write_kubeconfig(tmp_path / "a", token=foreign), tmp_path)
    identity = results["auth.identity"]
    assert identity.status is Status.FAIL
    likely = [c["cause"] for c in identity.details["likely_causes"] if c["likely"]]
    assert likely[0].startswith("the token was issued for another cluster")
    assert "https://other-cluster.example" in json.dumps(identity.details["likely_causes"])
    ruled_out = [c for c in identity.details["likely_causes"] if not c["likely"]]
    assert ruled_out[0]["cause"] == "the token expired"

    revoked = api.mint_sa_token("ci", "gone")
    identity2 = run_family(api.write_kubeconfig(tmp_path / "b", token=revoked), tmp_path)["auth.identity"]
    assert identity2.status is Status.FAIL
    assert "service account" in identity2.summary and "ci/gone" in json.dumps(identity2.details)


def test_unauthorized_client_cert_from_another_ca(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    cert = api.mint_client_cert("mallory", ("devs",), foreign=True)
    results = run_family(api.write_kubeconfig(tmp_path / "config", user="cert", client_cert=cert), tmp_path)
    identity = results["auth.identity"]
    assert identity.status is Status.FAIL, identity
    likely = [c["cause"] for c in identity.details["likely_causes"] if c["likely"]]
    assert likely == ["the client certificate was issued by another CA than the cluster's client CA"]
    assert "not signed by the kubeconfig's CA" in json.dumps(identity.details)


def test_forbidden_reviews_is_a_warning_naming_the_user(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("forbidden-reviews")
    results = run_family(api.write_kubeconfig(tmp_path / "config", token=api.limited_token), tmp_path)
    identity = results["auth.identity"]
    assert identity.status is Status.WARN, identity
    assert identity.summary.startswith("authenticated as jane, but RBAC forbids the SelfSubjectReview (403)")
    assert 'cannot create resource "selfsubjectreviews"' in identity.summary
    assert "kubectl auth whoami" in identity.hint
    assert (
        "`kubectl create clusterrolebinding jane-basic-user --clusterrole=system:basic-user --user=jane`"
        in identity.hint
    )
    # The rules review is forbidden by the same missing binding: one finding, reported by auth.identity.
    perms = results["auth.permissions"]
    assert perms.status is Status.SKIP, perms
    assert "403" not in perms.hint and perms.summary.endswith("auth.identity reports it")
    assert 'cannot create resource "selfsubjectrulesreviews"' in perms.summary


def test_insecure_skip_verify_sends_what_kubectl_sends(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    results = run_family(api.write_kubeconfig(tmp_path / "config", insecure_skip_tls_verify=True), tmp_path)
    identity = results["auth.identity"]
    assert identity.status is Status.PASS and "authenticated as" in identity.summary, identity.summary
    # a token kubectl would send (and the server refuses) is sent too, and never shown
    refused = run_family(
        api.write_kubeconfig(tmp_path / "c2", token=CANARY_TOKEN, insecure_skip_tls_verify=True), tmp_path
    )
    assert refused["auth.identity"].status is Status.FAIL and "401" in refused["auth.identity"].summary
    assert any(r.header("Authorization") == f"Bearer {CANARY_TOKEN}" for r in api.requests)
    assert all(CANARY_TOKEN not in f"{r.summary} {r.hint} {r.details}" for r in refused.values())


def test_anonymous_user(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    results = run_family(api.write_kubeconfig(tmp_path / "config", user="none"), tmp_path)
    assert results["auth.credential"].status is Status.PASS
    identity = results["auth.identity"]
    assert identity.status is Status.WARN and "system:anonymous" in identity.summary

    closed = emulator("healthy", anonymous=False)
    identity2 = run_family(closed.write_kubeconfig(tmp_path / "c2", user="none"), tmp_path)["auth.identity"]
    assert identity2.status is Status.FAIL and "refuses anonymous" in identity2.summary


def test_in_cluster_uses_the_pod_namespace(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator(
        "healthy",
        rules={
            "system:serviceaccount:apps:web": (Rule(("get",), ("",), ("secrets",), namespaces=("apps",)),)
        },
    )
    token = api.mint_sa_token("apps", "web", pod="web-0")
    sa_dir = api.serviceaccount_dir(tmp_path / "sa", token=token, namespace="apps")
    results = run_family(
        None,
        tmp_path,
        mode=Mode.IN_CLUSTER,
        serviceaccount_dir=sa_dir,
        env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)},
    )
    assert "authenticated as system:serviceaccount:apps:web" in results["auth.identity"].summary
    assert "auth.token" not in results  # incluster.token judges the pod's token
    perms = results["auth.permissions"]
    assert perms.details["namespace"] == "apps" and perms.details["namespace_source"].endswith("namespace")
    assert "in namespace apps can: get secrets" in perms.summary

    # a pod whose service account may do nothing: the fix binds that service account, by name
    bare = api.mint_sa_token("apps", "batch", pod="batch-0")
    nothing = run_family(
        None,
        tmp_path,
        mode=Mode.IN_CLUSTER,
        serviceaccount_dir=api.serviceaccount_dir(tmp_path / "sa2", token=bare, namespace="apps"),
        env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)},
    )["auth.permissions"]
    assert nothing.status is Status.WARN, nothing
    assert (
        "`kubectl create rolebinding batch-view --clusterrole=view --serviceaccount=apps:batch -n apps`"
        in nothing.hint
    ), nothing.hint


@pytest.mark.parametrize("user", ["token", "cert", "sa"])
def test_kubectl_whoami_agrees(emulator: EmulatorFactory, tmp_path: Path, user: str) -> None:
    from tests.lab.tools import ask_kubectl, plain_kubectl

    kubectl = plain_kubectl()
    api = emulator("healthy")
    if user == "cert":
        path = api.write_kubeconfig(
            tmp_path / "config", user="cert", client_cert=api.mint_client_cert("dora", ("qa",))
        )
    elif user == "sa":
        path = api.write_kubeconfig(tmp_path / "config", token=api.mint_sa_token("ci", "bot"))
    else:
        path = api.write_kubeconfig(tmp_path / "config")
    proc = ask_kubectl(path, tmp_path, "auth", "whoami", "-o", "json", binary=kubectl)
    if proc.returncode != 0 and "unknown command" in proc.stderr:
        pytest.skip(f"{kubectl} has no auth whoami")
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)["status"]["userInfo"]
    ours = run_family(path, tmp_path)["auth.identity"].details["identity"]
    assert ours["username"] == theirs["username"]
    assert ours["groups"] == theirs["groups"]


def test_kubectl_and_kdoctor_agree_on_unauthorized(emulator: EmulatorFactory, tmp_path: Path) -> None:
    from tests.lab.tools import ask_kubectl

    api = emulator("unauthorized")
    path = api.write_kubeconfig(tmp_path / "config")
    proc = ask_kubectl(path, tmp_path, "auth", "whoami")
    assert proc.returncode != 0
    assert "Unauthorized" in proc.stderr
    assert run_family(path, tmp_path)["auth.identity"].status is Status.FAIL


# --- end to end: the real `kdoctor run` command -------------------------------------------------------


def _auth_site(tmp_path: Path) -> list[Path]:
    """PYTHONPATH entries that register the auth family, unless pyproject already does."""
    from importlib import metadata

    from tests.clirun import install_plugin

    if any(ep.name == "auth" for ep in metadata.entry_points(group="kdoctor.checks")):
        return []
    return [
        install_plugin(tmp_path / "site", "kdoctor-auth-under-test", {"auth": "kdoctor_checks.auth:CHECKS"})
    ]


def test_cli_run_json_no_canaries(emulator: EmulatorFactory, tmp_path: Path) -> None:
    from tests.clirun import kdoctor

    site = _auth_site(tmp_path)
    healthy = emulator("healthy")
    denied = emulator("unauthorized")
    exec_config = healthy.write_kubeconfig(
        tmp_path / "exec", user="exec", token=healthy.limited_token, exec_env={"KD_SECRET": CANARY_ENV}
    )
    denied_config = denied.write_kubeconfig(tmp_path / "denied", token=CANARY_TOKEN)
    canaries = (CANARY_ENV, CANARY_TOKEN, healthy.limited_token)

    ok = kdoctor(
        "run",
        "--kubeconfig",
        str(exec_config),
        "--check",
        "auth",
        "-o",
        "json",
        home=tmp_path,
        pythonpath=site,
    )
    assert ok.code == 0, ok.stderr
    results = {r["id"]: r for r in ok.json["targets"][0]["results"]}
    assert results["auth.identity"]["status"] == "pass"
    assert results["auth.identity"]["details"]["identity"]["username"] == "jane"

    for output in ("json", "text"):
        bad = kdoctor(
            "run",
            "--kubeconfig",
            str(denied_config),
            "--check",
            "auth",
            "-o",
            output,
            home=tmp_path,
            pythonpath=site,
        )
        assert bad.code == 1, bad.stderr
        assert "401 Unauthorized" in bad.stdout
        for canary in canaries:
            assert canary not in bad.stdout + bad.stderr
    for canary in canaries:
        assert canary not in ok.stdout + ok.stderr

    skipped = kdoctor(
        "run", "--kubeconfig", str(exec_config), "--check", "auth", "--no-exec", "-o", "json",
        home=tmp_path, pythonpath=site,
    )  # fmt: skip
    assert skipped.code == 0
    statuses = {r["id"]: r["status"] for r in skipped.json["targets"][0]["results"]}
    assert statuses["auth.credential"] == "skip"
    assert statuses["auth.identity"] == "skip"


def test_summarize_rules_groups_by_verbs() -> None:
    from kdoctor_checks.auth import summarize_rules

    rules = [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "services"]},
        {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"]},
        {"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["web-0"]},
        {"verbs": ["*"], "apiGroups": ["batch"], "resources": ["jobs", "cronjobs"]},
    ]
    assert summarize_rules(rules) == (
        "get,list pods,services,deployments.apps; delete pods/web-0; all verbs jobs.batch,cronjobs.batch"
    )
