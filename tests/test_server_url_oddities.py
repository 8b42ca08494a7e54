"""Server URLs that Python's urlsplit accepts and kubectl refuses: asked of kubectl first, then of kdoctor.

urlsplit strips a leading tab or space and reads `[::1]]:1` as host ::1; Go's net/url and net.Dial
refuse them. kdoctor must fail kubeconfig.server with kubectl's reason, and pass (with a note) the
fragment kubectl ignores.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from kdoctor.app import OutputOptions, run_command
from kdoctor.context import Environment, Options
from tests.lab.tools import plain_kubectl

CASES = {
    # server: (what kubectl says, kdoctor's status)
    "\thttps://127.0.0.1:1": ("invalid control character in URL", "fail"),
    " https://127.0.0.1:1": ('invalid character " " in host name', "fail"),
    "https://[::1]]:1": ("missing port in address", "fail"),
    "https://127.0.0.1:1#frag": ("127.0.0.1:1 was refused", "pass"),
}


def _config(path: Path, server: str) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
        "users": [{"name": "u", "user": {"token": "x"}}],
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("server", sorted(CASES), ids=repr)
def test_kdoctor_judges_odd_server_urls_as_kubectl_does(server: str, tmp_path: Path) -> None:
    said, status = CASES[server]
    config = _config(tmp_path / "config", server)
    kubectl = subprocess.run(
        [plain_kubectl(), "version", "--request-timeout=5s"],
        env={"KUBECONFIG": str(config), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert kubectl.returncode != 0 and said in kubectl.stderr, kubectl.stderr
    out = io.StringIO()
    run_command(
        Options(timeout=1, in_cluster=False, selected=("kubeconfig.server",)),
        OutputOptions(format="json"),
        environment=Environment(env={"KUBECONFIG": str(config)}, home=tmp_path),
        stdout=out,
        stderr=io.StringIO(),
    )
    (result,) = [
        r for r in json.loads(out.getvalue())["targets"][0]["results"] if r["id"] == "kubeconfig.server"
    ]
    assert result["status"] == status, result
    if status == "fail":
        assert said in result["summary"], result
    else:
        assert "kubectl ignores the fragment #frag" in result["summary"]


def test_an_invisible_character_in_the_host_fails_before_any_lookup(tmp_path: Path) -> None:
    # Not asked of kubectl: it would look the name up (Go's resolver refuses it as "no such host").
    config = _config(tmp_path / "config", "https://\u200f127.0.0.1:1")
    out = io.StringIO()
    run_command(
        Options(timeout=1, in_cluster=False, selected=("kubeconfig.server", "apiserver.dns")),
        OutputOptions(format="json"),
        environment=Environment(env={"KUBECONFIG": str(config)}, home=tmp_path),
        stdout=out,
        stderr=io.StringIO(),
    )
    results = {r["id"]: r for r in json.loads(out.getvalue())["targets"][0]["results"]}
    assert results["kubeconfig.server"]["status"] == "fail"
    assert "U+200F (RIGHT-TO-LEFT MARK)" in results["kubeconfig.server"]["summary"]
    assert results["apiserver.dns"]["status"] == "skip"


@pytest.mark.parametrize(
    "server", ["http://\x1b[31mred", "https://[::1", "https://127.0.0.1:99999"], ids=repr
)
def test_checks_run_without_kubeconfig_server_skip_an_unusable_url(server: str, tmp_path: Path) -> None:
    """--check apiserver.dns alone: its dependency is not in the run, so the access layer must say
    the URL is unusable (found by tests/fuzz: each network check crashed on urlsplit)."""
    config = _config(tmp_path / "config", server)
    out = io.StringIO()
    run_command(
        Options(timeout=1, in_cluster=False, selected=("apiserver.dns", "proxy.env", "tls.chain")),
        OutputOptions(format="json"),
        environment=Environment(
            env={"KUBECONFIG": str(config), "HTTPS_PROXY": "http://127.0.0.1:9"}, home=tmp_path
        ),
        stdout=out,
        stderr=io.StringIO(),
    )
    for result in json.loads(out.getvalue())["targets"][0]["results"]:
        assert result["status"] == "skip", result
        assert "no server to check" in result["summary"] and "is not usable" in result["summary"]
