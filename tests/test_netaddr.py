"""Loopback and IP literals, as Go reads them, and the two places that once disagreed about them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdoctor.access import AccessSpec
from kdoctor.netaddr import is_loopback, normal_ip, parse_ip
from kdoctor.probes import parse_endpoint
from kdoctor.probes.api import ApiSession
from kdoctor.probes.route import Route
from tests.fixtures.kubeconfigs.factory import kubeconfig, write
from tests.fixtures.kubeconfigs.harness import run_kubeconfig_checks


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),  # Go compares after IDNA mapping, which lower-cases
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # IsLoopback looks through IPv4-mapped IPv6
        ("localhost.", False),  # another name to Go (httpproxy useProxy compares "localhost" exactly)
        ("foo.localhost", False),  # Go does not special-case the .localhost domain
        ("kdoctor-loopback-alias", False),  # resolves to 127.0.0.1 in /etc/hosts: Go does not resolve here
        ("[::1]", False),  # brackets are the URL's, not the address's
        ("::1%lo", False),  # net.ParseIP takes no zone
        ("10.0.0.1", False),
    ],
)
def test_is_loopback_follows_go(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_parse_ip_is_net_parseip() -> None:
    assert str(parse_ip("::ffff:127.0.0.1")) == "::ffff:7f00:1"
    assert parse_ip("fe80::1%eth0") is None and parse_ip("") is None and parse_ip("example.com") is None


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("[::1]", "::0:1", True),
        ("::ffff:10.0.0.1", "10.0.0.1", True),  # net.IP.Equal: IPv4-mapped IPv6 is the IPv4 address
        ("10.0.0.1 ", "10.0.0.01", False),  # Go (1.17+) and Python refuse leading zeros: text compare
        ("10.0.0.1", "10.0.0.2", False),
        ("Kubernetes.Default", "kubernetes.default", True),  # names: compared as text, case-blind
        ("fe80::1%eth0", "fe80::1", False),  # a zone is not an IP to net.ParseIP
    ],
)
def test_normal_ip_equal_exactly_when_go_says_so(a: str, b: str, equal: bool) -> None:
    assert (normal_ip(a) == normal_ip(b)) is equal


def test_dns_matches_service_host_compares_like_go() -> None:
    from kdoctor_checks.dns import _same_ip

    assert _same_ip("::ffff:10.96.0.1", "10.96.0.1") and _same_ip("[fd00::1]", "fd00:0::1")
    assert not _same_ip("10.96.0.1", "10.96.0.10")


def _session_allows_credentials(server: str) -> bool:
    access = AccessSpec(server=server)
    endpoint = parse_endpoint(server)
    return ApiSession(
        access, Route(endpoint, None, None, "direct", "none", "", endpoint), None, timeout=1
    ).credentials_allowed


@pytest.mark.parametrize(
    ("server", "loopback"),
    [
        ("http://foo.localhost:8001", False),  # was: kubeconfig.server passed, the session withheld the token
        ("http://localhost.:8001", False),  # was: kubeconfig.server failed, the session sent the token
        ("http://localhost:8001", True),
        ("http://127.0.0.1:8001", True),
    ],
)
def test_the_server_check_and_the_session_agree_on_plain_http(
    server: str, loopback: bool, tmp_path: Path
) -> None:
    config = write(tmp_path / "config", kubeconfig(server=server, user={"token": "t-123"}))
    outcome = run_kubeconfig_checks(tmp_path, kubeconfig=str(config))
    verdict = outcome.results["kubeconfig.server"]
    assert (verdict.status.value == "pass") is loopback, verdict.summary
    assert _session_allows_credentials(server) is loopback
