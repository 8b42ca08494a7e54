"""Golden JSON reports: every `kdoctor demo` scenario and every kubeconfig fixture, normalised.

They pin what kdoctor says, so that a refactor that should change nothing visibly changes nothing.
Regenerate (only when a change of verdict is intended, and say which in the commit message):

    CI=true python -m tests.golden.reports

What varies from run to run is replaced by a placeholder: timings, timestamps and dates, ports,
temporary paths, certificate fingerprints and serial numbers.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from kdoctor.demo import run_demo
from kdoctor.emulator.scenarios import SCENARIOS
from kdoctor.registry import load_registry
from tests.fixtures.kubeconfigs.factory import catalogue, make_pki
from tests.fixtures.kubeconfigs.harness import run_kubeconfig_checks

GOLDEN = Path(__file__).parent / "reports"
#: No apiserver listens here; the kubeconfig family never connects.
FIXTURE_SERVER = "https://127.0.0.1:6443"
_TIMING_KEYS = {"duration_ms", "started_at", "finished_at", "elapsed_ms", "latency_ms", "timings_ms"}
#: Facts that depend on the clock of the run: kept as a placeholder, so that their presence is pinned.
_CLOCK_KEYS = {"date_header", "skew_seconds"}

_SUBSTITUTIONS = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}| ?UTC)?"), "<TIME>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<DATE>"),
    (re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT"), "<HTTP-DATE>"),
    (re.compile(r"sha256:[0-9a-f]{8,}"), "sha256:<FP>"),
    (re.compile(r"[A-Za-z0-9+/]{60,}={0,2}"), "<BASE64>"),
    (re.compile(r"\b[0-9a-fA-F]{16,}\b"), "<HEX>"),
    (re.compile(r"\b([0-9A-Fa-f]{2}:){7,}[0-9A-Fa-f]{2}\b"), "<HEX>"),
    (re.compile(r"\b\d{12,}\b"), "<SERIAL>"),
    (re.compile(r"\b\d+(\.\d+)? ?ms\b"), "<N> ms"),
    (re.compile(r"\b\d+(\.\d+)?s\b(?= (?:to|after|ago|late|behind|ahead))"), "<N>s"),
]


def normalise(value: Any, replacements: dict[str, str], port: int | None = None) -> Any:
    if isinstance(value, dict):
        return {
            k: "<CLOCK>" if k in _CLOCK_KEYS and v is not None else normalise(v, replacements, port)
            for k, v in value.items()
            if k not in _TIMING_KEYS
        }
    if isinstance(value, list):
        return [normalise(v, replacements, port) for v in value]
    if port is not None and isinstance(value, int) and not isinstance(value, bool) and value == port:
        return "<PORT>"
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        for pattern, placeholder in _SUBSTITUTIONS:
            value = pattern.sub(placeholder, value)
        return value
    return value


def _third_party_families() -> tuple[str, ...]:
    """Installed plugins (examples/plugin in a dev venv) are left out: the goldens pin kdoctor's own checks."""
    return tuple(sorted({c.family for c in load_registry().checks if c.origin != "kdoctor"}))


def demo_report(scenario: str) -> dict[str, Any]:
    stdout, stderr = io.StringIO(), io.StringIO()
    skipped = _third_party_families()
    # No kubectl on PATH: apiserver.skew (and Go's rules by kubectl's Go version) would otherwise pin
    # whichever kubectl this machine has. The demo's credentials are tokens: nothing else is run.
    saved = os.environ.get("PATH")
    os.environ["PATH"] = ""
    try:
        run_demo(scenario, output="json", stdout=stdout, stderr=stderr, timeout=1.0, skipped=skipped)
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved
    port = re.search(r"https://(?:127\.0\.0\.1|localhost):(\d+)", stderr.getvalue())
    home = re.search(r"kubeconfig (/\S+)/\.kube/config", stderr.getvalue())
    assert port and home, stderr.getvalue()
    replacements = {
        home.group(1): "<HOME>",
        f":{port.group(1)}": ":<PORT>",
        f"port {port.group(1)}": "port <PORT>",
    }
    report = normalise(json.loads(stdout.getvalue()), replacements, int(port.group(1)))
    return report  # type: ignore[no-any-return]


def fixture_reports() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for fixture in catalogue(root / "fixtures", make_pki(), FIXTURE_SERVER):
            home = root / "home" / fixture.name
            home.mkdir(parents=True)
            # An empty PATH unless the fixture sets one: whether this machine has a plugin installed
            # (gke-gcloud-auth-plugin, kubelogin) must not show in the goldens.
            outcome = run_kubeconfig_checks(
                home,
                env={"PATH": "", "KUBECONFIG": fixture.kubeconfig_env, **fixture.env},
                context=fixture.context,
            )
            results = [r.to_json_dict() for r in outcome.results.values()]
            out[fixture.name] = normalise(results, {tmp: "<ROOT>"})
    return out


def all_reports() -> dict[str, Any]:
    reports = {f"demo-{name}": demo_report(name) for name in SCENARIOS}
    reports.update({f"kubeconfig-{name}": r for name, r in fixture_reports().items()})
    return reports


def dump(report: Any) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.glob("*.json"):
        old.unlink()
    for name, report in all_reports().items():
        (GOLDEN / f"{name}.json").write_text(dump(report))
    print(f"wrote {len(list(GOLDEN.glob('*.json')))} reports to {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    main()
