"""A CA in the kubeconfig that is expired, not yet valid or unreadable does not stop kdoctor looking at the
server: it connects without a credential, shows the chain the server presents and says where it comes from
(the configured CA, a newer CA with the same name, or elsewhere). kubectl is asked first on the same
kubeconfig: it fails, and no credential ever reaches the server from kdoctor.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kdoctor.emulator.pki import make_ca
from tests.clirun import kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.tools import ask_kubectl
from tests.reportvalidation import assert_valid_report

CANARY = "canary-unusable-ca-token-51e2"


def kubectl_says(tmp_path: Path, config: Path) -> str:
    done = ask_kubectl(config, tmp_path)
    assert done.returncode != 0, "kubectl unexpectedly worked"
    return done.stderr


def run(tmp_path: Path, config: Path) -> dict[str, dict[str, Any]]:
    done = kdoctor("run", "--kubeconfig", str(config), "-o", "json", "--timeout", "3", home=tmp_path)
    assert done.code == 1, done.stderr
    assert_valid_report(done.json)
    assert CANARY not in done.stdout + done.stderr
    return {r["id"]: r for r in done.json["targets"][0]["results"]}


def assert_looked_without_credential(results: dict[str, dict[str, Any]], api: Any) -> dict[str, Any]:
    chain = results["tls.chain"]
    assert chain["status"] == "fail", chain
    assert chain["details"]["chain"], chain  # the chain the server presents is shown
    assert results["auth.identity"]["status"] == "skip"
    assert all(r.header("authorization") is None for r in api.requests)
    return chain


def test_expired_ca_that_still_signs_the_server(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    now = datetime.now(timezone.utc)
    old = make_ca("kubernetes", not_before=now - timedelta(days=400), not_after=now - timedelta(days=2))
    api = emulator("healthy", ca=old)
    config = api.write_kubeconfig(tmp_path / "config", token=CANARY)
    assert "x509" in kubectl_says(tmp_path, config)
    results = run(tmp_path, config)
    assert results["kubeconfig.ca"]["status"] == "fail"
    chain = assert_looked_without_credential(results, api)
    assert "the configured CA CN=kubernetes expired" in chain["summary"]
    assert "comes from that CA" in chain["summary"]


def test_expired_ca_and_a_newer_one_with_the_same_name(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    now = datetime.now(timezone.utc)
    old = make_ca("kubernetes", not_before=now - timedelta(days=400), not_after=now - timedelta(days=2))
    api = emulator("healthy")  # serves from its own, current CN=kubernetes
    config = api.write_kubeconfig(tmp_path / "config", token=CANARY, ca_pem=old.cert_pem)
    assert "x509" in kubectl_says(tmp_path, config)
    results = run(tmp_path, config)
    chain = assert_looked_without_credential(results, api)
    assert "a newer CA with the same name" in chain["summary"], chain["summary"]
    assert "also out of date" in chain["summary"]


def test_not_yet_valid_ca(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    now = datetime.now(timezone.utc)
    future = make_ca("kubernetes", not_before=now + timedelta(days=3), not_after=now + timedelta(days=400))
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "config", token=CANARY, ca_pem=future.cert_pem)
    assert "x509" in kubectl_says(tmp_path, config)
    results = run(tmp_path, config)
    assert results["kubeconfig.ca"]["status"] == "fail"
    chain = assert_looked_without_credential(results, api)
    assert "a newer CA with the same name" in chain["summary"] or "CN=kubernetes" in chain["summary"]


def test_unreadable_ca_file(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "config", token=CANARY)
    lines = [
        f"    certificate-authority: {tmp_path / 'gone' / 'ca.crt'}"
        if "certificate-authority-data" in line
        else line
        for line in config.read_text().splitlines()
    ]
    config.write_text("\n".join(lines) + "\n")
    assert "ca.crt" in kubectl_says(tmp_path, config)  # kubectl: unable to read the CA file
    results = run(tmp_path, config)
    assert results["kubeconfig.ca"]["status"] == "fail"
    chain = assert_looked_without_credential(results, api)
    assert "kubectl cannot verify the server" in chain["summary"]
    assert "Looked at without a credential, the server presents" in chain["summary"]
    assert "CN=kube-apiserver" in chain["summary"]
    assert api.requests == [] or all(
        r.path != "/apis/authentication.k8s.io/v1/selfsubjectreviews" for r in api.requests
    )
