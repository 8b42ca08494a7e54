"""Same credentials: kdoctor sends what kubectl sends, and judges what the server then says.

kubectl is asked first on the same kubeconfig (`kubectl auth whoami`, `kubectl get --raw`); then the
whole `kdoctor run` (the real runner, JSON report) must agree with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.proxies import KubectlProxy
from tests.lab.tools import ask_kubectl
from tests.reportvalidation import assert_valid_report

CANARY = "canary-verdicts-token-7f3a9c"


def run_kdoctor(tmp_path: Path, config: Path) -> dict[str, dict[str, Any]]:
    done = kdoctor("run", "--kubeconfig", str(config), "-o", "json", "--timeout", "3", home=tmp_path)
    assert done.code in (0, 1), done.stderr
    report = done.json
    assert_valid_report(report)
    assert CANARY not in done.stdout + done.stderr
    return {r["id"]: r for r in report["targets"][0]["results"]}


def whoami(tmp_path: Path, config: Path) -> str:
    done = ask_kubectl(config, tmp_path, "auth", "whoami", "-o", "json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["status"]["userInfo"]["username"])


def test_insecure_skip_tls_verify_sends_the_credential_as_kubectl_does(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "config", insecure_skip_tls_verify=True)
    kubectl_user = whoami(tmp_path, config)  # kubectl sends its token to the unverified server
    results = run_kdoctor(tmp_path, config)
    identity = results["auth.identity"]
    assert identity["status"] == "pass", identity
    assert identity["details"]["identity"]["username"] == kubectl_user
    insecure = results["tls.insecure"]
    assert insecure["status"] == "warn"
    assert "the credential (token) went to an unverified server" in insecure["summary"]
    assert results["tls.chain"]["status"] == "pass"


def test_no_credential_after_a_verification_failure(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("unknown-ca")
    config = api.write_kubeconfig(tmp_path / "config", token=CANARY)
    done = ask_kubectl(config, tmp_path, "get", "--raw", "/version")
    assert done.returncode != 0 and "certificate signed by unknown authority" in done.stderr
    results = run_kdoctor(tmp_path, config)
    assert results["tls.chain"]["status"] == "fail"
    assert results["auth.identity"]["status"] == "skip"
    assert all(r.header("authorization") is None for r in api.requests)


def test_a_context_without_a_user_behind_kubectl_proxy_is_normal(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("healthy")
    upstream = api.write_kubeconfig(tmp_path / "upstream")
    with KubectlProxy(tmp_path, upstream) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", server=proxy.url, user="none")
        kubectl_user = whoami(tmp_path, config)  # whom kubectl proxy acts as
        results = run_kdoctor(tmp_path, config)
    assert results["auth.credential"]["status"] == "pass", results["auth.credential"]
    identity = results["auth.identity"]
    assert identity["status"] == "pass", identity
    assert identity["details"]["identity"]["username"] == kubectl_user
    assert kubectl_user in identity["summary"]
    assert [h["kind"] for h in results["proxy.path"]["details"]["hops"]] == ["kubectl-proxy"]
    assert results["tls.chain"]["status"] == "pass"
    warned = {k: r["summary"] for k, r in results.items() if r["status"] in ("warn", "fail", "error")}
    # the kubeconfig file's permissions may warn (tmp files are 0644); nothing about the missing user does
    assert not {k for k in warned if k.startswith(("auth.", "tls.", "apiserver.", "proxy."))}, warned


def test_a_context_without_a_user_against_a_server_that_wants_one(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("healthy", anonymous=False)
    config = api.write_kubeconfig(tmp_path / "config", user="none")
    done = ask_kubectl(config, tmp_path, "get", "--raw", "/livez")
    # kubectl meets the 401 and, having no credential, asks for a username (EOF without a terminal)
    assert done.returncode != 0 and "Please enter Username" in done.stdout, (done.stdout, done.stderr)
    results = run_kdoctor(tmp_path, config)
    identity = results["auth.identity"]
    assert identity["status"] == "fail" and "401" in identity["summary"], identity
    assert "Please enter Username" in identity["summary"]
    # 401 on the health endpoints: this identity may not see them, which is not a health failure
    for check in ("apiserver.livez", "apiserver.readyz"):
        assert results[check]["status"] == "skip", results[check]
        assert "may not see it" in results[check]["summary"]
