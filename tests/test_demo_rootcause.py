"""Every `kdoctor demo` scenario names its broken link: the root cause's id and one key phrase,
and no finding is counted twice (one failure per faulty scenario)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from kdoctor import demo
from kdoctor.api import Status
from kdoctor.registry import load_registry
from kdoctor.report import CheckResult
from kdoctor.rootcause import blocked_by
from tests.reportvalidation import assert_valid_report

#: scenario → (root cause id, a phrase of its summary); None for scenarios where every link works.
EXPECTED: dict[str, tuple[str, str] | None] = {
    "healthy": None,
    "unknown-ca": ("tls.chain", "certificate signed by unknown authority"),
    "ca-rotated": ("tls.chain", "has the name of the configured CA but another key"),
    "self-signed": ("tls.chain", "self-signed"),
    "expired": ("tls.chain", "certificate has expired"),
    "not-yet-valid": ("tls.chain", "certificate is not yet valid"),
    "san-mismatch": ("tls.hostname", "not 127.0.0.1"),
    "missing-intermediate": ("tls.chain", "missing intermediate certificate"),
    "expiring-soon": None,
    "not-ready": ("apiserver.livez", "[-]etcd failed"),
    "etcd-down": ("apiserver.livez", "[-]etcd failed"),
    "unauthorized": ("auth.identity", "401 Unauthorized"),
    "forbidden-reviews": None,
    "hang": ("tls.chain", "TLS handshake timeout"),
    "slow-headers": ("apiserver.version", "no response headers came"),
    "html": ("apiserver.version", "not a Kubernetes apiserver"),
    "clock-skew": None,
    "cn-only": ("tls.hostname", "certificate relies on legacy Common Name field"),
    "sha1-cert": ("tls.chain", "insecure algorithm SHA1-RSA"),
    "version-skew": None,
    "metrics-down": None,
}


def test_every_scenario_is_covered() -> None:
    assert sorted(EXPECTED) == sorted(name for name, _ in demo.list_scenarios())


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_root_cause_of_each_demo_scenario(scenario: str) -> None:
    stdout = io.StringIO()
    code = demo.run_demo(scenario, output="json", stdout=stdout, stderr=io.StringIO(), timeout=1)
    doc = json.loads(stdout.getvalue())
    assert_valid_report(doc)
    (target,) = doc["targets"]
    root = target["root_cause"]
    expected = EXPECTED[scenario]
    if expected is None:
        assert root is None
        assert doc["summary"]["fail"] == 0
        # Each of these scenarios has one thing to warn about, said once.
        warnings = 0 if scenario == "healthy" else 1
        if scenario == "version-skew":
            # The skew is with the kubectl on PATH: no kubectl, or Google Cloud SDK's dispatcher (which
            # runs the release matching the server), leaves nothing to warn about.
            skew = next(r for r in target["results"] if r["id"] == "apiserver.skew")
            within = (
                skew["details"].get("kubectl") is None or abs(skew["details"].get("minor_skew") or 0) <= 1
            )
            if within or skew["details"].get("dispatcher"):
                warnings = 0
        assert doc["summary"]["warn"] == warnings, doc["summary"]
        return
    check_id, phrase = expected
    assert code == 1
    assert root["id"] == check_id, root
    assert phrase in root["summary"]
    assert root["hint"]
    # One cause, one finding: whatever else it breaks is skipped, not failed or warned again.
    assert doc["summary"]["fail"] == 1, [
        (r["id"], r["summary"]) for r in target["results"] if r["status"] == "fail"
    ]
    assert doc["summary"]["warn"] == 0, [
        (r["id"], r["summary"]) for r in target["results"] if r["status"] == "warn"
    ]
    # And every skip is either stopped by that finding (the compact report counts it under it) or one
    # that does not apply to the demo's user (no client certificate, no exec plugin).
    results = [
        CheckResult(r["id"], r["title"], Status(r["status"]), r["summary"], r["hint"])
        for r in target["results"]
    ]
    graph = {c.id: c.depends_on for c in load_registry().checks}
    unexplained = [r.id for r in results if r.status is Status.SKIP and blocked_by(r, results, graph) is None]
    assert set(unexplained) <= {"kubeconfig.client-cert", "kubeconfig.exec"}, unexplained


def test_compact_demo_report_ends_with_the_broken_link() -> None:
    stdout = io.StringIO()
    demo.run_demo("unknown-ca", output="text", stdout=stdout, stderr=io.StringIO(), timeout=2, width=100)
    lines = stdout.getvalue().splitlines()
    assert "✓ kubeconfig  11 checks · 2 not applicable" in lines
    assert "○ auth        4 checks not run: tls.chain failed" in lines
    # The summary line counts the one failure once; the headline names it with its fix.
    assert any(
        line.startswith("✗ fail: 18 passed, 0 warnings, 1 failed, 13 skipped, 0 errors") for line in lines
    )
    headline = stdout.getvalue()[stdout.getvalue().index("✗ broken link: ") :]
    assert headline.startswith("✗ broken link: tls.chain — x509: certificate signed by unknown authority")
    assert "→ fix: " in " ".join(headline.split())
    assert len(lines) < 40


def test_verbose_demo_report_shows_every_check() -> None:
    stdout = io.StringIO()
    demo.run_demo(
        "healthy", output="text", stdout=stdout, stderr=io.StringIO(), timeout=2, width=100, verbose=True
    )
    out = stdout.getvalue()
    assert "  ✓ kubeconfig.found" in out and "  ✓ auth.permissions" in out
    assert out.splitlines()[-1] == "✓ every link works (30 checks)"


def _demo_json(scenario: str) -> dict[str, dict[str, str]]:
    stdout = io.StringIO()
    demo.run_demo(scenario, output="json", stdout=stdout, stderr=io.StringIO(), timeout=2)
    doc = json.loads(stdout.getvalue())
    return {r["id"]: r for r in doc["targets"][0]["results"]}


def test_hints_carry_the_names_kdoctor_knows() -> None:
    unauthorized = _demo_json("unauthorized")
    # The demo's user is kdoctor-demo: the command can be pasted as it is.
    assert "`kubectl config set-credentials kdoctor-demo --token=…`" in unauthorized["auth.identity"]["hint"]
    forbidden = _demo_json("forbidden-reviews")
    assert (
        "`kubectl create clusterrolebinding kubernetes-admin-basic-user --clusterrole=system:basic-user "
        "--user=kubernetes-admin`" in forbidden["auth.identity"]["hint"]
    )
    # The demo finds its kubeconfig where kubectl would; nobody gave --kubeconfig.
    found = forbidden["kubeconfig.found"]["summary"]
    assert found.startswith("using ") and "--kubeconfig" not in found


def _normalised(text: str) -> list[str]:
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"[0-9A-F]{2}(:[0-9A-F]{2})+…", "X…", text)
    text = re.sub(r"\d+(\.\d+)? ms", "N ms", text)
    return text.splitlines()


def test_the_readme_opens_with_the_compact_failing_report_kdoctor_prints() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("```console\n$ kdoctor demo unknown-ca\n") :].split("```")[1]
    shown = [
        line for line in block.splitlines()[2:] if line and not line.startswith(("kdoctor demo:", "  demo "))
    ]
    stdout = io.StringIO()
    demo.run_demo("unknown-ca", output="text", stdout=stdout, stderr=io.StringIO(), timeout=2, width=100)
    printed = [line for line in _normalised(stdout.getvalue()) if line]
    expected = _normalised("\n".join(shown))
    # The README cuts the long fix short; everything before that is what kdoctor prints.
    assert expected[-1].endswith("…")
    assert printed[: len(expected) - 1] == expected[:-1]
    assert printed[len(expected) - 1].startswith(expected[-1][:-1])
