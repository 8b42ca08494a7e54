"""Apiserver proxy URLs: the segment grammar from the Kubernetes page, validation, and the CLI command."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdoctor.context import Environment
from kdoctor.proxyurl import (
    ServiceRef,
    apiserver_proxy_url,
    parse_service_spec,
    proxy_url_command,
    split_proxy_path,
)
from tests.clirun import kdoctor

SERVER = "https://104.197.5.247"


@pytest.mark.parametrize(
    ("spec", "ref", "url"),
    [
        # the four forms the page lists
        (
            "elasticsearch-logging",
            ServiceRef("elasticsearch-logging"),
            "services/elasticsearch-logging/proxy/",
        ),
        ("kube-dns:dns-tcp", ServiceRef("kube-dns", port="dns-tcp"), "services/kube-dns:dns-tcp/proxy/"),
        ("web:8080", ServiceRef("web", port="8080"), "services/web:8080/proxy/"),
        ("https:web:", ServiceRef("web", scheme="https"), "services/https:web:/proxy/"),
        ("https:web:8443", ServiceRef("web", scheme="https", port="8443"), "services/https:web:8443/proxy/"),
        # explicit http is the default and is not written
        ("http:web:80", ServiceRef("web", port="80"), "services/web:80/proxy/"),
    ],
)
def test_page_forms(spec: str, ref: ServiceRef, url: str) -> None:
    assert parse_service_spec(spec) == ref
    built = apiserver_proxy_url(SERVER, ref.name, "kube-system", ref.scheme, ref.port)
    assert built == f"{SERVER}/api/v1/namespaces/kube-system/{url}"


def test_page_example_url() -> None:
    # The page: https://104.197.5.247/api/v1/namespaces/kube-system/services/elasticsearch-logging/proxy/
    assert (
        apiserver_proxy_url(SERVER, "elasticsearch-logging", "kube-system", None, None)
        == "https://104.197.5.247/api/v1/namespaces/kube-system/services/elasticsearch-logging/proxy/"
    )


def test_server_path_prefix_is_kept() -> None:
    url = apiserver_proxy_url("https://rancher.example/k8s/clusters/c-1/", "web", "default", None, None)
    assert url == "https://rancher.example/k8s/clusters/c-1/api/v1/namespaces/default/services/web/proxy/"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "empty"),
        ("Web", "DNS-1035"),
        ("1web", "DNS-1035"),
        ("web-", "DNS-1035"),
        ("web_svc", "DNS-1035"),
        ("a" * 64, "DNS-1035"),
        ("web:0", "out of range"),
        ("web:70000", "out of range"),
        ("web:Http", "port name"),
        ("web:-x", "port name"),
        ("ftp:web:21", "http or https"),
        ("https:web", "ambiguous"),
        ("a:b:c:d", "too many"),
    ],
)
def test_bad_specs(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_service_spec(spec)


@pytest.mark.parametrize(
    ("server", "namespace", "words"),
    [
        ("10.0.0.1:6443", "default", "not an http"),
        ("https://h?x=1", "default", "query"),
        (SERVER, "Kube_System", "DNS-1123"),
        (SERVER, "", "DNS-1123"),
    ],
)
def test_bad_server_or_namespace(server: str, namespace: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        apiserver_proxy_url(server, "web", namespace, None, None)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces/vc-1/services/apiserver/proxy", ("vc-1", ServiceRef("apiserver"))),
        (
            "/x/api/v1/namespaces/vc-1/services/https:vc-api:443/proxy/",
            ("vc-1", ServiceRef("vc-api", "https", "443")),
        ),
        ("/api/v1/namespaces/a/services/web:http/proxy/api", ("a", ServiceRef("web", port="http"))),
        ("/api/v1/namespaces/a/services/web/proxyx", None),
        ("/api/v1/namespaces/a/pods/web/proxy/", None),
        ("", None),
    ],
)
def test_split_proxy_path(path: str, expected: tuple[str, ServiceRef] | None) -> None:
    assert split_proxy_path(path) == expected


def test_round_trip_through_split() -> None:
    url = apiserver_proxy_url(SERVER, "web", "team-a", "https", None)
    found = split_proxy_path(url.partition("247")[2])
    assert found == ("team-a", ServiceRef("web", scheme="https"))


def _write_kubeconfig(path: Path, server: str) -> None:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n"
        "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
        "users:\n- name: u\n  user:\n    token: not-a-real-token\n"
    )


def test_command_takes_the_server_from_the_kubeconfig(tmp_path: Path) -> None:
    config = tmp_path / "config"
    _write_kubeconfig(config, "https://127.0.0.1:6443")
    env = Environment(env={}, home=tmp_path)
    assert (
        proxy_url_command("https:grafana:", "monitoring", None, kubeconfig=str(config), environment=env)
        == "https://127.0.0.1:6443/api/v1/namespaces/monitoring/services/https:grafana:/proxy/"
    )
    # an explicit server wins over the kubeconfig
    assert proxy_url_command("web", "default", "http://127.0.0.1:8001", environment=env).startswith(
        "http://127.0.0.1:8001/api/v1/namespaces/default/services/web/proxy/"
    )
    with pytest.raises(ValueError, match="context nope not found"):
        proxy_url_command("web", "default", None, kubeconfig=str(config), context="nope", environment=env)


def test_cli_prints_the_url(tmp_path: Path) -> None:
    config = tmp_path / "config"
    _write_kubeconfig(config, "https://127.0.0.1:6443")
    done = kdoctor(
        "proxy-url", "kube-dns:dns", "-n", "kube-system", "--kubeconfig", str(config), home=tmp_path
    )
    assert done.code == 0, done.stderr
    assert (
        done.stdout.strip()
        == "https://127.0.0.1:6443/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy/"
    )
    assert "not-a-real-token" not in done.stdout + done.stderr


def test_cli_rejects_a_bad_spec(tmp_path: Path) -> None:
    done = kdoctor("proxy-url", "https:web", "--server", "https://127.0.0.1:6443", home=tmp_path)
    assert done.code == 2
    assert "ambiguous" in done.stderr and done.stdout == ""
