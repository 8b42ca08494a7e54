"""Names defined in several KUBECONFIG files (kdoctor.shadowing): kubectl asked which definition it uses, then
kubeconfig.parse must name the ignored one."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kdoctor.shadowing import Shadow, shadowed_definitions
from tests.fixtures.kubeconfigs.factory import kubeconfig, write
from tests.fixtures.kubeconfigs.harness import run_kubeconfig_checks
from tests.lab.tools import plain_kubectl


@dataclass(frozen=True)
class F:
    path: str
    clusters: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


def test_shadowed_definitions_table() -> None:
    a = F("/a", clusters=("c1",), contexts=("main",), users=("u1",))
    b = F("/b", clusters=("c1", "c2"), contexts=("other",), users=("u1",))
    c = F("/c", clusters=("c2",))
    assert shadowed_definitions([a, b, c]) == [
        Shadow("cluster", "c1", "/a", "/b"),
        Shadow("cluster", "c2", "/b", "/c"),
        Shadow("user", "u1", "/a", "/b"),
    ]
    assert shadowed_definitions([a]) == []
    # A name repeated inside one file is kubeconfig.structure's finding, not shadowing.
    assert shadowed_definitions([F("/a", clusters=("c1", "c1"))]) == []


def test_kubectl_uses_the_first_file_and_kdoctor_names_the_ignored_one(tmp_path: Path) -> None:
    first = write(tmp_path / "first", kubeconfig(server="https://127.0.0.1:6443"))
    second = write(tmp_path / "second", kubeconfig(server="https://127.0.0.2:6443", current=None))
    env = {"KUBECONFIG": f"{first}:{second}"}
    asked = subprocess.run(
        [plain_kubectl(), "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert asked.stdout == "https://127.0.0.1:6443", asked.stderr
    result = run_kubeconfig_checks(tmp_path, env=env).results["kubeconfig.parse"]
    assert result.status.value == "pass"
    assert f"cluster 'c1' in {second} is ignored: kubectl uses the one in {first}" in result.summary
    assert {(s["section"], s["ignored"]) for s in result.details["shadowed"]} == {
        ("cluster", str(second)),
        ("context", str(second)),
        ("user", str(second)),
    }
