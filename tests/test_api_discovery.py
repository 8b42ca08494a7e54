"""apiserver.discovery: the judgement as a table, then against the emulator (aggregated and legacy discovery,
an extension API that is down, RBAC that hides its APIService), with kubectl asked first."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kdoctor.api import Status
from kdoctor.discovery import (
    UNAVAILABLE,
    DiscoveryFacts,
    GroupVersionState,
    apiservice_facts,
    apiservice_name,
    is_aggregated,
    judge_discovery,
    legacy_group_versions,
    legacy_state,
    parse_aggregated,
)
from tests.lab.tools import plain_kubectl
from tests.test_apiserver_checks import run_checks

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

METRICS = "metrics.k8s.io/v1beta1"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", "v2"),
        ("application/json; g=apidiscovery.k8s.io; v=v2beta1; as=APIGroupDiscoveryList", "v2beta1"),
        ("application/json", None),
        (None, None),
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=Something", None),
    ],
)
def test_is_aggregated(content_type: str | None, expected: str | None) -> None:
    assert is_aggregated(content_type) == expected


def test_parse_aggregated_marks_stale_group_versions() -> None:
    document = {
        "kind": "APIGroupDiscoveryList",
        "items": [
            {
                "metadata": {"name": "apps"},
                "versions": [{"version": "v1", "resources": [{}, {}], "freshness": "Current"}],
            },
            {
                "metadata": {"name": "metrics.k8s.io"},
                "versions": [{"version": "v1beta1", "freshness": "Stale"}],
            },
            {"metadata": {}, "versions": [{"version": "v1", "resources": [{}]}]},
            "junk",
        ],
    }
    states = parse_aggregated(document)
    assert states == [
        GroupVersionState("apps/v1", "ok", 2),
        GroupVersionState(METRICS, "stale", 0, f"stale GroupVersion discovery: {METRICS}"),
        GroupVersionState("v1", "ok", 1),
    ]
    assert parse_aggregated({"kind": "APIGroupList", "groups": []}) is None


def test_legacy_walk_reads_like_client_go() -> None:
    api = {"kind": "APIVersions", "versions": ["v1"]}
    apis = {
        "groups": [
            {"name": "apps", "versions": [{"groupVersion": "apps/v1"}]},
            {"name": "x", "versions": "bad"},
        ]
    }
    assert legacy_group_versions(api, apis) == ["v1", "apps/v1"]
    assert legacy_state(METRICS, 503, None) == GroupVersionState(METRICS, "failed", 0, UNAVAILABLE)
    forbidden = {"kind": "Status", "message": "forbidden: User cannot get path"}
    assert legacy_state("apps/v1", 403, forbidden).error == "forbidden: User cannot get path"
    assert legacy_state("apps/v1", 200, {"resources": [{}, {}, {}]}).resources == 3
    assert legacy_state("apps/v1", 200, {"kind": "Other"}).error == "received empty response for: apps/v1"
    assert legacy_state("apps/v1", None, None, "timed out").error == "timed out"


def test_apiservice_facts() -> None:
    assert apiservice_name(METRICS) == "v1beta1.metrics.k8s.io"
    body = {
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MissingEndpoints",
                    "message": "no endpoints",
                }
            ]
        },
    }
    facts = apiservice_facts("v1beta1.metrics.k8s.io", 200, body)
    assert (facts.service, facts.available, facts.reason, facts.message) == (
        "kube-system/metrics-server",
        "False",
        "MissingEndpoints",
        "no endpoints",
    )
    assert apiservice_facts("x", 403, {"kind": "Status"}).readable is False


def _facts(*states: GroupVersionState, aggregated: bool = True, **extra: Any) -> DiscoveryFacts:
    return DiscoveryFacts(aggregated, "v2" if aggregated else None, states, **extra)


def test_judge_discovery() -> None:
    ok = GroupVersionState("v1", "ok", 10)
    assert judge_discovery(_facts(ok)).status == "pass"
    assert "aggregated discovery (apidiscovery.k8s.io/v2)" in judge_discovery(_facts(ok)).summary
    legacy = judge_discovery(_facts(ok, aggregated=False))
    assert "legacy discovery" in legacy.summary
    stale = GroupVersionState(METRICS, "stale", 0, f"stale GroupVersion discovery: {METRICS}")
    verdict = judge_discovery(_facts(ok, stale))
    assert verdict.status == "warn"
    assert f"unable to retrieve the complete list of server APIs: {METRICS}: stale" in verdict.summary
    assert "kubectl works for the other 1" in verdict.summary
    assert "kubectl describe apiservice v1beta1.metrics.k8s.io" in verdict.hint
    refused = judge_discovery(_facts(error="GET /api answered 401 Unauthorized", error_status=401))
    assert refused.status == "skip" and "auth.identity says why" in refused.summary


def _kubeconfig(api: Any, tmp_path: Path, token: str | None = None) -> Path:
    return api.write_kubeconfig(tmp_path / "config", token=token)


def test_healthy_cluster_serves_aggregated_discovery(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    result = run_checks(_kubeconfig(api, tmp_path), tmp_path)["apiserver.discovery"]
    assert result.status is Status.PASS, result.summary
    assert result.details["aggregated"] is True
    assert result.details["group_versions"] >= 15
    assert "via aggregated discovery (apidiscovery.k8s.io/v2)" in result.summary


def test_metrics_down_names_the_group_version_its_apiservice_and_service(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("metrics-down")
    result = run_checks(_kubeconfig(api, tmp_path), tmp_path)["apiserver.discovery"]
    assert result.status is Status.WARN, result.summary
    assert f"{METRICS}: stale GroupVersion discovery: {METRICS}" in result.summary
    assert (
        "APIService v1beta1.metrics.k8s.io → Service kube-system/metrics-server Available=False"
        in result.summary
    )
    assert "connection refused" in result.summary
    assert "kubectl works for the other" in result.summary and "skips these quietly" in result.summary
    assert "kubectl -n kube-system get endpoints metrics-server" in result.hint
    (failing,) = result.details["failing"]
    assert failing["apiservice"]["reason"] == "FailedDiscoveryCheck"


def test_aggregated_stale_group_version_kubectl_skips_quietly(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """kubectl (aggregated discovery) lists everything else and says nothing; `kubectl top` is what fails."""
    api = emulator("metrics-down")
    config = _kubeconfig(api, tmp_path)
    kubectl = plain_kubectl()
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    listed = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "api-resources"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert listed.returncode == 0 and "metrics.k8s.io" not in listed.stderr, listed.stderr
    raw = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "get", "--raw", f"/apis/{METRICS}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert raw.returncode != 0 and UNAVAILABLE in raw.stderr, raw.stderr
    result = run_checks(config, tmp_path)["apiserver.discovery"]
    assert result.status is Status.WARN
    assert "skips these quietly, but requests to them fail" in result.summary


def test_legacy_discovery_agrees_with_kubectl(emulator: EmulatorFactory, tmp_path: Path) -> None:
    """A server without aggregated discovery: kubectl walks the groups and prints the 503; so does kdoctor."""
    api = emulator("metrics-down", aggregated_discovery=False)
    config = _kubeconfig(api, tmp_path)
    kubectl = plain_kubectl()
    asked = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "get", "pods"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    expected = f"couldn't get resource list for {METRICS}: {UNAVAILABLE}"
    assert expected in asked.stderr, asked.stderr
    # Only the extension API: every built-in group-version answered kubectl.
    assert "received empty response" not in asked.stderr
    result = run_checks(config, tmp_path)["apiserver.discovery"]
    assert result.status is Status.WARN
    assert expected in result.summary and "every kubectl command prints this error" in result.summary
    assert result.details["aggregated"] is False
    assert [f["group_version"] for f in result.details["failing"]] == [METRICS]


def test_rbac_that_hides_the_apiservice_is_said(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("metrics-down")
    result = run_checks(_kubeconfig(api, tmp_path, token=api.limited_token), tmp_path)["apiserver.discovery"]
    assert result.status is Status.WARN
    assert "APIService v1beta1.metrics.k8s.io not readable here (403: RBAC)" in result.summary
