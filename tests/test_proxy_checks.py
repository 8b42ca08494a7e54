"""proxy.* checks against real proxies on loopback: tinyproxy, `kubectl proxy`, nginx stream, a TCP forwarder.

The pure hop assembly is tested table-driven first; then each hop kind is produced by the real thing
standing between kdoctor and the package's apiserver emulator, and the emulator (or the proxy's own
log) confirms the path the checks report.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from kdoctor_checks.apiserver import TcpCheck
from kdoctor_checks.proxy import (
    CHECKS,
    HOP_KINDS,
    LEASES_PATH,
    PathFacts,
    ProxyEnv,
    ProxyPath,
    ProxyServices,
    assemble_hops,
    live_leases,
    path_notes,
)

from kdoctor.api import Check, Mode, Result, Status, run_check
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.emulator import Service, ServicePort, UserInfo
from kdoctor.emulator.pki import make_ca
from kdoctor.emulator.scenarios import Rule
from kdoctor.probes.api import ApiResponse, close_session
from kdoctor.probes.tls import CertSummary, ChainAnalysis
from kdoctor.proxyrules import decide_proxy
from kdoctor.proxyurl import ServiceRef
from tests.clirun import install_plugin, kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.proxies import (
    KubectlProxy,
    NginxStream,
    Socks5Proxy,
    TcpForwarder,
    Tinyproxy,
    TlsInterceptor,
    free_port,
)
from tests.lab.tools import ask_kubectl, missing, plain_kubectl
from tests.reportvalidation import assert_valid_report

TIMEOUT = 3.0


# --- helpers ----------------------------------------------------------------------------------------


def make_ctx(
    tmp_path: Path,
    kubeconfig: Path | None,
    env: Mapping[str, str] | None = None,
    *,
    mode: Mode = Mode.KUBECONFIG,
    serviceaccount_dir: Path | None = None,
    client: str = "kubectl",
) -> Context:
    options = Options(
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        timeout=TIMEOUT,
        client=client,
        in_cluster=mode is Mode.IN_CLUSTER,
        serviceaccount_dir=str(serviceaccount_dir) if serviceaccount_dir else Options().serviceaccount_dir,
    )
    return Context(
        options=options, environment=Environment(env=dict(env or {}), home=tmp_path), target=Target(mode)
    )


def run_checks(ctx: Context, *classes: type[Check]) -> list[Result]:
    """Run the checks in turn on one event loop (sharing probes), then close the API session."""

    async def go() -> list[Result]:
        try:
            return [await asyncio.wait_for(run_check(cls(), ctx), TIMEOUT * 6) for cls in classes]
        finally:
            await close_session(ctx)

    return asyncio.run(go())


def dump(result: Result) -> str:
    return json.dumps({"status": result.status.value, "summary": result.summary, "hint": result.hint,
                       "details": result.details})  # fmt: skip


def kinds(result: Result) -> list[str]:
    return [hop["kind"] for hop in result.details["hops"]]


def loopback_alias(hosts_text: str | None = None) -> tuple[str, str] | None:
    """(name, address): a name /etc/hosts maps to a loopback address, other than localhost.

    client-go proxies such a name (only "localhost" and loopback IP literals are exempt), so it lets a
    test send kubectl through HTTPS_PROXY to a loopback server. Read from the file itself: no made-up
    name ever goes to a resolver. IPv4 entries are preferred.
    """
    if hosts_text is None:
        try:
            hosts_text = Path("/etc/hosts").read_text(encoding="utf-8")
        except OSError:
            return None
    found: list[tuple[str, str]] = []
    for line in hosts_text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or not (fields[0].startswith("127.") or fields[0] == "::1"):
            continue
        for name in fields[1:]:
            if name.lower() not in ("localhost", "localhost.localdomain") and "." not in name.strip("."):
                found.append((name, fields[0]))
    found.sort(key=lambda pair: pair[1] == "::1")
    return found[0] if found else None


def test_loopback_alias_reads_hosts_lines() -> None:
    text = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n# 127.0.1.1 commented\n"
    assert loopback_alias(text) == ("ip6-localhost", "::1")
    assert loopback_alias(text + "127.0.1.1 builder\n") == ("builder", "127.0.1.1")
    assert loopback_alias("127.0.0.1 localhost\n10.0.0.5 db\n") is None


@pytest.fixture
def alias() -> tuple[str, str]:
    found = loopback_alias()
    if found is None:
        missing("a name other than localhost that /etc/hosts maps to loopback (.ci/run adds one)")
    return found


@pytest.fixture
def kubectl_binary() -> str:
    return plain_kubectl()


# --- the pure hop assembly ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _cert(subject: str, issuer: str) -> CertSummary:
    return CertSummary(subject, issuer, "AA:BB", "01", NOW - timedelta(days=1), NOW + timedelta(days=90),
                       is_ca=subject != "CN=apiserver", self_signed=subject == issuer)  # fmt: skip


def _answer(status: int, body: Any) -> ApiResponse:
    return ApiResponse("GET", "/", status=status, json=body)


def _facts(
    server: str = "https://10.0.0.1:6443", env: Mapping[str, str] | None = None, **kw: Any
) -> PathFacts:
    return PathFacts(server=server, mode=kw.pop("mode", Mode.KUBECONFIG),
                     decision=decide_proxy(server, env or {}, kw.pop("proxy_url", None)), **kw)  # fmt: skip


INTERCEPTED = ChainAnalysis(
    "missing-issuer",
    (_cert("CN=apiserver", "CN=corp-proxy-ca"),),
    (_cert("CN=kubernetes", "CN=kubernetes"),),
    issuer_is_cluster_ca=False,
    dangling=_cert("CN=apiserver", "CN=corp-proxy-ca"),
)
OTHER_CLUSTER = replace(
    INTERCEPTED,
    chain=(_cert("CN=apiserver", "CN=other-cluster-ca"),),
    dangling=_cert("CN=apiserver", "CN=other-cluster-ca"),
)
VERSION_OK = _answer(200, {"gitVersion": "v1.31.4"})
P = "http://proxy.corp:3128"

HOP_CASES: list[tuple[str, PathFacts, list[str], str]] = [
    ("nothing in between", _facts(server_addresses=("10.0.0.1",), endpoint_addresses=("10.0.0.1",),
                                  endpoint_ports=(6443,), server_port=6443, server_host="10.0.0.1",
                                  leaf_fingerprints=("a", "a", "a", "a")),
     ["direct"], "same serving certificate"),
    ("HTTPS_PROXY", _facts(env={"HTTPS_PROXY": P}), ["http-proxy"], "HTTPS_PROXY → http://proxy.corp:3128"),
    ("socks proxy-url", _facts(proxy_url="socks5://s.corp:1080"), ["socks-proxy"], "cluster proxy-url"),
    ("NO_PROXY CIDR", _facts(env={"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"}), ["direct"],
     "NO_PROXY entry 10.0.0.0/8 matches 10.0.0.1:6443"),
    ("kubectl proxy", _facts("http://127.0.0.1:8001", plain_http=True, server_host="127.0.0.1",
                             unauthenticated_api=_answer(200, {"kind": "APIVersions"}), version=VERSION_OK),
     ["kubectl-proxy"], "without any credential"),
    ("plain http that wants credentials is not kubectl proxy",
     _facts("http://127.0.0.1:8080", plain_http=True, server_host="127.0.0.1",
            unauthenticated_api=_answer(401, {"kind": "Status"}), version=VERSION_OK),
     ["direct"], ""),
    ("interception through the proxy", _facts(env={"HTTPS_PROXY": P}, chain=OTHER_CLUSTER),
     ["http-proxy", "tls-intercepting-proxy"], "through http://proxy.corp:3128"),
    ("transparent interception", _facts(chain=INTERCEPTED), ["tls-intercepting-proxy"], "CN=corp-proxy-ca"),
    ("another cluster's CA is not interception", _facts(chain=OTHER_CLUSTER), ["direct"], ""),
    ("LB: address not an endpoint", _facts(server_addresses=("10.0.0.100",), server_host="lb.example",
                                           endpoint_addresses=("10.0.0.1", "10.0.0.2"), endpoint_ports=(6443,)),
     ["load-balancer"], "is not among the default/kubernetes endpoints 10.0.0.1, 10.0.0.2 port 6443"),
    ("LB: port differs", _facts(server_addresses=("10.0.0.1",), server_host="10.0.0.1", server_port=8443,
                                endpoint_addresses=("10.0.0.1",), endpoint_ports=(6443,)),
     ["load-balancer"], "port 8443 is not the apiserver port (6443)"),
    ("LB: different certificates", _facts(leaf_fingerprints=("a", "b", "a", "b")), ["load-balancer"],
     "4 TLS handshakes met 2 different serving certificates"),
    ("LB: several leases", _facts(lease_identities=("apiserver-a", "apiserver-b", "apiserver-c")),
     ["load-balancer"], "3 apiserver identity leases"),
    ("several leases, but the server is one of them", _facts(
        lease_identities=("apiserver-a", "apiserver-b"), server_addresses=("10.0.0.1",), server_port=6443,
        endpoint_addresses=("10.0.0.1", "10.0.0.2"), endpoint_ports=(6443,)), ["direct"], ""),
    ("loopback is never an endpoint: alone it proves nothing", _facts(
        "https://127.0.0.1:6443", server_addresses=("127.0.0.1",), server_host="127.0.0.1", server_port=6443,
        endpoint_addresses=("192.0.2.10",), endpoint_ports=(6443,), lease_identities=("apiserver-a",),
        leaf_fingerprints=("a", "a", "a", "a")), ["direct"], "4 handshakes met the same serving certificate"),
    ("loopback, two leases, one certificate every time", _facts(
        "https://127.0.0.1:6443", server_addresses=("127.0.0.1",), server_host="127.0.0.1", server_port=6443,
        endpoint_addresses=("192.0.2.10", "192.0.2.11"), endpoint_ports=(6443,),
        lease_identities=("apiserver-a", "apiserver-b"), leaf_fingerprints=("a", "a", "a", "a")), ["direct"], ""),
    ("loopback, two leases, no extra handshake answered", _facts(
        "https://127.0.0.1:6443", server_addresses=("127.0.0.1",), server_host="127.0.0.1", server_port=6443,
        endpoint_addresses=("192.0.2.10", "192.0.2.11"), endpoint_ports=(6443,),
        lease_identities=("apiserver-a", "apiserver-b"), leaf_fingerprints=("a",)), ["load-balancer"],
     "2 apiserver identity leases"),
    ("loopback, two certificates", _facts(
        "https://127.0.0.1:6443", server_addresses=("127.0.0.1",), server_host="127.0.0.1", server_port=6443,
        endpoint_addresses=("192.0.2.10", "192.0.2.11"), endpoint_ports=(6443,),
        lease_identities=("apiserver-a", "apiserver-b"), leaf_fingerprints=("a", "b", "a", "b")), ["load-balancer"],
     "127.0.0.1 (127.0.0.1) is not among the default/kubernetes endpoints 192.0.2.10, 192.0.2.11 port 6443"),
    ("through a proxy, two leases, one certificate", _facts(
        env={"HTTPS_PROXY": P}, lease_identities=("apiserver-a", "apiserver-b"), leaf_fingerprints=("a", "a", "a")),
     ["http-proxy"], ""),
    ("kube-proxy in a pod", _facts("https://10.96.0.1:443", mode=Mode.IN_CLUSTER, server_host="10.96.0.1",
                                   service_ips=("10.96.0.1",), endpoint_addresses=("172.18.0.2",),
                                   endpoint_ports=(6443,), server_addresses=("10.96.0.1",)),
     ["kube-proxy"], "is the cluster IP of the default/kubernetes Service"),
    ("in a pod, the Service unreadable but the endpoints say it", _facts(
        "https://10.96.0.1:443", mode=Mode.IN_CLUSTER, server_host="10.96.0.1", endpoint_addresses=("172.18.0.2",),
        endpoint_ports=(6443,)), ["kube-proxy"], "is not an apiserver address (endpoints 172.18.0.2 port 6443)"),
    ("in a pod, talking to an endpoint directly", _facts(
        "https://172.18.0.2:6443", mode=Mode.IN_CLUSTER, server_host="172.18.0.2", server_port=6443,
        service_ips=("10.96.0.1",), endpoint_addresses=("172.18.0.2",), endpoint_ports=(6443,),
        server_addresses=("172.18.0.2",)), ["direct"], ""),
    ("apiserver proxy", _facts("https://10.0.0.1/api/v1/namespaces/vc/services/https:vc-api:443/proxy",
                               apiserver_proxy=("vc", ServiceRef("vc-api", "https", "443"))),
     ["apiserver-proxy"], "service vc/vc-api (https:vc-api:443)"),
    ("everything at once, in order", _facts(
        env={"HTTPS_PROXY": P}, chain=OTHER_CLUSTER, lease_identities=("a", "b"),
        apiserver_proxy=None, leaf_fingerprints=("x", "y")),
     ["http-proxy", "tls-intercepting-proxy", "load-balancer"], ""),
]  # fmt: skip


@pytest.mark.parametrize(("name", "facts", "expected", "words"), HOP_CASES, ids=[c[0] for c in HOP_CASES])
def test_assemble_hops(name: str, facts: PathFacts, expected: list[str], words: str) -> None:
    hops = assemble_hops(facts)
    assert [h["kind"] for h in hops] == expected
    assert all(h["kind"] in HOP_KINDS and h["evidence"] for h in hops)
    assert words in " ".join(h["evidence"] for h in hops)


def test_what_looked_like_a_balancer_is_a_note() -> None:
    loopback = _facts(
        "https://127.0.0.1:6443", server_addresses=("127.0.0.1",), server_host="127.0.0.1", server_port=6443,
        endpoint_addresses=("192.0.2.10", "192.0.2.11"), endpoint_ports=(6443,),
        lease_identities=("apiserver-a", "apiserver-b"), leaf_fingerprints=("a", "a", "a", "a"),
    )  # fmt: skip
    hops = assemble_hops(loopback)
    assert "is the apiserver endpoint itself" not in hops[0]["evidence"]
    forward, one_server = path_notes(loopback, hops)
    assert "an apiserver never advertises" in forward and "port-forward" in forward
    assert "2 apiserver identity leases exist, but 4 TLS handshakes all met one serving certificate" in one_server
    balanced = replace(loopback, leaf_fingerprints=("a", "b", "a", "b"))
    assert path_notes(balanced, assemble_hops(balanced)) == []


def test_only_recently_renewed_leases_count() -> None:
    def lease(name: str, renewed: str | None) -> dict[str, Any]:
        spec = {"renewTime": renewed} if renewed else {}
        return {"metadata": {"name": name}, "spec": spec}

    listing = {
        "items": [
            lease("apiserver-live", "2026-11-30T11:59:55.123456Z"),
            lease("apiserver-stale", "2026-11-30T10:00:00.000000Z"),
            lease("apiserver-unknown", None),
            "junk",
        ]
    }
    assert live_leases(listing, NOW) == ("apiserver-live", "apiserver-unknown")


def test_family_shape() -> None:
    assert [c.id for c in CHECKS] == ["proxy.env", "proxy.path", "proxy.services"]
    assert ProxyServices.opt_in and not ProxyEnv.opt_in and not ProxyPath.opt_in
    for check in CHECKS:
        assert check.__doc__ and check.title


# --- proxy.env without a proxy to talk to ---------------------------------------------------------------


def _offline_kubeconfig(tmp_path: Path, server: str, proxy_url: str | None = None) -> Path:
    cluster = f"    server: {server}\n    insecure-skip-tls-verify: true\n"
    if proxy_url:
        cluster += f"    proxy-url: {proxy_url}\n"
    path = tmp_path / "offline-config"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters:\n- name: k\n  cluster:\n{cluster}"
        "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
        "users:\n- name: u\n  user: {}\n"
    )
    return path


def test_env_warns_where_httpx_would_not_honour_a_cidr(tmp_path: Path) -> None:
    config = _offline_kubeconfig(tmp_path, "https://10.1.2.3:6443")
    env = {"HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "10.0.0.0/8"}
    # judging for kubectl: httpx's other reading is a note in a pass
    (result,) = run_checks(make_ctx(tmp_path, config, env), ProxyEnv)
    assert result.status is Status.PASS, dump(result)
    assert result.summary.startswith("direct: NO_PROXY entry 10.0.0.0/8 matches 10.1.2.3:6443")
    assert "note: httpx (trust_env)" in result.summary
    assert "httpx does not understand CIDR entries in NO_PROXY" in result.summary
    assert result.details["httpx_trust_env"] == "http://127.0.0.1:9"
    # judging for a Python tool (--client python): a finding, with the Python fix
    (python,) = run_checks(make_ctx(tmp_path, config, env, client="python"), ProxyEnv)
    assert python.status is Status.WARN, dump(python)
    assert "httpx does not understand CIDR entries in NO_PROXY" in python.summary
    assert "trust_env=False" in python.hint and "host names, not CIDRs" in python.hint


def test_env_fails_for_an_unusable_proxy_url(tmp_path: Path) -> None:
    config = _offline_kubeconfig(tmp_path, "https://10.1.2.3:6443", proxy_url="socks4://127.0.0.1:1080")
    (result,) = run_checks(make_ctx(tmp_path, config), ProxyEnv)
    assert result.status is Status.FAIL
    assert 'unsupported scheme "socks4"' in result.summary
    assert "kubectl config set clusters.k.proxy-url" in result.hint


def test_a_proxy_that_is_not_there_is_reported_once_by_apiserver_tcp(tmp_path: Path) -> None:
    config = _offline_kubeconfig(tmp_path, "https://10.1.2.3:6443")
    port = free_port()
    ctx = make_ctx(tmp_path, config, {"https_proxy": f"127.0.0.1:{port}"})
    env, tcp = run_checks(ctx, ProxyEnv, TcpCheck)
    # The refusal is one finding: apiserver.tcp (which connects to the proxy) reports it ...
    assert tcp.status is Status.FAIL, dump(tcp)
    assert f"connection to the proxy http://127.0.0.1:{port} refused" in tcp.summary
    # ... and proxy.env, which could only repeat it, skips and names it.
    assert env.status is Status.SKIP, dump(env)
    assert (
        env.summary == f"not examined: the proxy http://127.0.0.1:{port} could not be reached (apiserver.tcp)"
    )


# --- tinyproxy -------------------------------------------------------------------------------------------


def test_cluster_proxy_url_through_tinyproxy(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url)
        env_result, path_result = run_checks(make_ctx(tmp_path, config), ProxyEnv, ProxyPath)
        tunnels = proxy.connects()
    assert env_result.status is Status.PASS, dump(env_result)
    assert env_result.summary.startswith(f"via http-proxy {proxy.url} (cluster proxy-url)")
    assert "loopback included" in env_result.summary
    assert path_result.status is Status.PASS, dump(path_result)
    assert kinds(path_result) == ["http-proxy"]
    # the proxy tunnelled kdoctor's connections, and the apiserver answered them
    assert f"127.0.0.1:{api.port}" in tunnels
    assert any(r.path == "/version" for r in api.requests)


def test_https_proxy_through_tinyproxy(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    alias: tuple[str, str],
) -> None:
    name, address = alias
    api = emulator("healthy", host=address, extra_sans=(name,))
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", server=f"https://{name}:{api.port}")
        env_result, path_result = run_checks(
            make_ctx(tmp_path, config, {"HTTPS_PROXY": proxy.url, "NO_PROXY": "10.0.0.0/8,.svc"}),
            ProxyEnv,
            ProxyPath,
        )
        tunnels = proxy.connects()
    assert f"{name}:{api.port}" in tunnels
    assert kinds(path_result) == ["http-proxy"]
    assert (
        "HTTPS_PROXY applies to https:// servers and no NO_PROXY entry matches"
        in path_result.details["hops"][0]["evidence"]
    )
    # kubectl, httpx and the official Python client (37.x) agree here: no client-difference note; the one
    # note is issue 13's: a CIDR in NO_PROXY cannot exempt a server given by name
    assert env_result.status is Status.PASS, dump(env_result)
    notes = [n for n in env_result.summary.split("; note: ")[1:]]
    assert len(notes) == 1 and notes[0].startswith("NO_PROXY entry '10.0.0.0/8' is an address range"), notes
    assert env_result.details["python_client"] == proxy.url
    assert any(r.path == "/version" for r in api.requests)


def test_no_proxy_entry_sends_kdoctor_direct(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    alias: tuple[str, str],
) -> None:
    name, address = alias
    api = emulator("healthy", host=address, extra_sans=(name,))
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", server=f"https://{name}:{api.port}")
        env = {"HTTPS_PROXY": proxy.url, "no_proxy": f"{name.upper()}:{api.port}"}
        env_result, path_result = run_checks(make_ctx(tmp_path, config, env), ProxyEnv, ProxyPath)
        tunnels = proxy.connects()
    assert tunnels == []
    assert kinds(path_result) == ["direct"]
    assert f"no_proxy entry {name.upper()}:{api.port} matches" in env_result.summary
    # kdoctor dialled the server itself: it reached it, or (under the tests' network guard, which lets
    # no name but localhost be resolved in-process) it failed resolving the name locally.
    reached = any(r.path == "/version" for r in api.requests)
    resolved_here = "name resolution failed" in " ".join(path_result.details["unavailable"])
    assert reached or resolved_here, path_result.details


def test_loopback_server_ignores_https_proxy(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config")
        env_result, path_result = run_checks(make_ctx(tmp_path, config, {"HTTPS_PROXY": proxy.url}), ProxyEnv,
                                             ProxyPath)  # fmt: skip
        tunnels = proxy.connects()
    assert tunnels == []
    assert kinds(path_result) == ["direct"]
    assert env_result.status is Status.PASS
    assert "note: httpx (trust_env)" in env_result.summary
    assert "httpx has no loopback exception" in env_result.summary


def test_socks5_proxy_url(tmp_path: Path, emulator: EmulatorFactory, kubectl_binary: str) -> None:  # noqa: F811
    api = emulator("healthy")
    with Socks5Proxy() as socks:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=socks.url)
        env_result, path_result = run_checks(make_ctx(tmp_path, config), ProxyEnv, ProxyPath)
        kdoctor_connects = list(socks.connects)
        done = ask_kubectl(config, tmp_path, binary=kubectl_binary)
        kubectl_connects = socks.connects[len(kdoctor_connects) :]
    assert env_result.status is Status.PASS, dump(env_result)
    assert kinds(path_result) == ["socks-proxy"]
    assert path_result.summary == f"client → socks-proxy ({socks.url}) → apiserver"
    assert f"127.0.0.1:{api.port}" in kdoctor_connects
    # kubectl takes the same path
    assert done.returncode == 0, done.stderr
    assert f"127.0.0.1:{api.port}" in kubectl_connects


PROXY_PASSWORD = "canary-proxy-pw-" + secrets.token_hex(6)


def test_proxy_authentication_required(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    with Tinyproxy(tmp_path, connect_ports=[api.port], basic_auth=("kdoctor", PROXY_PASSWORD)) as proxy:
        # no credentials at all
        config = api.write_kubeconfig(tmp_path / "none", proxy_url=proxy.url)
        (missing,) = run_checks(make_ctx(tmp_path, config), ProxyEnv)
        # the wrong password
        wrong = "wrong-" + PROXY_PASSWORD
        config = api.write_kubeconfig(
            tmp_path / "wrong", proxy_url=f"http://kdoctor:{wrong}@127.0.0.1:{proxy.port}"
        )
        ctx = make_ctx(tmp_path, config)
        (refused,) = run_checks(ctx, ProxyEnv)
        # the right one
        config = api.write_kubeconfig(tmp_path / "right", proxy_url=proxy.url_with_credentials)
        good_ctx = make_ctx(tmp_path, config)
        good_env, good_path = run_checks(good_ctx, ProxyEnv, ProxyPath)
    assert missing.status is Status.FAIL, dump(missing)
    assert "407 Proxy Authentication Required" in missing.summary
    assert "the cluster's proxy-url needs credentials" in missing.summary
    # the names kdoctor knows (cluster, proxy host) are filled in; only the credentials are placeholders
    cluster = "emulator"  # the emulator's kubeconfig names its cluster after the context
    assert (
        f"kubectl config set clusters.{cluster}.proxy-url http://<user>:<password>@127.0.0.1:{proxy.port}"
        in (missing.hint)
    ), missing.hint

    assert refused.status is Status.FAIL
    assert "refused the credentials" in refused.summary
    # the user name in the URL is kept (it is paired with a password, so not the secret); the password is not
    assert f"proxy-url http://kdoctor:<password>@127.0.0.1:{proxy.port}" in refused.hint, refused.hint
    assert wrong not in dump(refused) and wrong in ctx.secrets

    assert good_env.status is Status.PASS, dump(good_env)
    assert kinds(good_path) == ["http-proxy"]
    for result in (missing, refused, good_env, good_path):
        assert PROXY_PASSWORD not in dump(result)
    assert "http://<redacted>@127.0.0.1" in good_env.summary


def test_proxy_that_forbids_the_apiserver_port(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    # Like a corporate proxy that tunnels only to 443: CONNECT to the apiserver's port is refused.
    with Tinyproxy(tmp_path, connect_ports=[443]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url)
        env_result, path_result = run_checks(make_ctx(tmp_path, config), ProxyEnv, ProxyPath)
        tunnels = proxy.connects()
    assert f"127.0.0.1:{api.port}" in tunnels
    assert env_result.status is Status.FAIL, dump(env_result)
    assert "refused the tunnel to the apiserver" in env_result.summary
    # a proxy-url ignores NO_PROXY (client-go): the way around it is to remove it
    assert "kubectl config unset clusters.emulator.proxy-url" in env_result.hint
    # the proxy's refusal is proxy.env's finding, reported once: proxy.path skips, naming it
    assert kinds(path_result) == ["http-proxy"] and path_result.status is Status.SKIP
    assert path_result.summary.endswith("the proxy stopped the connection (proxy.env)")
    assert api.requests == []


def test_https_proxy_needs_credentials_message(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    alias: tuple[str, str],
) -> None:
    name, address = alias
    api = emulator("healthy", host=address, extra_sans=(name,))
    with Tinyproxy(tmp_path, connect_ports=[api.port], basic_auth=("kdoctor", PROXY_PASSWORD)) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", server=f"https://{name}:{api.port}")
        (result,) = run_checks(make_ctx(tmp_path, config, {"HTTPS_PROXY": proxy.url}), ProxyEnv)
    assert result.status is Status.FAIL
    assert "407 Proxy Authentication Required: HTTPS_PROXY needs credentials" in result.summary
    assert f"export HTTPS_PROXY=http://<user>:<password>@127.0.0.1:{proxy.port}" in result.hint, result.hint


# --- kubectl proxy ----------------------------------------------------------------------------------------


def test_kubectl_proxy_hop(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    upstream = api.write_kubeconfig(tmp_path / "upstream")
    with KubectlProxy(tmp_path, upstream) as kubectl_proxy:
        config = api.write_kubeconfig(tmp_path / "config", server=kubectl_proxy.url, user="none")
        env_result, path_result = run_checks(make_ctx(tmp_path, config), ProxyEnv, ProxyPath)
    assert path_result.status is Status.PASS, dump(path_result)
    assert kinds(path_result) == ["kubectl-proxy"]
    assert path_result.summary == f"client → kubectl-proxy (127.0.0.1:{kubectl_proxy.port}) → apiserver"
    evidence = path_result.details["hops"][0]["evidence"]
    assert "answers GET /api (APIVersions) with 200 without any credential" in evidence
    assert "v1.31.4" in evidence
    # kdoctor sent no credential; kubectl proxy added its own on the way to the apiserver
    api_requests = [r for r in api.requests if r.path == "/api"]
    assert api_requests and all(
        r.header("authorization") == f"Bearer {api.admin_token}" for r in api_requests
    )
    assert env_result.status is Status.PASS


# --- load balancer ------------------------------------------------------------------------------------------


def test_nginx_load_balancer_in_front_of_two_apiservers(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    ca = make_ca("kubernetes")
    token = "lb-admin-" + secrets.token_hex(8)
    tokens = {token: UserInfo("kubernetes-admin", ("system:masters",))}
    common: dict[str, Any] = {"ca": ca, "tokens": tokens, "endpoint_addresses": ("127.0.0.3", "127.0.0.4"),
                              "endpoint_port": 6443}  # fmt: skip
    first = emulator(
        "healthy", identity="apiserver-aaaaaaaa", peer_identities=("apiserver-bbbbbbbb",), **common
    )
    second = emulator(
        "healthy", identity="apiserver-bbbbbbbb", peer_identities=("apiserver-aaaaaaaa",), **common
    )
    with NginxStream(tmp_path, [("127.0.0.1", first.port), ("127.0.0.1", second.port)]) as lb:
        config = first.write_kubeconfig(
            tmp_path / "config", server=f"https://127.0.0.1:{lb.port}", token=token
        )
        (result,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
    assert result.status is Status.PASS, dump(result)
    assert kinds(result) == ["load-balancer"]
    assert result.summary == f"client → load-balancer (127.0.0.1:{lb.port}) → apiserver"
    evidence = result.details["hops"][0]["evidence"]
    assert "is not among the default/kubernetes endpoints 127.0.0.3, 127.0.0.4 port 6443" in evidence
    assert "different serving certificates" in evidence
    assert "2 apiserver identity leases" in evidence
    # both apiservers were met
    assert first.connections and second.connections
    assert len(set(result.details["evidence"]["serving_leaf_sha256"])) == 2
    assert any(r.path + "?" + r.query == LEASES_PATH for r in first.requests + second.requests)


def test_one_apiserver_on_loopback_is_a_direct_path(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    # A real apiserver advertises a routable address, never the loopback address the client dials.
    api = emulator("healthy", endpoint_addresses=("192.0.2.10",), endpoint_port=6443)
    config = api.write_kubeconfig(tmp_path / "config")
    (result,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
    assert result.status is Status.PASS, dump(result)
    assert kinds(result) == ["direct"]
    assert "handshakes met the same serving certificate" in result.details["hops"][0]["evidence"]
    assert "port-forward" in result.summary and result.details["notes"], result.summary


# --- kube-proxy (in a pod) --------------------------------------------------------------------------------


def test_service_vip_forwarder_is_kube_proxy(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    vip = "127.0.0.2"
    reader = Rule(("get", "list"), ("", "coordination.k8s.io", "discovery.k8s.io"),
                  ("services", "endpoints", "endpointslices", "leases"))  # fmt: skip
    kubernetes = Service(
        "default", "kubernetes", (ServicePort("https", 443, target_port=6443),), cluster_ip=vip
    )
    api = emulator(
        "healthy",
        extra_sans=(vip,),
        services=(kubernetes,),
        rules={"system:serviceaccount:default:default": (reader,)},
    )
    sa_dir = api.serviceaccount_dir(tmp_path / "sa")
    with TcpForwarder(("127.0.0.1", api.port), listen_host=vip) as vip_forwarder:
        env = {"KUBERNETES_SERVICE_HOST": vip, "KUBERNETES_SERVICE_PORT": str(vip_forwarder.port)}
        ctx = make_ctx(tmp_path, None, env, mode=Mode.IN_CLUSTER, serviceaccount_dir=sa_dir)
        (result,) = run_checks(ctx, ProxyPath)
        forwarded = vip_forwarder.connections
    assert result.status is Status.PASS, dump(result)
    assert kinds(result) == ["kube-proxy"]
    assert result.summary == f"client → kube-proxy (VIP {vip}) → apiserver"
    evidence = result.details["hops"][0]["evidence"]
    assert f"KUBERNETES_SERVICE_HOST={vip} is the cluster IP of the default/kubernetes Service" in evidence
    assert f"endpoints 127.0.0.1 port {api.port}" in evidence
    assert forwarded >= 1


# --- apiserver proxy (virtual cluster) --------------------------------------------------------------------


def test_apiserver_proxy_hop(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    prefix = "/api/v1/namespaces/vcluster/services/https:my-vcluster:443/proxy"
    config = api.write_kubeconfig(tmp_path / "config", server=api.url + prefix)
    (result,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
    assert result.status is Status.PASS, dump(result)
    assert kinds(result) == ["apiserver-proxy"]
    assert "service vcluster/my-vcluster (https:my-vcluster:443)" in result.details["hops"][0]["evidence"]
    assert any(r.path == prefix + "/version" for r in api.requests)


# --- TLS interception, another cluster's CA, and no answer at all ----------------------------------------


def test_tls_intercepting_proxy_hop(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    with TlsInterceptor(tmp_path, ("127.0.0.1", api.port)) as interceptor:
        config = api.write_kubeconfig(tmp_path / "config", server=interceptor.url)
        (result,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
        # The interceptor counts a connection once its own handshake completes, which can be just
        # after kdoctor, holding the chain it came for, has moved on: wait for it, boundedly.
        deadline = time.monotonic() + 3
        while interceptor.connections < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        intercepted = interceptor.connections
    assert result.status is Status.WARN, dump(result)
    assert kinds(result) == ["tls-intercepting-proxy"]
    assert (
        "is issued by CN=corp-proxy-ca, not by the cluster CA (CN=kubernetes)"
        in result.details["hops"][0]["evidence"]
    )
    assert intercepted >= 1
    # verification failed, so no credential and no request reached the apiserver through the interceptor
    assert all(r.header("authorization") is None for r in api.requests)


def test_another_clusters_ca_is_not_called_interception(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
) -> None:
    api = emulator("unknown-ca")  # signed by CN=other-cluster-ca
    config = api.write_kubeconfig(tmp_path / "config")
    (result,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
    assert "tls-intercepting-proxy" not in kinds(result)
    assert result.status is Status.SKIP, dump(result)
    assert result.summary.endswith("the server's certificate was not verified (tls.chain, tls.hostname)")


def test_path_when_nothing_answers(tmp_path: Path) -> None:
    port = free_port()
    config = _offline_kubeconfig(tmp_path, f"https://127.0.0.1:{port}")
    (direct,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
    assert direct.status is Status.SKIP
    assert direct.summary == "not examined beyond client → apiserver: the connection failed (apiserver.tcp)"
    assert kinds(direct) == ["direct"]
    assert "did not answer GET /version" in " ".join(direct.details["unavailable"])
    with Tinyproxy(tmp_path, connect_ports=[port]) as proxy:
        config = _offline_kubeconfig(tmp_path, f"https://127.0.0.1:{port}", proxy_url=proxy.url)
        (proxied,) = run_checks(make_ctx(tmp_path, config), ProxyPath)
    assert kinds(proxied) == ["http-proxy"]
    # tinyproxy answers CONNECT to a closed port with 500: that is proxy.env's finding
    assert proxied.status is Status.SKIP and "not examined beyond client → http-proxy" in proxied.summary
    assert "the proxy stopped the connection" in proxied.summary


# --- proxy.services ----------------------------------------------------------------------------------------


def test_services_through_the_proxy_verb(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    label = {"kubernetes.io/cluster-service": "true"}
    services = (
        Service("kube-system", "dashboard", (ServicePort("https", 443, body=b"<html>dash</html>"),), labels=label),
        Service("kube-system", "kube-dns", (ServicePort("dns", 53, "UDP"), ServicePort("metrics", 9153, body=b"m")),
                labels=label),
        Service("default", "not-an-addon", (ServicePort("http", 80, body=b"x"),)),
    )  # fmt: skip
    api = emulator("healthy", services=services)
    config = api.write_kubeconfig(tmp_path / "config")
    (ok,) = run_checks(make_ctx(tmp_path, config), ProxyServices)
    assert ok.status is Status.PASS, dump(ok)
    assert (
        ok.summary
        == "2 services answer through the apiserver proxy: kube-system/dashboard, kube-system/kube-dns"
    )
    paths = [row["path"] for row in ok.details["services"]]
    assert paths == [
        "/api/v1/namespaces/kube-system/services/https:dashboard:https/proxy/",
        "/api/v1/namespaces/kube-system/services/kube-dns:metrics/proxy/",
    ]
    assert {r.path for r in api.requests} >= set(paths)

    broken = (Service("kube-system", "grafana", (ServicePort("http", 80, body=None),), labels=label),)
    api2 = emulator("healthy", services=broken)
    config2 = api2.write_kubeconfig(tmp_path / "config2")
    (failed,) = run_checks(make_ctx(tmp_path, config2), ProxyServices)
    assert failed.status is Status.FAIL
    assert "kube-system/grafana: 503 error trying to reach service" in failed.summary
    assert "kubectl -n kube-system get endpoints grafana" in failed.hint


def test_services_proxy_forbidden_for_a_limited_user(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    label = {"kubernetes.io/cluster-service": "true"}
    services = (Service("kube-system", "dashboard", (ServicePort("http", 80, body=b"ok"),), labels=label),)
    lister = Rule(("list", "get"), ("",), ("services",))
    api = emulator("healthy", services=services, rules={"jane": (lister,)})
    config = api.write_kubeconfig(tmp_path / "config", token=api.limited_token)
    (result,) = run_checks(make_ctx(tmp_path, config), ProxyServices)
    assert result.status is Status.WARN, dump(result)
    assert "RBAC forbids services/proxy" in result.summary
    assert api.limited_token not in dump(result)


# --- kubectl itself agrees with the predictions -----------------------------------------------------------

AGREEMENT = [
    # (server host: "127.0.0.1", "localhost", "LOCALHOST", "[::1]" or "alias" (a loopback name from
    #  /etc/hosts), environment, cluster proxy-url?, tunnelled through the proxy?)
    ("127.0.0.1", {"HTTPS_PROXY": "{proxy}"}, False, False),
    ("127.0.0.1", {}, True, True),
    ("localhost", {"HTTPS_PROXY": "{proxy}"}, False, False),
    # Go compares the name "localhost" case-sensitively: upper case goes through the proxy
    ("LOCALHOST", {"HTTPS_PROXY": "{proxy}"}, False, True),
    ("[::1]", {"HTTPS_PROXY": "{proxy}"}, False, False),
    ("alias", {"HTTPS_PROXY": "{proxy}"}, False, True),
    ("alias", {"HTTPS_PROXY": "", "https_proxy": "{proxy}"}, False, True),
    ("alias", {"HTTP_PROXY": "{proxy}"}, False, False),
    ("alias", {"HTTPS_PROXY": "{proxy}", "NO_PROXY": "{alias}"}, False, False),
    ("alias", {"HTTPS_PROXY": "{proxy}", "NO_PROXY": ".{alias}"}, False, True),
    ("alias", {"HTTPS_PROXY": "{proxy}", "NO_PROXY": "{alias}:1"}, False, True),
    ("alias", {"HTTPS_PROXY": "{proxy}", "NO_PROXY": "*"}, False, False),
    ("alias", {"HTTPS_PROXY": "{proxy}", "NO_PROXY": "*"}, True, True),
]


@pytest.mark.parametrize(("host", "env_template", "use_proxy_url", "expected"), AGREEMENT)
def test_real_kubectl_takes_the_predicted_path(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    kubectl_binary: str,
    host: str,
    env_template: dict[str, str],
    use_proxy_url: bool,
    expected: bool,
) -> None:
    if host == "alias":
        found = loopback_alias()
        if found is None:
            missing("a name other than localhost that /etc/hosts maps to loopback (.ci/run adds one)")
        name, address = found
    else:
        name, address = host, "::1" if host == "[::1]" else "127.0.0.1"
    api = emulator("healthy", host=address, extra_sans=(name.strip("[]"),))
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        server = f"https://{name}:{api.port}"
        config = api.write_kubeconfig(tmp_path / "config", server=server,
                                      proxy_url=proxy.url if use_proxy_url else None)  # fmt: skip
        env = {k: v.format(proxy=proxy.url, alias=name) for k, v in env_template.items()}
        predicted = decide_proxy(server, env, proxy.url if use_proxy_url else None)
        done = ask_kubectl(config, tmp_path, env=env, binary=kubectl_binary)
        tunnels = proxy.connects()
        tunnelled = bool(tunnels)
    assert done.returncode == 0, done.stderr
    assert predicted.is_proxied == expected, predicted.reason
    assert tunnelled == expected, (
        f"kubectl {'did not use' if expected else 'used'} the proxy: {predicted.reason}"
    )
    assert all(t.lower() == f"{name}:{api.port}".lower() for t in tunnels), tunnels


# --- the whole CLI: no proxy password in any output --------------------------------------------------------


@pytest.fixture
def proxy_family_pythonpath(tmp_path: Path) -> Iterator[list[Path]]:
    """A PYTHONPATH under which `kdoctor run` finds the proxy family (as pyproject will register it)."""
    registered = any(ep.value == "kdoctor_checks.proxy:CHECKS" for ep in entry_points(group="kdoctor.checks"))
    paths = [Path(__file__).resolve().parent.parent / "checks"]
    if not registered:
        paths.append(
            install_plugin(
                tmp_path / "site", "kdoctor-proxy-family", {"proxy": "kdoctor_checks.proxy:CHECKS"}
            )
        )
    yield paths


def test_cli_report_never_shows_the_proxy_password(
    tmp_path: Path,
    emulator: EmulatorFactory,  # noqa: F811
    proxy_family_pythonpath: list[Path],
) -> None:
    api = emulator("healthy")
    with Tinyproxy(tmp_path, connect_ports=[api.port], basic_auth=("kdoctor", PROXY_PASSWORD)) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url_with_credentials)
        outputs = []
        for fmt in ("json", "text"):
            done = kdoctor("run", "--kubeconfig", str(config), "-o", fmt, "-v", "--check", "proxy", "--timeout", "3",
                           home=tmp_path, pythonpath=proxy_family_pythonpath,
                           env={"HTTPS_PROXY": f"http://kdoctor:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"})  # fmt: skip
            outputs.append(done)
    json_run, text_run = outputs
    for done in outputs:
        assert PROXY_PASSWORD not in done.stdout + done.stderr
        assert api.admin_token not in done.stdout + done.stderr
    report = json_run.json
    assert_valid_report(report)
    results = {r["id"]: r for r in report["targets"][0]["results"]}
    assert results["proxy.env"]["status"] == "pass", results["proxy.env"]
    assert [h["kind"] for h in results["proxy.path"]["details"]["hops"]] == ["http-proxy"]
    assert "proxy.services" not in results  # opt-in: not run by --check proxy
    assert "http-proxy" in text_run.stdout
    assert json_run.code == text_run.code
