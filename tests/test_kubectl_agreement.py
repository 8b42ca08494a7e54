"""kdoctor agrees with the real kubectl on every fixture kubeconfig.

Each fixture goes to kubectl twice: `kubectl config view --minify` (loading and selection) and
`kubectl version` against a loopback TLS apiserver stand-in made here (which answers /version only to a
client that authenticates, as an apiserver without anonymous access does). Wherever kubectl cannot use
the config, kdoctor must report `fail` in the kubeconfig family; wherever kubectl works, kdoctor must
not fail it. Problems that only the server can reveal (a wrong CA, a revoked token) belong to the tls
and auth families and are not in this fixture set.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.kubeconfigs.factory import Fixture, catalogue, make_pki, tls_apiserver
from tests.fixtures.kubeconfigs.harness import run_kubeconfig_checks
from tests.lab.tools import plain_kubectl

LOADING_CHECKS = ("kubeconfig.found", "kubeconfig.parse", "kubeconfig.structure", "kubeconfig.context")


@dataclass
class KubectlVerdict:
    view_code: int
    view_stderr: str
    version_code: int
    version_stderr: str

    @property
    def works(self) -> bool:
        return self.version_code == 0


def _kubectl(binary: str, fixture: Fixture, home: Path) -> KubectlVerdict:
    # HOME and KUBECONFIG point into the test's directory: nothing reads the real ~/.kube.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": fixture.kubeconfig_env, **fixture.env}
    context = ["--context", fixture.context] if fixture.context else []
    view = subprocess.run(
        [binary, "config", "view", "--minify", *context],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    version = subprocess.run(
        [binary, "version", "--request-timeout", "3s", "-o", "json", *context],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    return KubectlVerdict(view.returncode, view.stderr.strip(), version.returncode, version.stderr.strip())


@dataclass
class Agreement:
    fixtures: dict[str, Fixture]
    kubectl: dict[str, KubectlVerdict]
    home: Path
    minor: int


def _client_minor(binary: str) -> int:
    proc = subprocess.run(
        [binary, "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    return int("".join(c for c in json.loads(proc.stdout)["clientVersion"]["minor"] if c.isdigit()))


@pytest.fixture(scope="module")
def agreement(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agreement]:
    binary = plain_kubectl()
    root = tmp_path_factory.mktemp("agreement")
    home = root / "home"
    home.mkdir()
    pki = make_pki()
    with tls_apiserver(pki, root / "server") as server:
        fixtures = {
            f.name: f for f in catalogue(root / "fixtures", pki, server) if f.kubectl_works is not None
        }
        with ThreadPoolExecutor(max_workers=8) as pool:
            verdicts = dict(
                zip(fixtures, pool.map(lambda f: _kubectl(binary, f, home), fixtures.values()), strict=True)
            )
        # kdoctor runs while the server is still up (its kubeconfig checks never dial it, but keep it honest).
        yield Agreement(fixtures, verdicts, home, _client_minor(binary))


def _names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [
            f.name
            for f in catalogue(Path(tmp), make_pki(), "https://127.0.0.1:1")
            if f.kubectl_works is not None
        ]


@pytest.mark.parametrize("name", _names())
def test_kdoctor_agrees_with_kubectl(agreement: Agreement, name: str) -> None:
    fixture = agreement.fixtures[name]
    verdict = agreement.kubectl[name]
    if agreement.minor < fixture.kubectl_min_minor:
        pytest.skip(
            f"kubectl 1.{agreement.minor} predates what {name} tests (needs 1.{fixture.kubectl_min_minor})"
        )
    # The catalogue's claim about kubectl is itself checked against kubectl.
    assert verdict.works == fixture.kubectl_works, verdict.version_stderr or "kubectl version succeeded"
    outcome = run_kubeconfig_checks(
        agreement.home, env={"KUBECONFIG": fixture.kubeconfig_env, **fixture.env}, context=fixture.context
    )
    failed = outcome.failed()
    assert "error" not in outcome.statuses().values()
    if verdict.works:
        assert not failed, {k: outcome.results[k].summary for k in failed}
    else:
        assert failed, f"kubectl fails ({verdict.version_stderr.splitlines()[-1:]}) but kdoctor passes"
        assert all(k.startswith("kubeconfig.") for k in failed)
    if verdict.view_code != 0:
        # kubectl could not even load/select: kdoctor names that in a loading or selection check.
        assert set(failed) & set(LOADING_CHECKS), (verdict.view_stderr, failed)
