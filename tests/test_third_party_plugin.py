"""The README's third-party check (examples/plugin) works as a plugin, found through its entry point."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.clirun import REPO, install_plugin, kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory
from tests.reportvalidation import assert_valid_report

PLUGIN_DIR = REPO / "examples" / "plugin"


def _kubeconfig(tmp_path: Path, url: str, ca_pem: bytes, token: str, namespace: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "emu",
        "clusters": [
            {
                "name": "emu",
                "cluster": {"server": url, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "emu", "namespace": namespace}}],
        "users": [{"name": "emu", "user": {"token": token}}],
    }
    path = tmp_path / f"config-{namespace}"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def test_example_plugin_is_listed_explained_and_run(tmp_path: Path, emulator: EmulatorFactory) -> None:
    emu = emulator("healthy")
    token = next(iter(emu.tokens))
    site = install_plugin(
        tmp_path / "site", "kdoctor-example-checks", {"example": "kdoctor_example_checks:CHECKS"}
    )
    paths = [site, PLUGIN_DIR]

    listing = kdoctor("checks", home=tmp_path, pythonpath=paths)
    assert "example.namespace" in listing.stdout and "from: kdoctor-example-checks" in listing.stdout

    explained = kdoctor("explain", "example.namespace", home=tmp_path, pythonpath=paths)
    assert "typo" in explained.stdout

    good = _kubeconfig(tmp_path, emu.url, emu.ca_pem, token, "default")
    done = kdoctor("run", "--kubeconfig", str(good), "-o", "json", home=tmp_path, pythonpath=paths)
    assert_valid_report(done.json)
    result = next(r for r in done.json["targets"][0]["results"] if r["id"] == "example.namespace")
    assert (result["status"], result["summary"]) == ("pass", "namespace 'default' exists")

    typo = _kubeconfig(tmp_path, emu.url, emu.ca_pem, token, "defualt")
    done = kdoctor(
        "run", "--kubeconfig", str(typo), "--check", "example", "-o", "json", home=tmp_path, pythonpath=paths
    )
    assert done.code == 1
    result = next(r for r in done.json["targets"][0]["results"] if r["id"] == "example.namespace")
    assert (result["status"], result["summary"]) == ("fail", "namespace 'defualt' does not exist")
