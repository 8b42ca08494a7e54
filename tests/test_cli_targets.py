"""Targets as users name them: several contexts at once, `kubectl doctor`, `kdoctor proxy-url`."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from kdoctor.emulator import Emulator
from tests.clirun import base_env, kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory
from tests.lab.tools import missing, plain_kubectl
from tests.reportvalidation import assert_valid_report


def _two_cluster_kubeconfig(tmp_path: Path, healthy: Emulator, hang: Emulator) -> Path:
    clusters = []
    users = []
    contexts = []
    for name, emu in (("good", healthy), ("stuck", hang)):
        ca = base64.b64encode(emu.ca_pem).decode()
        clusters.append({"name": name, "cluster": {"server": emu.url, "certificate-authority-data": ca}})
        users.append({"name": name, "user": {"token": next(iter(emu.tokens))}})
        contexts.append({"name": name, "context": {"cluster": name, "user": name}})
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "good",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
    }
    path = tmp_path / "config"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def test_all_contexts_a_hung_cluster_does_not_hold_up_the_others(
    tmp_path: Path, emulator: EmulatorFactory
) -> None:
    config = _two_cluster_kubeconfig(tmp_path, emulator("healthy"), emulator("hang"))
    started = time.monotonic()
    done = kdoctor(
        "run", "--all-contexts", "--kubeconfig", str(config), "--timeout", "1", "-o", "json", home=tmp_path
    )
    elapsed = time.monotonic() - started
    doc = done.json
    assert_valid_report(doc)
    targets = {t["context"]: t for t in doc["targets"]}
    assert set(targets) == {"good", "stuck"}
    assert targets["good"]["status"] != "fail"
    assert targets["stuck"]["status"] == "fail"
    stuck_chain = next(r for r in targets["stuck"]["results"] if r["id"] == "tls.chain")
    assert "timeout" in stuck_chain["summary"].lower()
    assert done.code == 1
    # Bounded by the one hung cluster's timeout, not by a serial sum; generous for a loaded machine.
    assert elapsed < 15, elapsed
    # The report's targets name every context; no target lists them all again (N x N names).
    for target in targets.values():
        context = next(r for r in target["results"] if r["id"] == "kubeconfig.context")
        assert context["status"] == "pass" and "available_contexts" not in context["details"]
        assert context["details"]["context"] == target["context"]


def test_all_contexts_text_has_one_summary_table(tmp_path: Path, emulator: EmulatorFactory) -> None:
    config = _two_cluster_kubeconfig(tmp_path, emulator("healthy"), emulator("hang"))
    done = kdoctor(
        "run", "--all-contexts", "--kubeconfig", str(config), "--timeout", "1", "-o", "text", home=tmp_path
    )
    lines = done.stdout.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split() == ["context", "status", "broken", "link", "fix"]
    )
    rows = {line.split()[0]: line for line in lines[header + 1 :] if line.strip()}
    assert set(rows) == {"good", "stuck"}, done.stdout
    assert rows["good"].split()[1:] == ["✓", "pass", "-", "every", "link", "works", "(30", "checks)"], (
        done.stdout
    )
    # The stuck server accepts TCP and never speaks TLS: the broken link is the handshake.
    assert rows["stuck"].split()[1:4] == ["✗", "fail", "tls.chain"], done.stdout
    # Details only for the failing context; -v shows both.
    assert [line for line in lines if line.startswith(("good ·", "stuck ·"))] == [
        next(line for line in lines if line.startswith("stuck ·"))
    ]
    verbose = kdoctor(
        "run",
        "--all-contexts",
        "--kubeconfig",
        str(config),
        "--timeout",
        "1",
        "-o",
        "text",
        "-v",
        home=tmp_path,
    ).stdout.splitlines()
    assert sum(1 for line in verbose if line.startswith(("good ·", "stuck ·"))) == 2


def test_kubectl_runs_kdoctor_as_a_plugin(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    plugin = shutil.which("kubectl-doctor", path=str(bindir))
    if plugin is None:
        missing("the kubectl-doctor console script (pip install the package)")
    kubectl = plain_kubectl()
    env = base_env(tmp_path)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    done = subprocess.run(
        [kubectl, "doctor", "--version"], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    from kdoctor import __version__

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"kdoctor {__version__}"
    listed = subprocess.run(
        [kubectl, "plugin", "list"], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert "kubectl-doctor" in listed.stdout


def test_proxy_url_command(tmp_path: Path) -> None:
    done = kdoctor(
        "proxy-url",
        "https:kube-dns:dns-tcp",
        "-n",
        "kube-system",
        "--server",
        "https://127.0.0.1:6443",
        home=tmp_path,
    )
    assert done.code == 0, done.stderr
    assert done.stdout.strip() == (
        "https://127.0.0.1:6443/api/v1/namespaces/kube-system/services/https:kube-dns:dns-tcp/proxy/"
    )
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:16443/prefix'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    done = kdoctor("proxy-url", "elasticsearch-logging", "--kubeconfig", str(config), home=tmp_path)
    assert done.code == 0, done.stderr
    assert done.stdout.strip() == (
        "https://127.0.0.1:16443/prefix/api/v1/namespaces/default/services/elasticsearch-logging/proxy/"
    )
    bad = kdoctor("proxy-url", "Not_A_Name", "--server", "https://127.0.0.1:6443", home=tmp_path)
    assert bad.code == 2
    assert bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr
