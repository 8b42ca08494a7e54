"""client-go's proxy rules, as kdoctor.proxyrules predicts them, and the httpx / Python-client models."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from kdoctor.proxyrules import (
    HttpxRejected,
    ProxyDecision,
    decide_proxy,
    display_proxy_url,
    httpx_would_choose,
    proxy_url_secrets,
    python_client_would_choose,
    python_getproxies,
)

P = "http://proxy.corp:3128"
S = "http://secure-proxy.corp:3129"

# (server, env, cluster proxy-url, expected url, expected kind, expected source, words in reason)
CASES: list[tuple[str, dict[str, str], str | None, str | None, str, str, str]] = [
    # --- which variable -------------------------------------------------------------------------
    ("https://k8s.example:6443", {}, None, None, "direct", "none", "neither HTTPS_PROXY"),
    (
        "https://k8s.example:6443",
        {"HTTPS_PROXY": P},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "NO_PROXY is not set",
    ),
    ("https://k8s.example:6443", {"https_proxy": P}, None, P, "http-proxy", "https_proxy", "applies"),
    # upper case wins when both are set (Go's getEnvAny), unlike Python's urllib
    ("https://k8s.example", {"HTTPS_PROXY": P, "https_proxy": S}, None, P, "http-proxy", "HTTPS_PROXY", ""),
    # an empty upper-case variable falls through to the lower-case one
    ("https://k8s.example", {"HTTPS_PROXY": "", "https_proxy": S}, None, S, "http-proxy", "https_proxy", ""),
    # https servers never use HTTP_PROXY, http servers never use HTTPS_PROXY
    ("https://k8s.example", {"HTTP_PROXY": P}, None, None, "direct", "none", "HTTP_PROXY is set"),
    ("http://k8s.example:8080", {"HTTPS_PROXY": P}, None, None, "direct", "none", "HTTPS_PROXY is set"),
    ("http://k8s.example:8080", {"HTTP_PROXY": P}, None, P, "http-proxy", "HTTP_PROXY", ""),
    ("http://k8s.example:8080", {"http_proxy": P}, None, P, "http-proxy", "http_proxy", ""),
    # ALL_PROXY means nothing to Go
    ("https://k8s.example", {"ALL_PROXY": P}, None, None, "direct", "none", ""),
    # --- proxy values -----------------------------------------------------------------------------
    ("https://k8s.example", {"HTTPS_PROXY": "proxy.corp:3128"}, None, P, "http-proxy", "HTTPS_PROXY", ""),
    (
        "https://k8s.example",
        {"HTTPS_PROXY": "10.9.9.9:3128"},
        None,
        "http://10.9.9.9:3128",
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    (
        "https://k8s.example",
        {"HTTPS_PROXY": "socks5://s.corp:1080"},
        None,
        "socks5://s.corp:1080",
        "socks-proxy",
        "HTTPS_PROXY",
        "",
    ),
    (
        "https://k8s.example",
        {"HTTPS_PROXY": "https://p.corp:443"},
        None,
        "https://p.corp:443",
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    # a value Go cannot parse even with http:// in front is ignored: direct
    (
        "https://k8s.example",
        {"HTTPS_PROXY": "proxy corp:3128"},
        None,
        None,
        "direct",
        "none",
        "ignores it",
    ),
    # --- loopback and localhost ---------------------------------------------------------------------
    ("https://127.0.0.1:6443", {"HTTPS_PROXY": P}, None, None, "direct", "none", "loopback is never proxied"),
    ("https://127.3.4.5:6443", {"HTTPS_PROXY": P}, None, None, "direct", "none", "loopback"),
    ("https://[::1]:6443", {"HTTPS_PROXY": P}, None, None, "direct", "none", "loopback"),
    ("https://[::ffff:127.0.0.1]:6443", {"HTTPS_PROXY": P}, None, None, "direct", "none", "loopback"),
    (
        "https://localhost:6443",
        {"HTTPS_PROXY": P},
        None,
        None,
        "direct",
        "none",
        "localhost is never proxied",
    ),
    # only the exact name: a name that merely resolves to loopback is proxied
    ("https://kubernetes.localhost:6443", {"HTTPS_PROXY": P}, None, P, "http-proxy", "HTTPS_PROXY", ""),
    # --- NO_PROXY -----------------------------------------------------------------------------------
    (
        "https://10.1.2.3:6443",
        {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"},
        None,
        None,
        "direct",
        "none",
        "NO_PROXY entry 10.0.0.0/8 matches 10.1.2.3",
    ),
    (
        "https://11.1.2.3:6443",
        {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "no NO_PROXY entry matches 11.1.2.3:6443",
    ),
    (
        "https://10.1.2.3:6443",
        {"HTTPS_PROXY": P, "no_proxy": "10.1.2.3"},
        None,
        None,
        "direct",
        "none",
        "no_proxy entry 10.1.2.3",
    ),
    (
        "https://10.1.2.3:6443",
        {"HTTPS_PROXY": P, "NO_PROXY": "10.1.2.3:6443"},
        None,
        None,
        "direct",
        "none",
        "",
    ),
    (
        "https://10.1.2.3:6443",
        {"HTTPS_PROXY": P, "NO_PROXY": "10.1.2.3:443"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    ("https://10.1.2.3", {"HTTPS_PROXY": P, "NO_PROXY": "10.1.2.3:443"}, None, None, "direct", "none", ""),
    (
        "https://[fd00::5]:6443",
        {"HTTPS_PROXY": P, "NO_PROXY": "fd00::/8"},
        None,
        None,
        "direct",
        "none",
        "fd00::/8",
    ),
    (
        "https://[fd00::5]:6443",
        {"HTTPS_PROXY": P, "NO_PROXY": "[fd00::5]:6443"},
        None,
        None,
        "direct",
        "none",
        "",
    ),
    (
        "https://k8s.example.com",
        {"HTTPS_PROXY": P, "NO_PROXY": "example.com"},
        None,
        None,
        "direct",
        "none",
        "entry example.com matches k8s.example.com",
    ),
    ("https://example.com", {"HTTPS_PROXY": P, "NO_PROXY": "example.com"}, None, None, "direct", "none", ""),
    (
        "https://notexample.com",
        {"HTTPS_PROXY": P, "NO_PROXY": "example.com"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    # a leading dot: subdomains only
    (
        "https://example.com",
        {"HTTPS_PROXY": P, "NO_PROXY": ".example.com"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    (
        "https://a.example.com",
        {"HTTPS_PROXY": P, "NO_PROXY": ".example.com"},
        None,
        None,
        "direct",
        "none",
        "",
    ),
    (
        "https://a.example.com",
        {"HTTPS_PROXY": P, "NO_PROXY": "*.example.com"},
        None,
        None,
        "direct",
        "none",
        "",
    ),
    (
        "https://example.com",
        {"HTTPS_PROXY": P, "NO_PROXY": "*.example.com"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    # ports on domain entries
    (
        "https://k8s.example.com:6443",
        {"HTTPS_PROXY": P, "NO_PROXY": "example.com:6443"},
        None,
        None,
        "direct",
        "none",
        "",
    ),
    (
        "https://k8s.example.com:443",
        {"HTTPS_PROXY": P, "NO_PROXY": "example.com:6443"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    (
        "https://k8s.example.com",
        {"HTTPS_PROXY": P, "NO_PROXY": "example.com:443"},
        None,
        None,
        "direct",
        "none",
        "",
    ),
    # case-insensitive, whitespace, empty entries
    (
        "https://K8S.Example.COM",
        {"HTTPS_PROXY": P, "NO_PROXY": " , EXAMPLE.com ,"},
        None,
        None,
        "direct",
        "none",
        "",
    ),
    # * alone matches everything, wherever it appears in the list
    (
        "https://k8s.example",
        {"HTTPS_PROXY": P, "NO_PROXY": "a.b,*"},
        None,
        None,
        "direct",
        "none",
        "NO_PROXY is *",
    ),
    # "*" inside a name is not a wildcard
    (
        "https://k8s.example",
        {"HTTPS_PROXY": P, "NO_PROXY": "k8s.*"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    # upper-case NO_PROXY wins over no_proxy
    (
        "https://k8s.example",
        {"HTTPS_PROXY": P, "NO_PROXY": "other", "no_proxy": "k8s.example"},
        None,
        P,
        "http-proxy",
        "HTTPS_PROXY",
        "",
    ),
    # Go compares domain entries as text, IP literals included
    ("https://1.2.3.4", {"HTTPS_PROXY": P, "NO_PROXY": "3.4"}, None, None, "direct", "none", ""),
    # --- the cluster's proxy-url ---------------------------------------------------------------------
    ("https://127.0.0.1:6443", {}, P, P, "http-proxy", "cluster proxy-url", "loopback included"),
    (
        "https://10.1.2.3:6443",
        {"NO_PROXY": "*", "HTTPS_PROXY": S},
        P,
        P,
        "http-proxy",
        "cluster proxy-url",
        "NO_PROXY does not apply",
    ),
    (
        "https://k8s.example",
        {},
        "socks5://s.corp:1080",
        "socks5://s.corp:1080",
        "socks-proxy",
        "cluster proxy-url",
        "",
    ),
    (
        "https://k8s.example",
        {},
        "https://p.corp:443",
        "https://p.corp:443",
        "http-proxy",
        "cluster proxy-url",
        "",
    ),
    ("https://localhost", {}, P, P, "http-proxy", "cluster proxy-url", "loopback included"),
]


@pytest.mark.parametrize(("server", "env", "cluster", "url", "kind", "source", "reason"), CASES)
def test_decide_proxy_follows_client_go(
    server: str,
    env: dict[str, str],
    cluster: str | None,
    url: str | None,
    kind: str,
    source: str,
    reason: str,
) -> None:
    decision = decide_proxy(server, env, cluster)
    assert (decision.url, decision.kind, decision.source) == (url, kind, source), decision.reason
    assert reason in decision.reason
    assert decision.error is None


@pytest.mark.parametrize(
    ("proxy_url", "error"),
    [
        ("socks4://s.corp:1080", 'unsupported scheme "socks4", must be http, https, or socks5'),
        ("proxy.corp:3128", 'unsupported scheme "proxy.corp"'),
        ("10.0.0.1:3128", "could not parse"),
    ],
)
def test_unusable_cluster_proxy_url_is_an_error(proxy_url: str, error: str) -> None:
    decision = decide_proxy("https://k8s.example", {}, proxy_url)
    assert decision.url is None and decision.kind == "direct"
    assert decision.error is not None and error in decision.error


def test_cgi_environment_refuses_http_proxy() -> None:
    decision = decide_proxy("http://k8s.example:8080", {"HTTP_PROXY": P, "REQUEST_METHOD": "GET"}, None)
    assert decision.url is None
    assert decision.error is not None and "CGI" in decision.error
    # HTTPS_PROXY is not affected by REQUEST_METHOD
    https = decide_proxy("https://k8s.example", {"HTTPS_PROXY": P, "REQUEST_METHOD": "GET"}, None)
    assert https.url == P and https.error is None


def test_bad_port_in_env_proxy_is_read_as_a_host_named_http() -> None:
    # Go: url.Parse fails on the port, url.Parse("http://" + value) succeeds with host "http:".
    decision = decide_proxy("https://k8s.example", {"HTTPS_PROXY": "http://p.corp:notaport"}, None)
    assert decision.url == "http://http://p.corp:notaport"
    assert decision.error is not None and "not a valid URL" in decision.error


def test_foreign_scheme_in_env_is_read_as_http_and_flagged() -> None:
    decision = decide_proxy("https://k8s.example", {"HTTPS_PROXY": "socks4://s.corp:1080"}, None)
    assert decision.url == "http://socks4://s.corp:1080"
    assert decision.kind == "http-proxy"
    assert decision.error is not None and "socks4://" in decision.error


def test_credentials_are_flagged_and_never_shown() -> None:
    decision = decide_proxy(
        "https://k8s.example", {"HTTPS_PROXY": "http://alice:S3cr%40t-pw@proxy.corp:3128"}, None
    )
    assert decision.credentials_in_url
    assert decision.display_url == "http://<redacted>@proxy.corp:3128"
    for text in (repr(decision), str(decision), decision.reason):
        assert "S3cr" not in text and "alice" not in text
    secrets = proxy_url_secrets(decision.url)
    assert "S3cr%40t-pw" in secrets and "S3cr@t-pw" in secrets and "alice:S3cr@t-pw" in secrets
    # a user name is scrubbed only when it is the whole credential
    assert "alice" not in secrets
    assert proxy_url_secrets("http://api-key-123456@proxy:3128") == ["api-key-123456"]
    assert proxy_url_secrets("http://proxy:3128/a@b") == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@h:1/x?y", "http://<redacted>@h:1/x?y"),
        ("http://h:1", "http://h:1"),
        ("socks5://only-user@h:1080", "socks5://<redacted>@h:1080"),
        ("http://h:1/path@not-userinfo", "http://h:1/path@not-userinfo"),
        ("no-scheme", "no-scheme"),
    ],
)
def test_display_proxy_url(url: str, shown: str) -> None:
    assert display_proxy_url(url) == shown


def test_decision_is_frozen() -> None:
    decision = decide_proxy("https://k8s.example", {}, None)
    with pytest.raises(AttributeError):
        decision.url = "http://x"  # type: ignore[misc]
    assert isinstance(decision, ProxyDecision)


# --- httpx ------------------------------------------------------------------------------------------

HTTPX_CASES: list[tuple[str, dict[str, str]]] = [
    ("https://10.1.2.3:6443", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}),
    ("https://10.0.0.0:6443", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}),
    ("https://127.0.0.1:6443", {"HTTPS_PROXY": P}),
    ("https://localhost:6443", {"HTTPS_PROXY": P, "NO_PROXY": "localhost"}),
    ("https://localhost:6443", {"HTTPS_PROXY": P}),
    ("https://k8s.example.com", {"HTTPS_PROXY": P, "NO_PROXY": "example.com"}),
    ("https://example.com", {"HTTPS_PROXY": P, "NO_PROXY": ".example.com"}),
    ("https://a.example.com", {"HTTPS_PROXY": P, "NO_PROXY": ".example.com"}),
    ("https://k8s.example.com", {"HTTPS_PROXY": P, "NO_PROXY": "example.com:443"}),
    ("https://k8s.example.com:6443", {"HTTPS_PROXY": P, "NO_PROXY": "example.com:6443"}),
    ("https://k8s.example", {"HTTPS_PROXY": P, "https_proxy": S}),
    ("https://k8s.example", {"HTTPS_PROXY": P, "https_proxy": ""}),
    ("https://k8s.example", {"ALL_PROXY": P}),
    ("https://k8s.example", {"HTTP_PROXY": P}),
    ("http://k8s.example", {"HTTP_PROXY": P, "REQUEST_METHOD": "GET"}),
    ("https://k8s.example", {"HTTPS_PROXY": "proxy.corp:3128"}),
    ("https://k8s.example", {"HTTPS_PROXY": P, "NO_PROXY": "*"}),
    ("https://[::1]:6443", {"HTTPS_PROXY": P, "NO_PROXY": "::1"}),
    ("https://[fd00::1]:6443", {"HTTPS_PROXY": P}),
    ("https://K8S.example", {"HTTPS_PROXY": P, "no_proxy": "k8s.EXAMPLE"}),
]


@pytest.fixture
def os_environ_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear the proxy variables of the real environment so httpx sees only the test's."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    yield


def _real_httpx_choice(server: str, env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> str | None:
    import httpx
    from httpx._utils import URLPattern, get_environment_proxies

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        mounts = get_environment_proxies()
    finally:
        for name in env:
            monkeypatch.delenv(name)
    url = httpx.URL(server)
    for pattern, proxy in sorted((URLPattern(k), v) for k, v in mounts.items()):
        if pattern.matches(url):
            return proxy
    return None


@pytest.mark.parametrize(("server", "env"), HTTPX_CASES)
def test_httpx_model_agrees_with_real_httpx(
    server: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, os_environ_only: None
) -> None:
    assert httpx_would_choose(server, env) == _real_httpx_choice(server, env, monkeypatch)


def test_httpx_differs_from_kubectl_where_documented() -> None:
    env = {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}
    # CIDR: kubectl direct, httpx proxied
    assert decide_proxy("https://10.1.2.3:6443", env, None).url is None
    assert httpx_would_choose("https://10.1.2.3:6443", env) == P
    # loopback: kubectl direct, httpx proxied
    assert decide_proxy("https://127.0.0.1:6443", {"HTTPS_PROXY": P}, None).url is None
    assert httpx_would_choose("https://127.0.0.1:6443", {"HTTPS_PROXY": P}) == P
    # case precedence: kubectl upper, httpx lower
    both = {"HTTPS_PROXY": P, "https_proxy": S}
    assert decide_proxy("https://k8s.example", both, None).url == P
    assert httpx_would_choose("https://k8s.example", both) == S


def test_httpx_rejects_ipv6_cidr(monkeypatch: pytest.MonkeyPatch, os_environ_only: None) -> None:
    import httpx

    env = {"HTTPS_PROXY": P, "NO_PROXY": "fd00::/8"}
    with pytest.raises(HttpxRejected):
        httpx_would_choose("https://[fd00::1]:6443", env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(httpx.InvalidURL):
        httpx.Client(trust_env=True)


def test_python_getproxies_matches_urllib(monkeypatch: pytest.MonkeyPatch, os_environ_only: None) -> None:
    import urllib.request

    env = {"HTTPS_PROXY": P, "https_proxy": S, "HTTP_PROXY": P, "no_proxy": "a,b", "ALL_PROXY": "x:1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert python_getproxies(env) == urllib.request.getproxies_environment()


# --- the official Python client ---------------------------------------------------------------------


def test_python_client_model() -> None:
    # proxy-url wins; the scheme's variable, else ALL_PROXY (kubernetes 37); NO_PROXY, CIDRs included,
    # applies to both; loopback is not special
    assert python_client_would_choose("https://k8s.example", {"HTTPS_PROXY": P}, S) == S
    assert python_client_would_choose("https://k8s.example", {"HTTPS_PROXY": P}, None) == P
    assert python_client_would_choose("https://127.0.0.1:6443", {"HTTPS_PROXY": P}, None) == P
    assert python_client_would_choose("https://10.1.2.3:6443", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}, None) is None
    assert python_client_would_choose("https://10.1.2.3:6443", {"NO_PROXY": "10.0.0.0/8"}, S) is None
    assert (
        python_client_would_choose("https://k8s.example", {"all_proxy": "p.corp:1"}, None)
        == "http://p.corp:1"
    )


# --- the probe ----------------------------------------------------------------------------------------


def test_probe_uses_access_and_registers_proxy_password(tmp_path: Path) -> None:
    from kdoctor.access import ACCESS, AccessSpec
    from kdoctor.api import Mode
    from kdoctor.context import Context, Environment, Options, Target
    from kdoctor.proxyrules import PROXY_DECISION

    env = {"HTTPS_PROXY": "http://bob:hunter2-pw@proxy.corp:3128"}
    ctx = Context(
        options=Options(), environment=Environment(env=env, home=tmp_path), target=Target(Mode.KUBECONFIG)
    )

    async def run() -> ProxyDecision:
        ctx.provide(ACCESS, AccessSpec(server="https://k8s.example:6443"))
        return await ctx.probe(PROXY_DECISION)

    decision = asyncio.run(run())
    assert decision.source == "HTTPS_PROXY" and decision.credentials_in_url
    assert "hunter2-pw" in ctx.secrets
    scrubbed = ctx.secrets.scrub(f"saw {decision.url}")
    assert "hunter2" not in scrubbed and scrubbed.endswith("@proxy.corp:3128")
