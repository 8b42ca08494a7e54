"""NO_PROXY entries that look as if they exempt the server but do not (kdoctor.noproxy): a table, then a real
kubectl through tinyproxy proving it, and proxy.env saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
from kdoctor_checks.proxy import ProxyEnv

from kdoctor.api import Status
from kdoctor.noproxy import no_proxy_notes, no_proxy_value
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.proxies import Tinyproxy
from tests.lab.tools import ask_kubectl
from tests.test_proxy_checks import alias, kubectl_binary, make_ctx, run_checks  # noqa: F401


@pytest.mark.parametrize(
    ("no_proxy", "host", "kinds"),
    [
        ("*.corp.example", "api.corp.example", []),  # client-go reads it as .corp.example: it matches
        ("*corp.example", "api.corp.example", ["glob"]),
        ("10.0.*", "10.0.3.4", ["glob"]),
        ("api-*.corp.example:6443", "api-1.corp.example", ["glob"]),
        ("10.0.0.0/8", "api.corp.example", ["cidr-for-name"]),
        ("10.0.0.1", "api.corp.example", ["cidr-for-name"]),
        ("10.0.0.0/8", "10.0.3.4", []),  # an IP-literal server: the CIDR applies
        ("*.corp.example", "corp.example", ["wildcard-apex"]),
        ("*", "api.corp.example", []),
        ("", "api.corp.example", []),
        (" .corp.example , localhost ", "api.corp.example", []),
    ],
)
def test_no_proxy_notes(no_proxy: str, host: str, kinds: list[str]) -> None:
    assert [n.kind for n in no_proxy_notes(no_proxy, host)] == kinds


def test_what_to_write_instead() -> None:
    (glob,) = no_proxy_notes("*corp.example", "api.corp.example")
    assert glob.instead == ".corp.example"
    (cidr,) = no_proxy_notes("10.0.0.0/8", "api.corp.example")
    assert cidr.instead == "api.corp.example"
    assert "does not resolve api.corp.example" in cidr.words


def test_no_proxy_value_prefers_upper_case() -> None:
    assert no_proxy_value({"NO_PROXY": "a", "no_proxy": "b"}) == "a"
    assert no_proxy_value({"no_proxy": "b"}) == "b"
    assert no_proxy_value({}) == ""


def test_kubectl_proxies_despite_the_cidr_and_glob_and_kdoctor_says_why(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    alias: tuple[str, str],  # noqa: F811
    kubectl_binary: str,  # noqa: F811
) -> None:
    name, address = alias
    api = emulator("healthy", host=address, extra_sans=(name,))
    glob = "*" + name.split("-", 1)[-1]  # e.g. *loopback-alias: a glob client-go takes literally
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", server=f"https://{name}:{api.port}")
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": f"127.0.0.0/8,{glob}"}
        done = ask_kubectl(config, tmp_path, env=env, binary=kubectl_binary)
        kubectl_tunnels = proxy.connects()
        assert done.returncode == 0, done.stderr
        # kubectl went through the proxy although the name resolves into 127.0.0.0/8 and "matches" the glob.
        assert kubectl_tunnels, "kubectl did not use the proxy"
        (result,) = run_checks(make_ctx(tmp_path, config, env), ProxyEnv)
    assert result.status in (Status.PASS, Status.WARN), result.summary
    assert "note: NO_PROXY entry '127.0.0.0/8' is an address range" in result.summary
    assert f"NO_PROXY entry '{glob}' is a glob" in result.summary
    assert {n["kind"] for n in result.details["no_proxy_notes"]} == {"cidr-for-name", "glob"}
    assert f"add {name}" in result.summary
