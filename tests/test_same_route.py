"""Same route: every connection to the apiserver follows kubectl's proxy decision, and a proxy that stops
the connection is the proxy's finding.

Each case asks kubectl first, on the same kubeconfig, and checks its error string; then kdoctor must
agree: proxy.env fails naming the proxy and what it did (with phase timings), while apiserver.version,
tls.chain and proxy.path skip, saying the proxy stopped them. The proxies are real: tinyproxy, a SOCKS5
proxy, and listeners that accept and never answer, close at once, or answer TLS with plain HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kdoctor_checks.apiserver import VersionCheck
from kdoctor_checks.proxy import ProxyEnv, ProxyPath
from kdoctor_checks.tls import ChainCheck

from kdoctor.api import Status
from kdoctor.emulator import Emulator
from tests.lab.badproxies import BadProxy
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.proxies import Socks5Proxy, Tinyproxy
from tests.lab.tools import ask_kubectl
from tests.test_proxy_checks import dump, make_ctx, run_checks


def kubectl_error(tmp_path: Path, config: Path) -> str:
    """kubectl's own error for this kubeconfig ("" when it succeeded)."""
    done = ask_kubectl(config, tmp_path, request_timeout="3s")
    return "" if done.returncode == 0 else done.stderr.strip()


def assert_proxy_stopped_it(tmp_path: Path, api: Emulator, config: Path, *words: str) -> None:
    env_result, path_result, version, chain = run_checks(
        make_ctx(tmp_path, config), ProxyEnv, ProxyPath, VersionCheck, ChainCheck
    )
    assert env_result.status is Status.FAIL, dump(env_result)
    for word in words:
        assert word in env_result.summary, dump(env_result)
    fault = env_result.details["proxy_fault"]
    assert fault["phases_ms"]["connect"] is not None, fault
    assert "ms" in env_result.summary  # the phase timings are in the evidence
    for result in (version, chain, path_result):
        assert result.status is Status.SKIP, dump(result)
        assert "the proxy stopped" in result.summary and "proxy.env" in result.summary, dump(result)
    # never "the connection and TLS work": the apiserver was not reached
    assert api.requests == []


Case = Callable[[Path, BadProxy], tuple[str, tuple[str, ...], tuple[str, ...]]]


@pytest.mark.parametrize(
    ("mode", "scheme", "kubectl_words", "kdoctor_words"),
    [
        # an HTTP proxy that accepts and never answers CONNECT
        (
            "silent",
            "http",
            ("context deadline exceeded", "Client.Timeout exceeded"),
            ("never answered CONNECT",),
        ),
        # one that closes the connection at once
        (
            "close",
            "http",
            ("connection reset by peer", "EOF"),
            ("the connection instead of answering CONNECT",),
        ),
        # an https:// URL pointing at a plain-HTTP proxy
        (
            "close",
            "https",
            # EOF, or a reset when the ClientHello arrived before the close
            ("proxyconnect tcp: EOF", "proxyconnect tcp: read tcp"),
            ("the connection at the TLS handshake", "https://"),
        ),
        (
            "http-400",
            "https",
            ("proxyconnect tcp: tls: first record does not look like a TLS handshake",),
            ("answered the TLS handshake with something that is not TLS",),
        ),
        # a SOCKS5 proxy URL to something that closes at once
        ("close", "socks5", ("socks connect tcp", "EOF"), ("during the SOCKS5 exchange",)),
    ],
)
def test_a_proxy_that_stops_the_connection_is_the_proxys_failure(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    mode: str,
    scheme: str,
    kubectl_words: tuple[str, ...],
    kdoctor_words: tuple[str, ...],
) -> None:
    api = emulator("healthy")
    with BadProxy(mode) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url(scheme))
        said = kubectl_error(tmp_path, config)
        assert said and any(w in said for w in kubectl_words), said
        assert_proxy_stopped_it(tmp_path, api, config, proxy.url(scheme), *kdoctor_words)
        assert proxy.accepted >= 1


def test_https_url_for_tinyproxy_names_the_scheme(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        url = f"https://127.0.0.1:{proxy.port}"
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=url)
        said = kubectl_error(tmp_path, config)
        assert "Client.Timeout exceeded" in said or "deadline exceeded" in said, said
        assert_proxy_stopped_it(tmp_path, api, config, url, "never answered the TLS handshake")
        (env_result,) = run_checks(make_ctx(tmp_path, config), ProxyEnv)
    assert f"http://127.0.0.1:{proxy.port}" in env_result.hint


@pytest.mark.parametrize(
    ("connect_ports", "auth", "kubectl_says", "kdoctor_says"),
    [
        ("other", None, "Access violation", "refused the tunnel to the apiserver"),
        (
            "api",
            ("kdoctor", "s3cret-pw"),
            "Proxy Authentication Required",
            "407 Proxy Authentication Required",
        ),
    ],
)
def test_tinyproxy_refusals_are_the_proxys_failure(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    connect_ports: str,
    auth: tuple[str, str] | None,
    kubectl_says: str,
    kdoctor_says: str,
) -> None:
    api = emulator("healthy")
    ports = [api.port] if connect_ports == "api" else [443]
    with Tinyproxy(tmp_path, connect_ports=ports, basic_auth=auth) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url)
        said = kubectl_error(tmp_path, config)
        assert kubectl_says in said, said
        assert_proxy_stopped_it(tmp_path, api, config, proxy.url, kdoctor_says, f"kubectl: {kubectl_says}")


def test_evidence_and_fingerprint_handshakes_go_through_the_proxy(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    """With verification failing, the evidence handshake and the load-balancer handshakes tunnel too."""
    api = emulator("unknown-ca")
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url)
        said = kubectl_error(tmp_path, config)
        chain, path_result = run_checks(make_ctx(tmp_path, config), ChainCheck, ProxyPath)
        tunnels = proxy.connects()
    assert "certificate signed by unknown authority" in said, said
    assert chain.status is Status.FAIL, dump(chain)
    assert chain.details["chain"], dump(chain)  # the chain was captured, through the proxy
    # the session's connection and the evidence handshake: both a CONNECT through the proxy
    assert len(tunnels) >= 2 and set(tunnels) == {f"127.0.0.1:{api.port}"}, tunnels
    assert path_result.details["hops"][0]["kind"] == "http-proxy"


def test_load_balancer_handshakes_go_through_the_proxy(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url)
        assert kubectl_error(tmp_path, config) == ""
        before = len(proxy.connects())
        (path_result,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
        tunnels = proxy.connects()[before:]
    fingerprints = path_result.details["evidence"]["serving_leaf_sha256"]
    assert len(fingerprints) == 4, dump(path_result)  # the session's and three extra handshakes
    # one CONNECT for the session, one per extra handshake: none went around the proxy
    assert len(tunnels) == 4 and set(tunnels) == {f"127.0.0.1:{api.port}"}, tunnels


def test_evidence_handshake_goes_through_socks5(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("unknown-ca")
    with Socks5Proxy() as socks:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=socks.url)
        said = kubectl_error(tmp_path, config)
        (chain,) = run_checks(make_ctx(tmp_path, config), ChainCheck)
        connects = list(socks.connects)
    assert "certificate signed by unknown authority" in said, said
    assert chain.status is Status.FAIL and chain.details["chain"], dump(chain)
    assert len(connects) >= 2 and set(connects) == {f"127.0.0.1:{api.port}"}, connects


def test_a_proxy_that_cannot_reach_the_apiserver_says_so(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    """tinyproxy answers CONNECT to a closed port with 500: the proxy reports the apiserver unreachable."""
    from tests.lab.proxies import free_port

    api = emulator("healthy")
    closed = free_port()
    with Tinyproxy(tmp_path, connect_ports=[closed]) as proxy:
        config = api.write_kubeconfig(
            tmp_path / "config", server=f"https://127.0.0.1:{closed}", proxy_url=proxy.url
        )
        said = kubectl_error(tmp_path, config)
        assert "Unable to connect" in said, said
        (env_result,) = run_checks(make_ctx(tmp_path, config), ProxyEnv)
    assert env_result.status is Status.FAIL, dump(env_result)
    assert "could not reach the apiserver itself" in env_result.summary
    assert env_result.details["proxy_fault"]["status"] == 500


def test_an_https_proxy_url_through_a_real_tls_proxy(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    """TLS to the proxy itself (an https:// proxy URL), then CONNECT inside it. kubectl verifies the proxy
    with the cluster's TLS settings (Go clones the cluster's tls.Config for the proxy): asked first, it
    refuses the proxy even with the proxy's CA in SSL_CERT_FILE, and accepts it once the kubeconfig's
    certificate-authority bundle holds it. kdoctor must agree on both."""
    from tests.clirun import kdoctor
    from tests.lab.proxies import TlsTerminator

    api = emulator("healthy")
    with (
        Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy,
        TlsTerminator(tmp_path / "tls", ("127.0.0.1", proxy.port)) as https_proxy,
    ):
        cluster_ca_only = api.write_kubeconfig(tmp_path / "cluster-ca-only", proxy_url=https_proxy.url)
        bundle = api.write_kubeconfig(
            tmp_path / "bundle",
            proxy_url=https_proxy.url,
            ca_pem=api.ca_pem + https_proxy.ca_path.read_bytes(),
        )
        refused = ask_kubectl(cluster_ca_only, tmp_path, env={"SSL_CERT_FILE": str(https_proxy.ca_path)})
        accepted = ask_kubectl(bundle, tmp_path)
        bad = kdoctor(
            "run", "--kubeconfig", str(cluster_ca_only), "-o", "json", "--timeout", "3", home=tmp_path
        )
        good = kdoctor("run", "--kubeconfig", str(bundle), "-o", "json", "--timeout", "3", home=tmp_path)
        tunnels = proxy.connects()
    assert refused.returncode != 0 and "proxyconnect tcp: tls: failed to verify certificate" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    bad_results = {r["id"]: r for r in bad.json["targets"][0]["results"]}
    assert bad_results["proxy.env"]["status"] == "fail", bad_results["proxy.env"]
    assert (
        "presented a certificate that does not verify against the cluster CA"
        in bad_results["proxy.env"]["summary"]
    )
    assert bad_results["tls.chain"]["status"] == "skip"
    good_results = {r["id"]: r for r in good.json["targets"][0]["results"]}
    assert good_results["proxy.env"]["status"] == "pass", good_results["proxy.env"]
    assert good_results["apiserver.version"]["status"] == "pass"
    assert good_results["proxy.path"]["details"]["hops"][0]["kind"] == "http-proxy"
    assert tunnels and set(tunnels) == {f"127.0.0.1:{api.port}"}, tunnels
