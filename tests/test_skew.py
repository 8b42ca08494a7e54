"""apiserver.skew: the version-skew judgement as a table, then against the emulator with the kubectl on PATH
(kubectl asked first: it warns about the same skew itself)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kdoctor.api import Status
from kdoctor.context import Environment
from kdoctor.probes.kubectl import KubectlClient, read_path_kubectl
from kdoctor.skew import judge_skew, kubectl_download_url, minor_version
from tests.lab.tools import plain_kubectl
from tests.test_apiserver_checks import run_checks, start

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

TODAY = date(2026, 12, 1)


def _v(git: str, **extra: Any) -> dict[str, Any]:
    return {"gitVersion": git, **extra}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_v("v1.31.4"), (1, 31)),
        (_v("v1.30.2-eks-7f9249a"), (1, 30)),
        ({"major": "1", "minor": "32+"}, (1, 32)),
        ({"gitVersion": "garbage", "major": "1", "minor": "28"}, (1, 28)),
        ({"gitVersion": "garbage"}, None),
        ("not a dict", None),
        (None, None),
    ],
)
def test_minor_version(document: Any, expected: tuple[int, int] | None) -> None:
    assert minor_version(document) == expected


@pytest.mark.parametrize(
    ("server", "client", "status", "skew"),
    [
        ("v1.33.1", "v1.33.0", "pass", 0),
        ("v1.33.1", "v1.34.0", "pass", 1),
        ("v1.33.1", "v1.32.4", "pass", -1),
        ("v1.29.12", "v1.32.4", "warn", 3),
        ("v1.34.0", "v1.31.0", "warn", -3),
        ("v1.34.0", None, "pass", None),
    ],
)
def test_judge_skew(server: str, client: str | None, status: str, skew: int | None) -> None:
    kubectl = _v(client, platform="linux/arm64") if client else None
    verdict = judge_skew(
        _v(server), kubectl, today=TODAY, kubectl_path="/usr/bin/kubectl" if client else None
    )
    assert verdict.status == status
    assert verdict.details.get("minor_skew") == skew
    if status == "warn":
        assert "beyond kubectl's supported skew of ±1 minor" in verdict.summary
        url = f"https://dl.k8s.io/release/{server.split('-')[0]}/bin/linux/arm64/kubectl"
        assert url in verdict.hint
        assert ("older" in verdict.summary) == (skew is not None and skew < 0)
    if client is None:
        assert "no kubectl on PATH" in verdict.summary


def test_end_of_life_is_a_note_not_a_warning() -> None:
    verdict = judge_skew(_v("v1.31.4"), _v("v1.31.0"), today=TODAY)
    assert verdict.status == "pass"
    assert "note: Kubernetes 1.31 reached upstream end of life on 2025-10-28" in verdict.summary
    current = judge_skew(_v("v1.34.2"), _v("v1.34.0"), today=date(2026, 1, 1))
    assert "end of life" not in current.summary


def test_outside_kdoctors_range_is_a_note() -> None:
    verdict = judge_skew(_v("v1.16.0"), None, today=TODAY)
    assert verdict.status == "pass"
    assert "long past upstream end of life" in verdict.summary
    assert "kdoctor's verdicts are written for Kubernetes 1.24–1.35" in verdict.summary


def test_unreadable_server_version_skips() -> None:
    assert judge_skew({"kind": "Status"}, None, today=TODAY).status == "skip"


def test_download_url() -> None:
    assert (
        kubectl_download_url("v1.29.12", "linux/amd64")
        == "https://dl.k8s.io/release/v1.29.12/bin/linux/amd64/kubectl"
    )
    assert kubectl_download_url("v1.30.2-eks-1", "windows/amd64").endswith(
        "/v1.30.2/bin/windows/amd64/kubectl.exe"
    )


def test_a_version_dispatcher_is_not_skewed() -> None:
    verdict = judge_skew(_v("v1.29.12"), _v("v1.32.4-dispatcher"), today=TODAY)
    assert verdict.status == "pass"
    assert "version dispatcher" in verdict.summary


def _run_with_kubectl(config: Path, home: Path, kubectl: str | None) -> Any:
    """kdoctor's run with PATH holding only `kubectl` (or nothing)."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    if kubectl is not None:
        (bin_dir / "kubectl").symlink_to(kubectl)
    saved = os.environ["PATH"]
    os.environ["PATH"] = str(bin_dir)
    try:
        return run_checks(config, home)
    finally:
        os.environ["PATH"] = saved


def test_skewed_server_against_a_real_kubectl(emulator: EmulatorFactory, tmp_path: Path) -> None:
    kubectl = plain_kubectl()
    client = json.loads(
        subprocess.run(
            [kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30
        ).stdout
    )["clientVersion"]
    _api, config = start(emulator, "version-skew", tmp_path)
    asked = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "version"], capture_output=True, text=True, timeout=30
    )
    gap = int(client["minor"].rstrip("+")) - 29
    assert gap >= 2, f"the test needs a kubectl at least two minors past 1.29, not {client['gitVersion']}"
    assert "exceeds the supported minor version skew of +/-1" in asked.stderr, asked.stderr
    run = _run_with_kubectl(config, tmp_path, kubectl)
    skew = run["apiserver.skew"]
    assert skew.status is Status.WARN, run.text()
    assert "v1.29.12" in skew.summary and f"{gap} minor versions newer" in skew.summary
    assert "https://dl.k8s.io/release/v1.29.12/bin/linux/amd64/kubectl" in skew.hint
    assert skew.details["kubectl"] == client["gitVersion"]


def test_no_kubectl_on_path_is_not_a_finding(emulator: EmulatorFactory, tmp_path: Path) -> None:
    _api, config = start(emulator, "version-skew", tmp_path)
    skew = _run_with_kubectl(config, tmp_path, None)["apiserver.skew"]
    assert skew.status is Status.PASS
    assert "no kubectl on PATH" in skew.summary


def test_the_kubectl_document_is_cached_per_binary(tmp_path: Path) -> None:
    """A second diagnosis does not run the same kubectl again; a changed binary is asked afresh."""
    bin_dir, runs = tmp_path / "bin", tmp_path / "runs"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"

    def write(version: str) -> None:
        kubectl.write_text(
            "#!/bin/sh\n"
            f"echo run >> {runs}\n"
            f'echo \'{{"clientVersion": {{"gitVersion": "{version}", "major": "1", "minor": "30"}}}}\'\n'
        )
        kubectl.chmod(0o755)

    class _Ctx:
        timeout = 5.0
        environment = Environment(env={"PATH": str(bin_dir)}, home=tmp_path / "home")

    def ask() -> KubectlClient:
        return asyncio.run(read_path_kubectl(_Ctx()))  # type: ignore[arg-type]

    write("v1.30.1")
    first, second = ask(), ask()
    assert first.version == second.version == {"gitVersion": "v1.30.1", "major": "1", "minor": "30"}
    assert runs.read_text().count("run") == 1
    assert (tmp_path / "home" / ".cache" / "kdoctor" / "kubectl-client.json").is_file()
    write("v1.30.12")  # another binary at the same path: another size and modification time
    assert ask().version == {"gitVersion": "v1.30.12", "major": "1", "minor": "30"}
    assert runs.read_text().count("run") == 2


def test_one_run_asks_kubectl_once_for_all_its_targets(tmp_path: Path) -> None:
    """--all-contexts: the targets of one run share one answer, even with no cache file to share it
    through (a first run, a home that cannot be written): not one kubectl process per context."""
    bin_dir, runs = tmp_path / "bin", tmp_path / "runs"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(
        "#!/bin/sh\n"
        f"echo run >> {runs}\n"
        "sleep 0.2\n"  # still running while the other targets ask
        'echo \'{"clientVersion": {"gitVersion": "v1.30.1", "major": "1", "minor": "30"}}\'\n'
    )
    kubectl.chmod(0o755)
    # The cache directory's place is taken by a file: nothing can be cached between the asks.
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".cache").write_text("not a directory")

    class _Ctx:
        timeout = 5.0
        environment = Environment(env={"PATH": str(bin_dir)}, home=tmp_path / "home")

    async def one_run() -> list[KubectlClient]:
        return list(await asyncio.gather(*(read_path_kubectl(_Ctx()) for _ in range(20))))  # type: ignore[arg-type]

    answers = asyncio.run(one_run())
    assert {a.version["gitVersion"] for a in answers if a.version} == {"v1.30.1"}
    assert len(answers) == 20 and all(a.version for a in answers)
    assert runs.read_text().count("run") == 1
    asyncio.run(one_run())  # another run (another event loop) asks again: the binary may have changed
    assert runs.read_text().count("run") == 2
