"""A kubeconfig for `kubectl proxy` needs no credential (issue 8, evidence over suspicion).

kubeconfig.credentials reads no network: for a plain-HTTP loopback server without a credential it
passes with a note, and the verdict on anonymity is auth.identity's, which asks the server. kubectl is
asked first on the same kubeconfig; kdoctor must agree with it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from kdoctor.emulator import Emulator
from tests.clirun import kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.proxies import KubectlProxy
from tests.lab.tools import plain_kubectl


def _kubectl(config: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(config)}
    return subprocess.run(
        [plain_kubectl(), *args, "--request-timeout=10s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _results(home: Path, config: Path) -> dict[str, dict[str, Any]]:
    done = kdoctor("run", "-o", "json", "--timeout", "5", "--kubeconfig", str(config), home=home, timeout=90)
    assert "Traceback" not in done.stderr, done.stderr
    (target,) = done.json["targets"]
    return {r["id"]: r for r in target["results"]}


def _proxy_kubeconfig(api: Emulator, tmp_path: Path, proxy: KubectlProxy) -> Path:
    return api.write_kubeconfig(tmp_path / "via-proxy", server=proxy.url, user="none")


def test_kubectl_proxy_kubeconfig_without_credential_is_normal(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("healthy", anonymous=False)
    upstream = api.write_kubeconfig(tmp_path / "upstream")
    with KubectlProxy(tmp_path, upstream) as proxy:
        config = _proxy_kubeconfig(api, tmp_path, proxy)
        whoami = _kubectl(config, tmp_path, "auth", "whoami", "-o", "json")
        assert whoami.returncode == 0, whoami.stderr  # kubectl: the proxy added its credential
        username = json.loads(whoami.stdout)["status"]["userInfo"]["username"]
        results = _results(tmp_path, config)
    credentials = results["kubeconfig.credentials"]
    assert credentials["status"] == "pass", credentials
    assert "normal for kubectl proxy" in credentials["summary"]
    assert "auth.identity" in credentials["summary"]
    assert results["auth.identity"]["status"] == "pass" and username in results["auth.identity"]["summary"]
    warned = {k: r["summary"] for k, r in results.items() if r["status"] in ("warn", "fail", "error")}
    assert not warned, warned


def test_plain_http_loopback_asking_for_credentials_is_auth_identitys_finding(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    # kubectl proxy holding a credential the apiserver does not know: the plain-HTTP loopback server
    # answers 401, and that is the evidence.
    api = emulator("healthy", anonymous=False)
    upstream = api.write_kubeconfig(tmp_path / "upstream", token="not-a-token-this-apiserver-knows")
    with KubectlProxy(tmp_path, upstream) as proxy:
        config = _proxy_kubeconfig(api, tmp_path, proxy)
        whoami = _kubectl(config, tmp_path, "auth", "whoami")
        assert whoami.returncode != 0 and "Unauthorized" in whoami.stderr, whoami.stderr
        results = _results(tmp_path, config)
    assert results["kubeconfig.credentials"]["status"] == "pass"  # no network there: a note only
    identity = results["auth.identity"]
    assert identity["status"] == "fail", identity
    assert "401" in identity["summary"], identity


def test_https_server_without_credential_still_warns(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "config", user="none")
    credentials = _results(tmp_path, config)["kubeconfig.credentials"]
    assert credentials["status"] == "warn" and "requests are anonymous" in credentials["summary"]
