"""Cluster DNS: the resolv.conf model, the resolver emulation, and the dns.* checks against a real DNS server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kdoctor_checks import dns

from kdoctor.api import Check, Mode, Result, Status, run_check
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.probes.clusterdns import (
    GLIBC,
    MUSL,
    QueryBudget,
    cluster_domain,
    parse_resolv_conf,
    read_resolv_conf,
    resolve_like_pod,
    search_plan,
)
from tests.lab.dnsserver import DNSServer, dns_server, unused_address, write_resolv_conf

__all__ = ["dns_server"]  # the fixture, re-exported so pytest finds it here

KUBELET_CONF = """\
# written by kubelet
search default.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
options ndots:5
"""
SERVICE_FQDN = "kubernetes.default.svc.cluster.local."
SERVICE_IP = "10.96.0.1"
ServerFactory = Callable[..., DNSServer]


def make_ctx(
    tmp_path: Path, resolv_conf: Path, *, env: dict[str, str] | None = None, timeout: float = 1.0
) -> Context:
    return Context(
        options=Options(
            resolv_conf=str(resolv_conf), serviceaccount_dir=str(tmp_path / "sa"), timeout=timeout
        ),
        environment=Environment(env=env or {}, home=tmp_path),
        target=Target(Mode.IN_CLUSTER),
    )


def run_checks(ctx: Context, *checks: type[Check]) -> dict[str, Result]:
    async def go() -> dict[str, Result]:
        results = await asyncio.gather(*(run_check(c(), ctx) for c in checks))
        return {c.id: r for c, r in zip(checks, results, strict=True)}

    return asyncio.run(go())


def cluster_dns(factory: ServerFactory, **kwargs: Any) -> DNSServer:
    records = {SERVICE_FQDN: [("A", SERVICE_IP)]}
    records.update(kwargs.pop("records", {}))
    return factory(records=records, **kwargs)


# --- the model, no network -----------------------------------------------------------------------


def test_parse_kubelet_resolv_conf() -> None:
    conf = parse_resolv_conf(KUBELET_CONF)
    assert conf.nameservers == ("10.96.0.10",)
    assert conf.search == ("default.svc.cluster.local", "svc.cluster.local", "cluster.local")
    assert (conf.ndots, conf.ndots_effective, conf.timeout_effective, conf.attempts_effective) == (5, 5, 5, 2)
    assert cluster_domain(conf) == ("cluster.local", "search domain default.svc.cluster.local")


def test_parse_follows_glibc_rules() -> None:
    conf = parse_resolv_conf(
        "nameserver 10.0.0.1\nnameserver not-an-ip\nnameserver 10.0.0.2\n; comment\nnameserver 10.0.0.3\n"
        "nameserver 10.0.0.4\nsearch a.example b.example\ndomain corp.example\n"
        "options ndots:20 timeout:99 attempts:9 rotate\nbogus line\n"
    )
    assert conf.nameservers == ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
    assert conf.honoured_nameservers == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    assert conf.ignored_nameservers == ("10.0.0.4",)
    assert conf.invalid_nameservers == ("not-an-ip",)
    # The last of search/domain wins; options are capped like glibc caps them.
    assert conf.search == ("corp.example",)
    assert (conf.ndots_effective, conf.timeout_effective, conf.attempts_effective) == (15, 30, 5)
    assert conf.has_option("rotate")
    assert conf.unknown_lines == ("bogus line",)
    assert parse_resolv_conf("nameserver 10.0.0.1\n").ndots is None
    assert parse_resolv_conf("nameserver 10.0.0.1\n").ndots_effective == 1


def test_cluster_domain_from_search_list() -> None:
    assert (
        cluster_domain(parse_resolv_conf("search team.svc.k8s.corp svc.k8s.corp k8s.corp\n"))[0] == "k8s.corp"
    )
    assert cluster_domain(parse_resolv_conf("search svc.cluster.example\n"))[0] == "cluster.example"
    domain, source = cluster_domain(parse_resolv_conf("search corp.example\n"))
    assert domain == "cluster.local" and "default" in source


def test_search_plan_ndots5_searches_first() -> None:
    conf = parse_resolv_conf(KUBELET_CONF)
    expected = [
        "kubernetes.default.svc.default.svc.cluster.local.",
        "kubernetes.default.svc.svc.cluster.local.",
        "kubernetes.default.svc.cluster.local.",
        "kubernetes.default.svc.",
    ]
    assert search_plan("kubernetes.default.svc", conf, GLIBC) == expected
    assert search_plan("kubernetes.default.svc", conf, MUSL) == expected
    assert search_plan(SERVICE_FQDN, conf) == [SERVICE_FQDN]


def test_search_plan_low_ndots_glibc_vs_musl() -> None:
    conf = parse_resolv_conf(KUBELET_CONF.replace("ndots:5", "ndots:2"))
    # glibc: enough dots → as is first, then the search list.
    assert search_plan("kubernetes.default.svc", conf, GLIBC) == [
        "kubernetes.default.svc.",
        "kubernetes.default.svc.default.svc.cluster.local.",
        "kubernetes.default.svc.svc.cluster.local.",
        "kubernetes.default.svc.cluster.local.",
    ]
    # musl: enough dots → as is only.
    assert search_plan("kubernetes.default.svc", conf, MUSL) == ["kubernetes.default.svc."]


def test_search_plan_no_tld_query_and_dotless() -> None:
    conf = parse_resolv_conf("search a.example\noptions ndots:1\n")
    assert search_plan("kubernetes", conf) == ["kubernetes.a.example.", "kubernetes."]
    conf = parse_resolv_conf("search a.example\noptions ndots:1 no-tld-query\n")
    assert search_plan("kubernetes", conf) == ["kubernetes.a.example."]


def test_search_limits_old_glibc_and_musl() -> None:
    domains = [f"d{i}.example" for i in range(8)]
    conf = parse_resolv_conf("search " + " ".join(domains) + "\n")
    assert conf.search_for("glibc") == tuple(domains)
    assert conf.search_for("glibc<2.26") == tuple(domains[:6])
    assert conf.search_for(MUSL) == tuple(domains)
    long_domains = [f"{'x' * 60}{i}.example" for i in range(5)]
    long_conf = parse_resolv_conf("search " + " ".join(long_domains) + "\n")
    assert long_conf.search_line_length > 254
    assert long_conf.search_for(MUSL) == ()
    assert len(long_conf.search_for("glibc<2.26")) == 3  # 256 characters hold three of them


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        (KUBELET_CONF, set()),
        ("nameserver 10.96.0.10\nsearch svc.cluster.local\n", {"ndots-missing"}),
        (KUBELET_CONF.replace("ndots:5", "ndots:2"), {"ndots-low"}),
        (KUBELET_CONF.replace("10.96.0.10", "127.0.0.53"), {"loopback-nameserver"}),
        (
            KUBELET_CONF + "nameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n",
            {"too-many-nameservers"},
        ),
        ("nameserver 10.96.0.10\noptions ndots:5\n", {"no-search"}),
        ("search svc.cluster.local\noptions ndots:5\n", {"no-nameserver"}),
        (
            "nameserver 10.96.0.10\noptions ndots:5\nsearch "
            + " ".join(f"{'y' * 60}{i}.svc.example" for i in range(5)),
            {"search-too-long", "search-line-musl"},
        ),
    ],
)
def test_resolv_conf_findings(tmp_path: Path, text: str, codes: set[str]) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    findings = dns.resolv_conf_findings(read_resolv_conf(str(path)))
    assert {f.code for f in findings} == codes


def test_resolv_conf_check_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(KUBELET_CONF)
    result = run_checks(make_ctx(tmp_path, path), dns.ResolvConf)["dns.resolv-conf"]
    assert result.status is Status.PASS
    assert "ndots:5" in result.summary and result.details["cluster_domain"]["domain"] == "cluster.local"

    path.write_text(KUBELET_CONF.replace("10.96.0.10", "127.0.0.53"))
    result = run_checks(make_ctx(tmp_path, path), dns.ResolvConf)["dns.resolv-conf"]
    assert result.status is Status.WARN and "127.0.0.53" in result.summary and "loop" in result.hint

    result = run_checks(make_ctx(tmp_path, tmp_path / "missing.conf"), dns.ResolvConf)["dns.resolv-conf"]
    assert result.status is Status.FAIL and "missing.conf" in result.summary

    ctx = make_ctx(tmp_path, path, env={"LOCALDOMAIN": "corp.example"})
    result = run_checks(ctx, dns.ResolvConf)["dns.resolv-conf"]
    assert "LOCALDOMAIN" in result.summary


def test_checks_apply_only_in_cluster(tmp_path: Path) -> None:
    ctx = Context(
        options=Options(), environment=Environment(env={}, home=tmp_path), target=Target(Mode.KUBECONFIG)
    )
    for check in dns.CHECKS:
        assert check().applies(ctx) is not None
        assert check().applies(make_ctx(tmp_path, tmp_path / "r")) is None


# --- against a real DNS server -------------------------------------------------------------------


def test_resolves_like_glibc_in_search_order(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = cluster_dns(dns_server)
    conf = parse_resolv_conf(write_resolv_conf(tmp_path, [server.address]).read_text())
    lookup = asyncio.run(
        resolve_like_pod("kubernetes.default.svc", conf, QueryBudget(1.0, time.monotonic() + 3))
    )
    assert lookup.resolved and lookup.addresses == (SERVICE_IP,)
    assert [c.code for c in lookup.candidates] == ["NXDOMAIN", "NXDOMAIN", "NOERROR", "NOT-TRIED"]
    assert lookup.answer is not None and lookup.answer.name == SERVICE_FQDN
    assert lookup.answer.nameserver == server.address and lookup.answer.transport == "udp"
    # The server saw exactly the resolver's questions, in its order (A and AAAA for each).
    asked = list(dict.fromkeys(server.names_asked()))
    assert asked == search_plan("kubernetes.default.svc", conf)[:3]
    assert {q.qtype for q in server.queries} == {"A", "AAAA"}


def test_truncated_udp_answer_is_retried_over_tcp(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = cluster_dns(dns_server, truncate_udp=True)
    ctx = make_ctx(tmp_path, write_resolv_conf(tmp_path, [server.address]))
    result = run_checks(ctx, dns.Fqdn)["dns.fqdn"]
    assert result.status is Status.PASS, result.summary
    assert result.details["candidates"][0]["transport"] == "tcp"
    transports = [q.transport for q in server.queries if q.name == SERVICE_FQDN]
    assert "udp" in transports and "tcp" in transports


def test_service_check_passes_and_names_the_candidate(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = cluster_dns(dns_server)
    ctx = make_ctx(
        tmp_path, write_resolv_conf(tmp_path, [server.address]), env={"KUBERNETES_SERVICE_HOST": SERVICE_IP}
    )
    results = run_checks(ctx, dns.Service, dns.Fqdn, dns.MatchesServiceHost, dns.Wildcard, dns.Nameservers)
    assert results["dns.service"].status is Status.PASS
    assert f"via {SERVICE_FQDN} (candidate 3 of 4, from {server.address}" in results["dns.service"].summary
    assert results["dns.fqdn"].status is Status.PASS
    assert results["dns.matches-service-host"].status is Status.PASS
    assert results["dns.wildcard"].status is Status.PASS
    assert results["dns.nameservers"].status is Status.PASS
    assert all(c["code"] == "NXDOMAIN" for c in results["dns.wildcard"].details["candidates"])


def test_service_nxdomain_fails(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = dns_server()  # knows nothing: NXDOMAIN for every name
    ctx = make_ctx(tmp_path, write_resolv_conf(tmp_path, [server.address]))
    results = run_checks(ctx, dns.Service, dns.Fqdn, dns.MatchesServiceHost)
    service = results["dns.service"]
    assert service.status is Status.FAIL
    assert service.summary.startswith("kubernetes.default.svc did not resolve (NXDOMAIN)")
    assert [c["code"] for c in service.details["candidates"]] == ["NXDOMAIN"] * 4
    assert results["dns.fqdn"].status is Status.FAIL
    assert results["dns.matches-service-host"].status is Status.SKIP


def test_answer_different_from_service_host_fails(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = cluster_dns(dns_server)
    ctx = make_ctx(
        tmp_path, write_resolv_conf(tmp_path, [server.address]), env={"KUBERNETES_SERVICE_HOST": "10.0.0.7"}
    )
    result = run_checks(ctx, dns.MatchesServiceHost)["dns.matches-service-host"]
    assert result.status is Status.FAIL
    assert f"resolves to {SERVICE_IP} but KUBERNETES_SERVICE_HOST is 10.0.0.7" in result.summary


def test_ipv6_service_host_matches_aaaa(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = dns_server(records={SERVICE_FQDN: [("AAAA", "fd00:10:96::1")]})
    env = {"KUBERNETES_SERVICE_HOST": "fd00:10:96:0::1"}
    ctx = make_ctx(tmp_path, write_resolv_conf(tmp_path, [server.address]), env=env)
    results = run_checks(ctx, dns.Service, dns.MatchesServiceHost)
    assert results["dns.service"].status is Status.PASS
    assert results["dns.matches-service-host"].status is Status.PASS


def test_wildcard_search_domain_is_found(dns_server: ServerFactory, tmp_path: Path) -> None:
    hijacker = dns_server(wildcard="203.0.113.9")
    conf = write_resolv_conf(
        tmp_path, [hijacker.address], search=["default.svc.cluster.local", "corp.example"]
    )
    result = run_checks(make_ctx(tmp_path, conf), dns.Wildcard)["dns.wildcard"]
    assert result.status is Status.FAIL
    assert "203.0.113.9" in result.summary
    assert result.details["hijacking_domain"] == "default.svc.cluster.local"


def test_servfail_continues_with_glibc_but_stops_musl(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = cluster_dns(dns_server, rcodes={"kubernetes.default.svc.default.svc.cluster.local.": "SERVFAIL"})
    result = run_checks(make_ctx(tmp_path, write_resolv_conf(tmp_path, [server.address])), dns.Service)[
        "dns.service"
    ]
    assert result.status is Status.WARN
    assert result.details["candidates"][0]["code"] == "SERVFAIL"
    assert result.details["musl"]["outcome"] == "SERVFAIL"
    assert "musl (Alpine) ends with SERVFAIL" in result.summary


def test_low_ndots_breaks_musl_only(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = cluster_dns(dns_server)
    conf = write_resolv_conf(tmp_path, [server.address], options=["ndots:2"])
    result = run_checks(make_ctx(tmp_path, conf), dns.Service)["dns.service"]
    assert result.status is Status.WARN
    assert result.details["candidates"][0]["name"] == "kubernetes.default.svc."
    assert result.details["musl"] == {
        "candidates": ["kubernetes.default.svc."],
        "outcome": "NXDOMAIN",
        "answer": None,
    }


def test_silent_first_nameserver(dns_server: ServerFactory, tmp_path: Path) -> None:
    silent = dns_server(silent=True)
    good = cluster_dns(dns_server)
    ctx = make_ctx(tmp_path, write_resolv_conf(tmp_path, [silent.address, good.address]), timeout=0.5)
    started = time.monotonic()
    results = run_checks(ctx, dns.Nameservers, dns.Service)
    assert time.monotonic() - started < 3
    nameservers = results["dns.nameservers"]
    assert nameservers.status is Status.FAIL
    assert f"the first nameserver {silent.address} does not answer" in nameservers.summary
    service = results["dns.service"]
    assert service.status is Status.WARN and "timed out" in service.summary
    assert service.details["candidates"][2]["nameserver"] == good.address
    assert silent.queries, "the silent server did receive the queries"


def test_silent_second_nameserver_warns_and_none_fails(dns_server: ServerFactory, tmp_path: Path) -> None:
    good = cluster_dns(dns_server)
    closed = unused_address()
    ctx = make_ctx(tmp_path, write_resolv_conf(tmp_path, [good.address, closed]), timeout=0.5)
    result = run_checks(ctx, dns.Nameservers)["dns.nameservers"]
    assert result.status is Status.WARN and f"{closed} did not answer" in result.summary

    silent = dns_server(silent=True)
    conf = write_resolv_conf(tmp_path, [silent.address], name="silent.conf")
    results = run_checks(make_ctx(tmp_path, conf, timeout=0.3), dns.Nameservers, dns.Service)
    assert results["dns.nameservers"].status is Status.FAIL
    assert results["dns.service"].status is Status.FAIL
    assert results["dns.service"].summary.startswith("kubernetes.default.svc did not resolve (TIMEOUT)")
    assert "NetworkPolicy" in results["dns.service"].hint


def test_disagreeing_nameservers_warn(dns_server: ServerFactory, tmp_path: Path) -> None:
    cluster = cluster_dns(dns_server)
    upstream = dns_server()  # a non-cluster DNS: NXDOMAIN for cluster names
    ctx = make_ctx(tmp_path, write_resolv_conf(tmp_path, [cluster.address, upstream.address]))
    result = run_checks(ctx, dns.Nameservers)["dns.nameservers"]
    assert result.status is Status.WARN and "disagree" in result.summary


def test_lost_aaaa_answer_is_reported_as_a_delay(dns_server: ServerFactory, tmp_path: Path) -> None:
    server = cluster_dns(dns_server, drop_qtypes=["AAAA"])
    ctx = make_ctx(tmp_path, write_resolv_conf(tmp_path, [server.address]), timeout=0.3)
    result = run_checks(ctx, dns.Service)["dns.service"]
    assert result.status is Status.WARN
    assert result.details["addresses"] == [SERVICE_IP]
    assert f"{server.address} lost one of the A/AAAA answers" in result.summary
    assert "single-request-reopen" in result.hint


def test_all_silent_nameservers_stay_within_the_check_budget(
    dns_server: ServerFactory, tmp_path: Path
) -> None:
    from kdoctor.runner import check_budget

    silent = [dns_server(silent=True).address for _ in range(3)]
    timeout = 0.3
    ctx = make_ctx(
        tmp_path,
        write_resolv_conf(tmp_path, silent),
        env={"KUBERNETES_SERVICE_HOST": SERVICE_IP},
        timeout=timeout,
    )
    started = time.monotonic()
    results = run_checks(ctx, *dns.CHECKS)
    assert time.monotonic() - started < check_budget(timeout)
    assert results["dns.nameservers"].summary.startswith("no nameserver answered")
    service = results["dns.service"].details
    assert service["outcome"] == "TIMEOUT"
    # Each silent server was waited for once; later questions were not sent to it again.
    asked = [a for c in service["candidates"] for a in c.get("attempts", [])]
    assert sum(1 for a in asked if a.get("error", "").startswith("A: no answer")) == 3
    assert results["dns.matches-service-host"].status is Status.SKIP
    assert results["dns.wildcard"].status is Status.WARN
