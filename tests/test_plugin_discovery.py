"""Plugin discovery without importlib.metadata finds exactly what importlib.metadata finds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.clirun import base_env, install_plugin

SCRIPT = """
import json
from importlib import metadata
from kdoctor.registry import discover

def rows(eps):
    return [[ep.name, ep.value, ep.module, ep.dist.name if ep.dist else None] for ep in eps]

print(json.dumps({"fast": rows(discover()), "metadata": rows(metadata.entry_points(group="kdoctor.checks"))}))
"""


def discovered(tmp_path: Path, sites: list[Path]) -> tuple[list[list[str]], list[list[str]]]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=base_env(tmp_path, pythonpath=sites),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    return doc["fast"], doc["metadata"]


def test_builtin_families_are_found_as_importlib_finds_them(tmp_path: Path) -> None:
    fast, reference = discovered(tmp_path, [])
    assert fast == reference
    assert {row[0] for row in fast} >= {"kubeconfig", "dns", "apiserver", "proxy", "tls", "auth"}
    assert all(row[3] == "kdoctor" for row in fast)


def test_third_party_plugins_still_load_and_the_first_of_a_name_wins(tmp_path: Path) -> None:
    first = install_plugin(
        tmp_path / "a", "kdoctor-acme", {"acme": "acme_checks:CHECKS", "broken": "nope:CHECKS [extra]"}
    )
    # The same distribution again, later on sys.path: importlib.metadata keeps only the first.
    second = install_plugin(tmp_path / "b", "kdoctor_acme", {"shadowed": "shadow:CHECKS"})
    # Sections other than kdoctor.checks, comments and blank lines are not entry points of ours.
    info = next((tmp_path / "b").glob("*.dist-info"))
    other = tmp_path / "c" / "other_dist-2.0.dist-info"
    other.mkdir(parents=True)
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: other.dist\nVersion: 2.0\n")
    (other / "entry_points.txt").write_text(
        "# a comment\n[console_scripts]\nother = other:main\n\n[kdoctor.checks]\nother=other_checks:CHECKS\n"
    )
    assert info.exists()
    fast, reference = discovered(tmp_path, [first, second, tmp_path / "c"])
    assert fast == reference
    names = [row[0] for row in fast]
    assert "acme" in names and "other" in names and "shadowed" not in names
    assert ["other", "other_checks:CHECKS", "other_checks", "other.dist"] in fast
