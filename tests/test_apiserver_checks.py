"""apiserver.* against the emulator's scenarios, run by the real runner with the kubeconfig, tls and
auth families alongside; and, per scenario, the real kubectl's failure class compared with ours."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from kdoctor.api import Mode, Status
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.probes.api import close_session
from kdoctor.registry import RegisteredCheck
from kdoctor.report import CheckResult
from kdoctor.runner import run_target
from tests.lab.tools import plain_kubectl

if TYPE_CHECKING:
    from kdoctor.emulator import Emulator
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

ALL_SCENARIOS = [
    "healthy",
    "unknown-ca",
    "ca-rotated",
    "self-signed",
    "expired",
    "not-yet-valid",
    "san-mismatch",
    "missing-intermediate",
    "expiring-soon",
    "not-ready",
    "etcd-down",
    "unauthorized",
    "forbidden-reviews",
    "hang",
    "slow-headers",
    "html",
    "clock-skew",
]


def _families() -> list[ModuleType]:
    import kdoctor_checks.apiserver
    import kdoctor_checks.auth
    import kdoctor_checks.kubeconfig
    import kdoctor_checks.tls

    return [kdoctor_checks.kubeconfig, kdoctor_checks.apiserver, kdoctor_checks.tls, kdoctor_checks.auth]


@dataclass
class Run:
    results: dict[str, CheckResult]
    elapsed: float
    tracebacks: dict[str, str]

    def __getitem__(self, check_id: str) -> CheckResult:
        return self.results[check_id]

    def family(self, prefix: str) -> list[CheckResult]:
        return [r for cid, r in self.results.items() if cid.startswith(prefix + ".")]

    def failing(self, prefix: str) -> list[str]:
        return [r.id for r in self.family(prefix) if r.status in (Status.FAIL, Status.ERROR)]

    def text(self) -> str:
        return "\n".join(f"{r.status.value} {r.id}: {r.summary} | {r.hint}" for r in self.results.values())


def run_checks(kubeconfig: Path, home: Path, *, timeout: float = 2.0) -> Run:
    """Every check of the kubeconfig, apiserver, tls and auth families against one kubeconfig."""
    checks = [
        RegisteredCheck(cls(), "kdoctor", module.__name__) for module in _families() for cls in module.CHECKS
    ]
    ctx = Context(
        options=Options(kubeconfig=str(kubeconfig), timeout=timeout),
        environment=Environment(env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, home=home),
        target=Target(Mode.KUBECONFIG),
    )

    async def main() -> Any:
        try:
            return await run_target(ctx, checks)
        finally:
            await close_session(ctx)

    started = time.monotonic()
    outcome = asyncio.run(main())
    elapsed = time.monotonic() - started
    return Run({r.id: r for r in outcome.results}, elapsed, outcome.tracebacks)


def start(
    emulator: EmulatorFactory, scenario: str, tmp_path: Path, **kubeconfig: Any
) -> tuple[Emulator, Path]:
    api = emulator(scenario)
    return api, api.write_kubeconfig(tmp_path / "config", **kubeconfig)


TIMING_KEYS = {"dns", "connect", "tls", "first_byte"}


def test_healthy_cluster_passes_every_apiserver_check(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api, config = start(emulator, "healthy", tmp_path)
    run = run_checks(config, tmp_path)
    assert run.tracebacks == {}
    assert {r.id: r.status for r in run.family("apiserver")} == {
        cid: Status.PASS
        for cid in (
            "apiserver.dns",
            "apiserver.tcp",
            "apiserver.version",
            "apiserver.livez",
            "apiserver.readyz",
            "apiserver.clock",
            "apiserver.skew",
            "apiserver.discovery",
        )
    }, run.text()
    assert run["apiserver.dns"].summary == "127.0.0.1 is an IP address: no lookup needed"
    assert run["apiserver.tcp"].details["connected_address"] == "127.0.0.1"
    assert run["apiserver.version"].details["gitVersion"] == "v1.31.4"
    assert "v1.31.4 on linux/amd64" in run["apiserver.version"].summary
    for result in run.family("apiserver"):
        assert set(result.details["timings_ms"]) == TIMING_KEYS
    timings = run["apiserver.version"].details["timings_ms"]
    assert timings["connect"] is not None and timings["tls"] is not None and timings["first_byte"] is not None
    # One TLS connection for the whole target, whatever the number of checks that talked to it.
    assert sum(1 for c in api.connections if c.tls) == 1
    assert [r.path for r in api.requests].count("/version") == 1


def test_localhost_is_resolved_and_every_answer_listed(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "config", server=f"https://localhost:{api.port}")
    run = run_checks(config, tmp_path)
    dns = run["apiserver.dns"]
    assert dns.status is Status.PASS
    assert "127.0.0.1" in dns.details["addresses"]
    assert dns.details["timings_ms"]["dns"] is not None
    assert dns.summary.startswith("localhost resolves to ")
    # The emulator listens on 127.0.0.1 only; if the resolver put ::1 first, that attempt is refused
    # and the next address answers: every attempt is in the details.
    tcp = run["apiserver.tcp"]
    assert tcp.status is Status.PASS
    assert tcp.details["connected_address"] == "127.0.0.1"


def test_refused_port(tmp_path: Path) -> None:
    from kdoctor.emulator import Emulator

    with Emulator("healthy") as api:
        config = api.write_kubeconfig(tmp_path / "config")
    run = run_checks(config, tmp_path)
    tcp = run["apiserver.tcp"]
    assert tcp.status is Status.FAIL
    assert "refused" in tcp.summary and "nothing listens" in tcp.summary
    assert tcp.details["attempts"][0]["outcome"] == "refused"
    assert run["apiserver.version"].status is Status.SKIP
    assert run["apiserver.version"].summary == "skipped: apiserver.tcp failed"


def test_not_ready_names_the_failing_subcheck(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "not-ready", tmp_path)
    run = run_checks(config, tmp_path)
    livez, readyz = run["apiserver.livez"], run["apiserver.readyz"]
    # One sub-check fails both endpoints: one finding, reported by livez, and each names the other.
    assert livez.status is Status.FAIL
    assert livez.summary == (
        "/livez answered 500: [-]etcd failed: reason withheld; /readyz fails on it too (apiserver.readyz)"
    )
    assert "etcd" in livez.hint
    assert readyz.status is Status.SKIP
    assert "[-]etcd failed" in readyz.summary and "apiserver.livez" in readyz.summary
    # as on a real apiserver without etcd, /readyz also fails etcd-readiness: the same finding
    assert readyz.details["failed_checks"] == [
        "[-]etcd failed: reason withheld",
        "[-]etcd-readiness failed: reason withheld",
    ]
    assert run["apiserver.version"].status is Status.PASS


def test_html_server_is_not_an_apiserver(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "html", tmp_path)
    run = run_checks(config, tmp_path)
    version = run["apiserver.version"]
    assert version.status is Status.FAIL
    assert "HTML" in version.summary and "Sign in - Example Corp" in version.summary
    assert "not a Kubernetes apiserver" in version.summary
    assert "invalid character '<'" in version.summary
    assert version.details["body_preview"].startswith("<!DOCTYPE html>")
    assert run["apiserver.livez"].status is Status.SKIP


def test_clock_skew_is_a_warning_that_explains_itself(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "clock-skew", tmp_path)
    run = run_checks(config, tmp_path)
    clock = run["apiserver.clock"]
    assert clock.status is Status.WARN
    assert "is about 10 minutes ahead of this machine's" in clock.summary
    assert 595 <= clock.details["skew_seconds"] <= 605
    assert "not yet valid" in clock.hint and "nbf/exp" in clock.hint


@pytest.mark.parametrize("scenario", ["hang", "slow-headers"])
def test_a_hang_ends_in_a_verdict_within_the_timeout(
    emulator: EmulatorFactory, tmp_path: Path, scenario: str
) -> None:
    _api, config = start(emulator, scenario, tmp_path)
    run = run_checks(config, tmp_path, timeout=1.0)
    assert run.elapsed < 3.0, run.elapsed
    assert run.tracebacks == {}
    if scenario == "hang":
        chain = run["tls.chain"]
        assert chain.status is Status.FAIL
        assert "TLS handshake timeout" in chain.summary
        assert run["apiserver.tcp"].status is Status.PASS
        assert run["apiserver.version"].status is Status.SKIP
    else:
        version = run["apiserver.version"]
        assert version.status is Status.FAIL
        assert "no response headers came within 1s" in version.summary
        assert version.details["error_kind"] == "read-timeout"
        assert run["tls.chain"].status is Status.PASS


def test_etcd_down_names_the_health_check_not_the_identity(emulator: EmulatorFactory, tmp_path: Path) -> None:
    """A real kube-apiserver without etcd answers /version and /livez (500, [-]etcd) but leaves the
    SelfSubjectReview unanswered: the broken link is the health check, and the run ends in time."""
    from tests.clirun import kdoctor

    api, config = start(emulator, "etcd-down", tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    # kubectl agrees on what hangs and what answers.
    whoami = run_kubectl(config, home, "auth", "whoami")
    assert whoami.returncode != 0 and kubectl_class(whoami) == "timeout", whoami.stderr
    assert kubectl_class(run_kubectl(config, home, "get", "--raw", "/livez?verbose")) == "not-ready"
    assert kubectl_class(run_kubectl(config, home, "version", "-o", "json")) == "ok"
    api.clear_log()

    timeout = 1.0
    started = time.monotonic()
    done = kdoctor("--kubeconfig", str(config), "--timeout", f"{timeout:g}", "-o", "json", home=home)
    elapsed = time.monotonic() - started
    assert done.code == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 4 * timeout + 2 + 1.5, elapsed  # the check bound, and the interpreter's start
    (target,) = done.json["targets"]
    results = {r["id"]: r for r in target["results"]}
    assert target["root_cause"]["id"] == "apiserver.livez", target["root_cause"]
    assert "[-]etcd failed" in target["root_cause"]["summary"]
    assert "etcd" in results["apiserver.readyz"]["summary"]
    identity = results["auth.identity"]
    assert identity["status"] == "skip", identity
    assert "the apiserver is not ready" in identity["summary"]
    assert "[-]etcd failed" in identity["summary"] and "(apiserver.livez)" in identity["summary"]
    assert identity["details"]["review"]["error_kind"] == "read-timeout"
    assert results["auth.permissions"]["status"] == "skip"
    assert "apiserver.livez" in results["auth.permissions"]["summary"]
    assert done.json["summary"]["fail"] == 1
    # Both health endpoints were asked whatever the order: a read timeout is that request's fact.
    paths = [(r.method, r.path, r.status) for r in api.requests]
    assert ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", 0) in paths, paths
    assert ("GET", "/livez", 500) in paths and ("GET", "/readyz", 500) in paths, paths


# --- kubectl agreement ------------------------------------------------------------------------------


def kubectl_class(proc: subprocess.CompletedProcess[str]) -> str:
    """The failure class of a kubectl run, from what it printed."""
    if proc.returncode == 0:
        return "ok"
    err = proc.stderr
    if "x509:" in err or "tls: failed to verify" in err:
        return "tls"
    if "TLS handshake timeout" in err or "Client.Timeout" in err or "deadline exceeded" in err:
        return "timeout"
    if "invalid character '<'" in err:
        return "not-apiserver"
    if "logged in to the server" in err or "Unauthorized" in err:
        return "auth"
    if "readyz check failed" in err or "[-]" in err or "InternalError" in err:
        return "not-ready"
    return "other: " + err.strip()[-200:]


def run_kubectl(config: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "KUBECONFIG": str(config)}
    return subprocess.run(
        [plain_kubectl(), *args, "--request-timeout", "3s", "--kubeconfig", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )


EXPECTED_KUBECTL = {
    "healthy": "ok",
    "unknown-ca": "tls",
    "ca-rotated": "tls",
    "self-signed": "tls",
    "expired": "tls",
    "not-yet-valid": "tls",
    "san-mismatch": "tls",
    "missing-intermediate": "tls",
    "expiring-soon": "ok",
    "not-ready": "not-ready",
    "etcd-down": "not-ready",
    "unauthorized": "auth",
    "forbidden-reviews": "ok",
    "hang": "timeout",
    "slow-headers": "timeout",
    "html": "not-apiserver",
    "clock-skew": "ok",
}


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_kdoctor_and_kubectl_agree_on_the_failure_class(
    emulator: EmulatorFactory, tmp_path: Path, scenario: str
) -> None:
    api, config = start(emulator, scenario, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    # `version` checks reachability, TLS and (for a token) authentication; readiness needs its own request.
    not_ready = scenario in ("not-ready", "etcd-down")
    args = ("get", "--raw", "/readyz?verbose") if not_ready else ("version", "-o", "json")
    kubectl = kubectl_class(run_kubectl(config, home, *args))
    assert kubectl == EXPECTED_KUBECTL[scenario]
    api.clear_log()

    run = run_checks(config, tmp_path, timeout=1.0 if scenario in ("hang", "slow-headers") else 2.0)
    assert run.tracebacks == {}
    apiserver, tls = run.failing("apiserver"), run.failing("tls")
    if kubectl == "tls":
        assert tls, run.text()
        assert not apiserver, run.text()
    elif kubectl == "ok":
        assert not apiserver and not tls, run.text()
    elif kubectl == "timeout":
        assert apiserver or tls, run.text()
        assert run.elapsed < 3.0
    elif kubectl == "not-apiserver":
        assert apiserver == ["apiserver.version"], run.text()
    elif kubectl == "not-ready":
        # kubectl sees /readyz fail; kdoctor reports that finding once, by apiserver.livez (same sub-check).
        assert apiserver == ["apiserver.livez"] and not tls, run.text()
        assert "apiserver.livez" in run.results["apiserver.readyz"].summary, run.text()
    elif kubectl == "auth":
        assert not apiserver and not tls, run.text()
        assert "auth.identity" in run.failing("auth"), run.text()

    # Canary: the token this kubeconfig holds appears in no result, in any field.
    dumped = json.dumps([r.__dict__ for r in run.results.values()], default=str)
    assert api.admin_token not in dumped
    if kubectl == "tls":
        # Verification failed: not one request, so not one Authorization header, reached the server.
        assert api.requests == []


# --- robustness and the real command ---------------------------------------------------------------


def test_checks_skip_when_no_server_can_be_named(tmp_path: Path) -> None:
    """Run directly (no runner to skip them), the network checks say why instead of crashing."""
    import kdoctor_checks.apiserver as apiserver
    import kdoctor_checks.tls as tls

    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: missing, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    ctx = Context(
        options=Options(kubeconfig=str(config), timeout=1.0),
        environment=Environment(env={}, home=tmp_path),
        target=Target(Mode.KUBECONFIG),
    )

    # Through the runner, which turns the missing server (AccessUnavailable) into a skip with the reason.
    entries = [RegisteredCheck(cls(), "kdoctor", "test") for cls in (*apiserver.CHECKS, *tls.CHECKS)]
    results = asyncio.run(run_target(ctx, entries)).results
    assert {r.status for r in results} == {Status.SKIP}
    by_id = {r.id: r.summary for r in results}
    assert by_id["apiserver.dns"] == "no server to check: cluster 'missing' not found"
    # The rest either met the same missing server or were skipped because a dependency was.
    for check_id, summary in by_id.items():
        assert summary.startswith(("no server to check:", "skipped: apiserver.")), (check_id, summary)


def _network_site(tmp_path: Path) -> list[Path]:
    """PYTHONPATH entries that register the apiserver and tls families, unless pyproject already does."""
    from importlib import metadata

    from tests.clirun import install_plugin

    names = {ep.name for ep in metadata.entry_points(group="kdoctor.checks")}
    wanted = {"apiserver": "kdoctor_checks.apiserver:CHECKS", "tls": "kdoctor_checks.tls:CHECKS"}
    missing = {k: v for k, v in wanted.items() if k not in names}
    if not missing:
        return []
    return [install_plugin(tmp_path / "site", "kdoctor-network-under-test", missing)]


@pytest.mark.parametrize(
    ("scenario", "code", "failing"),
    [
        ("healthy", 0, None),
        ("unknown-ca", 1, "tls.chain"),
        ("hang", 1, "tls.chain"),
        ("html", 1, "apiserver.version"),
    ],
)
def test_kdoctor_run_json(
    emulator: EmulatorFactory, tmp_path: Path, scenario: str, code: int, failing: str | None
) -> None:
    from tests.clirun import kdoctor
    from tests.reportvalidation import assert_valid_report

    api, config = start(emulator, scenario, tmp_path)
    started = time.monotonic()
    done = kdoctor(
        "run", "-o", "json", "--kubeconfig", str(config), "--timeout", "1",
        home=tmp_path, pythonpath=_network_site(tmp_path),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.code == code, done.stderr
    report = done.json
    assert_valid_report(report)
    results = {r["id"]: r for r in report["targets"][0]["results"]}
    assert {"apiserver.version", "tls.chain"} <= set(results)
    if failing is None:
        assert not [r["id"] for r in results.values() if r["status"] in ("fail", "error")]
        assert set(results["apiserver.version"]["details"]["timings_ms"]) == TIMING_KEYS
    else:
        assert results[failing]["status"] == "fail"
    assert api.admin_token not in done.stdout and api.admin_token not in done.stderr
    if scenario == "hang":
        assert elapsed < 6.0  # interpreter start-up plus one 1 s timeout


def test_without_anonymous_access_version_uses_the_credential(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("healthy", anonymous=False)
    config = api.write_kubeconfig(tmp_path / "config")
    run = run_checks(config, tmp_path)
    assert run["apiserver.version"].status is Status.PASS
    assert run["apiserver.readyz"].status is Status.PASS
    versions = [r for r in api.requests if r.path == "/version"]
    # Asked anonymously first (401), then once with the bearer token on the same verified connection.
    assert [r.status for r in versions] == [401, 200]
    assert versions[0].header("authorization") is None
    assert versions[1].header("authorization") == f"Bearer {api.admin_token}"
    assert sum(1 for c in api.connections if c.tls) == 1


def test_insecure_without_anonymous_access_is_an_apiserver_that_refuses(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("healthy", anonymous=False)
    config = api.write_kubeconfig(tmp_path / "config", insecure_skip_tls_verify=True)
    run = run_checks(config, tmp_path)
    version = run["apiserver.version"]
    # kubectl sends its credential to the unverified server when asked for one; so does kdoctor
    assert version.status is Status.PASS, version.summary
    versions = [r for r in api.requests if r.path == "/version"]
    assert [r.header("authorization") for r in versions][:2] == [None, f"Bearer {api.admin_token}"]


def test_in_cluster_target_uses_the_service_account_ca(emulator: EmulatorFactory, tmp_path: Path) -> None:
    import kdoctor_checks.apiserver as apiserver
    import kdoctor_checks.tls as tls

    api = emulator("healthy")
    sa = api.serviceaccount_dir(tmp_path / "sa")
    ctx = Context(
        options=Options(in_cluster=True, serviceaccount_dir=str(sa), timeout=2.0),
        environment=Environment(
            env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)},
            home=tmp_path,
        ),
        target=Target(Mode.IN_CLUSTER),
    )
    checks = [RegisteredCheck(cls(), "kdoctor", "test") for cls in (*apiserver.CHECKS, *tls.CHECKS)]

    async def main() -> Any:
        try:
            return await run_target(ctx, checks)
        finally:
            await close_session(ctx)

    results = {r.id: r for r in asyncio.run(main()).results}
    assert {r.status for r in results.values()} == {Status.PASS}, [
        (r.id, r.summary) for r in results.values()
    ]
    assert str(sa / "ca.crt") in results["tls.insecure"].summary


def test_unresolvable_name_fails_dns_and_stops_there(tmp_path: Path) -> None:
    import socket

    # The session-wide netguard (tests/conftest.py) answers made-up names itself, as a resolver
    # answering NXDOMAIN would; without it this test must not run at all.
    assert getattr(socket, "_kdoctor_netguard", False), "tests/conftest.py must install the netguard"
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://api.kdoctor-test.invalid:6443'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    run = run_checks(config, tmp_path)
    dns = run["apiserver.dns"]
    assert dns.status is Status.FAIL
    assert dns.summary.startswith("lookup api.kdoctor-test.invalid: no such host")
    assert "getent hosts api.kdoctor-test.invalid" in dns.hint
    assert dns.details["error_kind"] == "no-such-host"
    assert dns.details["timings_ms"]["dns"] is not None
    assert run["apiserver.tcp"].summary == "skipped: apiserver.dns failed"
    assert run["tls.chain"].status is Status.SKIP


def test_unreachable_address_is_told_apart(tmp_path: Path) -> None:
    import socket

    # The netguard refuses non-loopback connects with ENETUNREACH, as a kernel without a route does.
    assert getattr(socket, "_kdoctor_netguard", False), "tests/conftest.py must install the netguard"
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://192.0.2.1:6443', insecure-skip-tls-verify: true}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    tcp = run_checks(config, tmp_path)["apiserver.tcp"]
    assert tcp.status is Status.FAIL
    assert tcp.summary.startswith("192.0.2.1:6443 is unreachable from this machine")
    assert tcp.details["attempts"][0]["outcome"] == "unreachable"
