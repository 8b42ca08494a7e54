"""kdoctor's model of the official Python client's proxy choice agrees with the installed client itself.

Each case asks the real `kubernetes` package first (load_kube_config into a Configuration, then rest.py's
NO_PROXY test), in a child process whose environment holds only the case's variables; then
`kdoctor.proxyrules.python_client_would_choose` must give the same answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kdoctor.proxyrules import python_client_would_choose

P = "http://127.0.0.1:3128"
Q = "http://127.0.0.1:3129"

_ASK = """
import json, sys
from kubernetes import client, config
from kubernetes.client import rest
c = client.Configuration()
config.load_kube_config(sys.argv[1], client_configuration=c)
bypass = rest.should_bypass_proxies(c.host, c.no_proxy or "")
print(json.dumps(None if not c.proxy or bypass else c.proxy))
"""

CASES = [
    ("https://10.1.2.3:6443", {}, None),
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": P}, None),
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": P, "https_proxy": Q}, None),
    ("https://10.1.2.3:6443", {"HTTP_PROXY": P}, None),
    ("https://10.1.2.3:6443", {"ALL_PROXY": P}, None),
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}, None),
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": P, "NO_PROXY": "10.1.2.3:6443"}, None),
    ("https://127.0.0.1:6443", {"HTTPS_PROXY": P}, None),
    ("https://k8s.example.com:6443", {"HTTPS_PROXY": P, "no_proxy": ".example.com"}, None),
    ("https://k8s.example.com:6443", {"HTTPS_PROXY": P, "NO_PROXY": "*"}, None),
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": P}, Q),
    ("https://10.1.2.3:6443", {"NO_PROXY": "10.0.0.0/8"}, Q),
    ("http://10.1.2.3:8080", {"HTTPS_PROXY": P, "HTTP_PROXY": Q}, None),
]


def _kubeconfig(path: Path, server: str, proxy_url: str | None) -> Path:
    proxy = f', proxy-url: "{proxy_url}"' if proxy_url else ""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f'clusters: [{{name: c, cluster: {{server: "{server}", insecure-skip-tls-verify: true{proxy}}}}}]\n'
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: not-a-secret}}]\n"
    )
    return path


@pytest.mark.parametrize(("server", "env", "proxy_url"), CASES)
def test_model_agrees_with_the_installed_client(
    tmp_path: Path, server: str, env: dict[str, str], proxy_url: str | None
) -> None:
    config = _kubeconfig(tmp_path / "config", server, proxy_url)
    done = subprocess.run(
        [sys.executable, "-c", _ASK, str(config)],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr  # the kubernetes package is a test dependency
    real = json.loads(done.stdout)
    assert python_client_would_choose(server, env, proxy_url) == real, (server, env, proxy_url)
