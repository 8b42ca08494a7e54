"""tls.* against the emulator's certificate faults: each failure named, with the evidence in details."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kdoctor.api import Status
from tests.test_apiserver_checks import run_checks, start

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

KUBECTL_UNKNOWN = "x509: certificate signed by unknown authority"


def test_healthy_chain(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api, config = start(emulator, "healthy", tmp_path)
    run = run_checks(config, tmp_path)
    statuses = {r.id: r.status for r in run.family("tls")}
    assert set(statuses.values()) == {Status.PASS}, run.text()
    chain = run["tls.chain"]
    assert chain.details["issuer_is_cluster_ca"] is True
    assert chain.details["finding"] == "ok"
    assert chain.details["chain"][0]["subject"] == "CN=kube-apiserver"
    assert (
        chain.details["chain"][0]["sha256"].replace(":", "").lower()
        == api.serving.sha256.replace(":", "").lower()
    )
    assert "verified against the cluster CA CN=kubernetes" in chain.summary
    assert run["tls.expiry"].summary.startswith("CN=kube-apiserver is valid until")


def test_unknown_ca_suggests_an_intercepting_proxy(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "unknown-ca", tmp_path)
    run = run_checks(config, tmp_path)
    chain = run["tls.chain"]
    assert chain.status is Status.FAIL
    assert chain.summary.startswith(KUBECTL_UNKNOWN)
    assert "CN=other-cluster-ca" in chain.summary and "not the cluster CA CN=kubernetes" in chain.summary
    assert "TLS-intercepting proxy" in chain.summary
    assert "HTTPS_PROXY" in chain.hint and "fingerprint" in chain.hint
    assert chain.details["issuer_is_cluster_ca"] is False
    assert chain.details["captured_on"] == "evidence"
    assert chain.details["configured_ca"][0]["subject"] == "CN=kubernetes"
    assert len(chain.details["chain"][0]["sha256"]) == 95  # 32 bytes as colon-separated hex
    assert run["apiserver.version"].status is Status.SKIP


def test_rotated_ca(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "ca-rotated", tmp_path)
    chain = run_checks(config, tmp_path)["tls.chain"]
    assert chain.status is Status.FAIL
    assert chain.details["finding"] == "ca-rotated"
    assert "has the name of the configured CA but another key" in chain.summary
    assert "rotated" in chain.summary
    # the scenario's CAs are RSA: kubectl's reason is crypto/rsa's
    assert "(kubectl: crypto/rsa: verification error … candidate authority certificate)" in chain.summary
    assert "certificate-authority-data" in chain.hint


def test_self_signed_serving_cert(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "self-signed", tmp_path)
    chain = run_checks(config, tmp_path)["tls.chain"]
    assert chain.status is Status.FAIL
    assert chain.details["finding"] == "self-signed"
    assert "CN=kube-apiserver" in chain.summary and "is self-signed" in chain.summary


def test_missing_intermediate(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "missing-intermediate", tmp_path)
    chain = run_checks(config, tmp_path)["tls.chain"]
    assert chain.status is Status.FAIL
    assert "missing intermediate" in chain.summary
    assert "CN=kubernetes-intermediate-ca" in chain.summary
    assert "intermediate" in chain.hint and "--tls-cert-file" in chain.hint


def test_expired(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "expired", tmp_path)
    run = run_checks(config, tmp_path)
    chain = run["tls.chain"]
    assert chain.status is Status.FAIL
    assert chain.summary.startswith("x509: certificate has expired: CN=kube-apiserver expired on")
    assert "35 days ago" in chain.summary and "this machine's clock reads" in chain.summary
    assert "kubeadm certs renew apiserver" in chain.hint
    assert run["tls.expiry"].status is Status.SKIP


def test_not_yet_valid_points_at_the_clock(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "not-yet-valid", tmp_path)
    chain = run_checks(config, tmp_path)["tls.chain"]
    assert chain.status is Status.FAIL
    assert chain.summary.startswith("x509: certificate is not yet valid")
    assert "30 days from now" in chain.summary
    assert "clock" in chain.hint


def test_san_mismatch_lists_sans_and_suggests_tls_server_name(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    _api, config = start(emulator, "san-mismatch", tmp_path)
    run = run_checks(config, tmp_path)
    hostname = run["tls.hostname"]
    assert hostname.status is Status.FAIL
    # kubectl's words exactly (Go lists only the IP SANs when the host is an IP)
    assert hostname.summary == "x509: certificate is valid for 10.96.0.1, not 127.0.0.1"
    assert "10.96.0.1" in hostname.details["ip_addresses"]
    assert "tls-server-name: kubernetes" in hostname.hint
    # The chain itself is fine: only the name is wrong, and the result says so.
    assert run["tls.chain"].status is Status.PASS
    assert run["tls.chain"].summary == (
        "CN=kube-apiserver ← CN=kubernetes, chains to the cluster CA CN=kubernetes; "
        "the name check fails: see tls.hostname"
    )


def test_tls_server_name_fixes_a_san_mismatch(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api, config = start(emulator, "san-mismatch", tmp_path, tls_server_name="kubernetes")
    run = run_checks(config, tmp_path)
    assert run["tls.hostname"].status is Status.PASS
    assert run["tls.hostname"].summary == "kubernetes (tls-server-name) is among the certificate's SANs"
    assert run["apiserver.version"].status is Status.PASS
    # Verified, so the credential went along on the reviews.
    assert any(r.header("authorization") for r in api.requests)


def test_expiring_soon_warns(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "expiring-soon", tmp_path)
    run = run_checks(config, tmp_path)
    expiry = run["tls.expiry"]
    assert expiry.status is Status.WARN
    assert "in 10 days" in expiry.summary
    assert 9 <= expiry.details["days_left"] <= 10.1
    assert run["tls.chain"].status is Status.PASS


@pytest.mark.parametrize("scenario", ["healthy", "self-signed"])
def test_insecure_skip_tls_verify_warns_and_shows_the_chain(
    emulator: EmulatorFactory, tmp_path: Path, scenario: str
) -> None:
    api, config = start(emulator, scenario, tmp_path, insecure_skip_tls_verify=True)
    run = run_checks(config, tmp_path)
    insecure = run["tls.insecure"]
    assert insecure.status is Status.WARN
    assert "man-in-the-middle" in insecure.summary
    assert "CN=kube-apiserver" in insecure.summary and "SHA-256" in insecure.summary
    assert insecure.details["chain"][0]["subject"] == "CN=kube-apiserver"
    # kubectl sends the credential to this unverified server, and so did kdoctor: said plainly
    assert insecure.details["credentials_allowed"] is True
    assert "the credential (token) went to an unverified server" in insecure.summary
    assert run["tls.chain"].status is Status.PASS and "not verified" in run["tls.chain"].summary
    assert run["apiserver.version"].status is Status.PASS
    assert any(r.header("authorization") == f"Bearer {api.admin_token}" for r in api.requests)
    if scenario == "self-signed":
        assert "self-signed" in insecure.summary


def test_strength_reports_key_and_protocol(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "healthy", tmp_path)
    strength = run_checks(config, tmp_path)["tls.strength"]
    assert strength.status is Status.PASS
    assert strength.details["keys"][0]["key"] == "EC secp256r1"
    assert strength.details["tls_version"] in ("TLSv1.2", "TLSv1.3")


def test_without_a_configured_ca_the_system_roots_decide(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{api.url}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        f"users: [{{name: u, user: {{token: {api.admin_token}}}}}]\n"
    )
    run = run_checks(config, tmp_path)
    chain = run["tls.chain"]
    assert chain.status is Status.FAIL
    assert "no certificate-authority is configured, so the system roots are used" in chain.summary
    assert chain.details["issuer_is_cluster_ca"] is None
    assert chain.details["ca_source"] == "system roots"
    assert "--certificate-authority" in chain.hint
    assert api.requests == []


def test_tls_chain_carries_the_phase_timings(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "healthy", tmp_path)
    timings = run_checks(config, tmp_path)["tls.chain"].details["timings_ms"]
    assert set(timings) == {"dns", "connect", "tls", "first_byte"}
    assert timings["tls"] is not None and timings["tls"] > 0
