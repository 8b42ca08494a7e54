"""`kdoctor run --in-cluster` end to end: a pod's files and env, the emulator as apiserver, a real DNS server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.lab.dnsserver import DNSServer
from tests.lab.emulator_fixtures import EmulatorFactory, emulator
from tests.lab.pod import SERVICE_FQDN, Pod, make_pod
from tests.reportvalidation import assert_valid_report

__all__ = ["emulator"]

def results_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (target,) = report["targets"]
    return {r["id"]: r for r in target["results"]}


def assert_no_secret(pod: Pod, *texts: str) -> None:
    for text in texts:
        assert pod.token not in text
        assert pod.token.split(".")[-1] not in text


def test_healthy_pod(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    with DNSServer(records={SERVICE_FQDN: [("A", "127.0.0.1")]}) as dns:
        pod = make_pod(api, dns, tmp_path)
        result = pod.run("run", "--in-cluster", "-o", "json")
        text = pod.run("run", "--in-cluster", "-o", "text", "-v")
    assert result.code == 0, result.stdout + result.stderr
    report = result.json
    assert_valid_report(report)
    (target,) = report["targets"]
    assert target["mode"] == "in-cluster"
    assert (target["cluster"], target["user"]) == ("in-cluster", "system:serviceaccount:kdoctor:kdoctor")
    assert target["server"] == f"https://127.0.0.1:{api.port}"
    assert target["config"]["namespace"] == "kdoctor"
    results = results_by_id(report)
    for check_id in ("incluster.env", "incluster.token", "incluster.ca", "incluster.namespace"):
        assert results[check_id]["status"] == "pass", results[check_id]
    for check_id in (
        "dns.nameservers",
        "dns.service",
        "dns.fqdn",
        "dns.matches-service-host",
        "dns.wildcard",
    ):
        assert results[check_id]["status"] == "pass", results[check_id]
    # The test DNS server lives on loopback and answers the cluster's name: a node-local cache's
    # situation, so a note in the passing check, not a warning.
    assert results["dns.resolv-conf"]["status"] == "pass", results["dns.resolv-conf"]
    assert "note: loopback nameserver" in results["dns.resolv-conf"]["summary"]
    assert "node-local DNS cache" in results["dns.resolv-conf"]["summary"]
    # The in-cluster target went through the network families with the pod's CA and token.
    if "auth.identity" in results:
        assert results["auth.identity"]["status"] == "pass"
        assert "system:serviceaccount:kdoctor:kdoctor" in results["auth.identity"]["summary"]
    if "tls.chain" in results:
        assert results["tls.chain"]["status"] == "pass"
    assert not any(r["id"].startswith("kubeconfig.") for r in target["results"])
    assert text.code == 0 and "incluster.token" in text.stdout
    assert_no_secret(pod, result.stdout, result.stderr, text.stdout, text.stderr)


def test_auto_detection_and_no_in_cluster(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    with DNSServer(records={SERVICE_FQDN: [("A", "127.0.0.1")]}) as dns:
        pod = make_pod(api, dns, tmp_path)
        auto = pod.run("run", "-o", "json", "--check", "incluster")
        forced_off = pod.run("run", "--no-in-cluster", "-o", "json", "--check", "kubeconfig.found")
    assert auto.json["targets"][0]["mode"] == "in-cluster"
    assert results_by_id(auto.json)["incluster.token"]["status"] == "pass"
    assert forced_off.json["targets"][0]["mode"] == "kubeconfig"


def test_broken_pod_findings(emulator: EmulatorFactory, tmp_path: Path) -> None:
    """An expired token, a namespace file from elsewhere, DNS that answers another address."""
    api = emulator("healthy")
    expired = api.mint_sa_token("kdoctor", "kdoctor", issued_at=1_000_000_000, expires_in=3600)
    with DNSServer(records={SERVICE_FQDN: [("A", "10.96.0.1")]}) as dns:
        pod = make_pod(api, dns, tmp_path, token=expired)
        (pod.sa_dir / "namespace").write_text("other-team")
        result = pod.run("run", "--in-cluster", "-o", "json")
    assert result.code == 1, result.stderr
    assert_valid_report(result.json)
    results = results_by_id(result.json)
    assert results["incluster.token"]["status"] == "fail"
    assert "expired" in results["incluster.token"]["summary"]
    assert results["incluster.namespace"]["status"] == "fail"
    assert results["dns.matches-service-host"]["status"] == "fail"
    assert (
        "10.96.0.1 but KUBERNETES_SERVICE_HOST is 127.0.0.1" in results["dns.matches-service-host"]["summary"]
    )
    assert_no_secret(pod, result.stdout, result.stderr)


def test_missing_env_and_files(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    with DNSServer(records={SERVICE_FQDN: [("A", "127.0.0.1")]}) as dns:
        pod = make_pod(api, dns, tmp_path)
        pod.env = {}
        (pod.sa_dir / "token").unlink()
        result = pod.run("run", "--in-cluster", "-o", "json")
    assert result.code == 1, result.stderr
    results = results_by_id(result.json)
    assert results["incluster.env"]["status"] == "fail"
    assert results["incluster.token"]["status"] == "fail"
    assert "automountServiceAccountToken" in results["incluster.token"]["hint"]
    # Without a server the network checks are skipped (never `error`).
    assert all(r["status"] != "error" for r in results.values()), [
        r for r in results.values() if r["status"] == "error"
    ]
    assert results["dns.matches-service-host"]["status"] == "skip"


def test_explain_incluster_and_dns(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    with DNSServer() as dns:
        pod = make_pod(api, dns, tmp_path)
        token = pod.run("explain", "incluster.token", in_cluster_flags=False)
        wildcard = pod.run("explain", "dns.wildcard", in_cluster_flags=False)
    assert token.code == 0 and "kubelet" in token.stdout and "stale" in token.stdout
    assert wildcard.code == 0 and "search domain" in wildcard.stdout


def test_loopback_nameserver_that_does_not_know_the_cluster_warns(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """The same loopback nameserver, without the cluster's names: the suspicion now has evidence."""
    api = emulator("healthy")
    with DNSServer(records={}) as dns:
        pod = make_pod(api, dns, tmp_path)
        result = pod.run("run", "--in-cluster", "-o", "json", "--check", "dns")
    results = results_by_id(result.json)
    assert results["dns.resolv-conf"]["status"] == "warn", results["dns.resolv-conf"]
    assert "loopback nameserver" in results["dns.resolv-conf"]["summary"]
