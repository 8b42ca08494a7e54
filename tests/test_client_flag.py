"""`--client kubectl|python`: whose behaviour kdoctor judges, and the route its network checks take.

kubectl is asked first where it can be (it ignores ALL_PROXY and never proxies loopback); with
`--client python` the network checks take the route the official Python client would take, and the
differences from kubectl become findings with the Python fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.clirun import kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.proxies import Tinyproxy
from tests.lab.tools import plain_kubectl
from tests.reportvalidation import assert_valid_report

_PYTHON_GET_VERSION = """
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
print(client.VersionApi().get_code().git_version)
"""


def results(tmp_path: Path, config: Path, env: dict[str, str], *extra: str) -> dict[str, dict[str, Any]]:
    done = kdoctor(
        "run", "--kubeconfig", str(config), "-o", "json", "--timeout", "3", *extra, home=tmp_path, env=env
    )
    assert done.code in (0, 1), done.stderr
    assert_valid_report(done.json)
    return {r["id"]: r for r in done.json["targets"][0]["results"]}


def test_all_proxy_is_the_python_clients_route_not_kubectls(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("healthy")
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config")
        env = {"ALL_PROXY": proxy.url}
        # kubectl first: it ignores ALL_PROXY (and never proxies loopback)
        done = subprocess.run(
            [
                plain_kubectl(),
                "--kubeconfig",
                str(config),
                "get",
                "--raw",
                "/version",
                "--request-timeout=5s",
            ],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        assert proxy.connects() == []
        # the official Python client next: it takes ALL_PROXY, loopback or not
        python = subprocess.run(
            [sys.executable, "-c", _PYTHON_GET_VERSION, str(config)],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert python.returncode == 0 and "v1." in python.stdout, python.stderr[-2000:]
        assert proxy.connects() == [f"127.0.0.1:{api.port}"]
        before = len(proxy.connects())
        for_kubectl = results(tmp_path, config, env)
        assert len(proxy.connects()) == before  # kdoctor took kubectl's route: direct
        for_python = results(tmp_path, config, env, "--client", "python")
        tunnels = proxy.connects()[before:]
    assert for_kubectl["proxy.env"]["status"] == "pass", for_kubectl["proxy.env"]
    assert [h["kind"] for h in for_kubectl["proxy.path"]["details"]["hops"]] == ["direct"]
    # judged for the Python tool: its route is through ALL_PROXY, and every network check took it
    env_result = for_python["proxy.env"]
    assert env_result["status"] == "warn", env_result
    assert "ALL_PROXY" in env_result["summary"] and "kubectl differs" in env_result["summary"]
    assert "configuration.proxy" in env_result["hint"]
    assert for_python["proxy.path"]["details"]["hops"][0]["kind"] == "http-proxy"
    assert for_python["apiserver.version"]["status"] == "pass"
    assert tunnels and set(tunnels) == {f"127.0.0.1:{api.port}"}, tunnels


def test_token_file_with_a_newline_is_a_python_finding_only(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "config")
    token_file = tmp_path / "token"
    token_file.write_text(api.admin_token + "\n")
    text = config.read_text().replace(f"token: {api.admin_token}", f"tokenFile: {token_file}")
    assert "tokenFile" in text
    config.write_text(text)
    done = subprocess.run(
        [plain_kubectl(), "--kubeconfig", str(config), "auth", "whoami", "--request-timeout=5s"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr  # kubectl trims the newline
    python = subprocess.run(
        [sys.executable, "-c", _PYTHON_GET_VERSION, str(config)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert python.returncode != 0, python.stdout  # the Python client sends the newline, and fails
    for_kubectl = results(tmp_path, config, {}, "--check", "kubeconfig.python-client")
    for_python = results(tmp_path, config, {}, "--check", "kubeconfig.python-client", "--client", "python")
    noted = for_kubectl["kubeconfig.python-client"]
    assert noted["status"] == "pass" and "ends with a newline" in noted["summary"]
    finding = for_python["kubeconfig.python-client"]
    assert finding["status"] == "warn" and "ends with a newline" in finding["summary"]
    assert "printf %s" in finding["hint"]


def test_client_must_be_kubectl_or_python(tmp_path: Path) -> None:
    done = kdoctor("run", "--client", "go", home=tmp_path)
    assert done.code == 2
    assert "must be kubectl or python" in done.stderr
