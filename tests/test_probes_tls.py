"""kdoctor.probes.tls: chain analysis on certificates made here, and the evidence handshake against
small TLS servers started in the test (real OpenSSL handshakes on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509

from kdoctor.probes import Endpoint, parse_endpoint
from kdoctor.probes.tls import (
    analyse_chain,
    capture_chain_unverified,
    describe_certificate,
    hostname_matches,
    strength_problems,
)
from tests.fixtures.kubeconfigs.factory import Issued, issue

NOW = datetime.now(timezone.utc).replace(microsecond=0)


LOCAL_SANS = (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")))


def test_chain_to_configured_ca_is_ok() -> None:
    root = issue("kubernetes", ca=True)
    leaf = issue("kube-apiserver", root, sans=LOCAL_SANS)
    analysis = analyse_chain([leaf.der], root.cert_pem, NOW)
    assert analysis.finding == "ok"
    assert analysis.issuer_is_cluster_ca is True
    assert [c.subject for c in analysis.path] == ["CN=kube-apiserver", "CN=kubernetes"]


def test_chain_through_sent_intermediate_is_ok() -> None:
    root = issue("kubernetes", ca=True)
    inter = issue("kubernetes-intermediate-ca", root, ca=True)
    leaf = issue("kube-apiserver", inter)
    analysis = analyse_chain([leaf.der, inter.der], root.cert_pem, NOW)
    assert analysis.finding == "ok"
    assert len(analysis.path) == 3


def test_same_name_other_key_is_ca_rotated() -> None:
    old = issue("kubernetes", ca=True)
    new = issue("kubernetes", ca=True)
    leaf = issue("kube-apiserver", new)
    analysis = analyse_chain([leaf.der], old.cert_pem, NOW)
    assert analysis.finding == "ca-rotated"
    assert analysis.issuer_is_cluster_ca is False
    assert analysis.same_name_anchors[0].sha256 == describe_certificate(old.der).sha256


def test_self_signed_leaf() -> None:
    root = issue("kubernetes", ca=True)
    leaf = issue("kube-apiserver")
    assert analyse_chain([leaf.der], root.cert_pem, NOW).finding == "self-signed"


def test_chain_ending_at_another_root_is_untrusted_root() -> None:
    root = issue("kubernetes", ca=True)
    proxy_root = issue("corp-proxy-ca", ca=True)
    leaf = issue("kube-apiserver", proxy_root)
    analysis = analyse_chain([leaf.der, proxy_root.der], root.cert_pem, NOW)
    assert analysis.finding == "untrusted-root"
    assert analysis.dangling is not None and analysis.dangling.subject == "CN=corp-proxy-ca"


def test_issuer_neither_sent_nor_configured_is_missing_issuer() -> None:
    root = issue("kubernetes", ca=True)
    inter = issue("kubernetes-intermediate-ca", root, ca=True)
    leaf = issue("kube-apiserver", inter)
    analysis = analyse_chain([leaf.der], root.cert_pem, NOW)
    assert analysis.finding == "missing-issuer"
    assert analysis.dangling is not None and analysis.dangling.issuer == "CN=kubernetes-intermediate-ca"


def test_validity_is_judged_on_the_path() -> None:
    root = issue("kubernetes", ca=True)
    expired = issue(
        "kube-apiserver", root, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=3)
    )
    future = issue(
        "kube-apiserver", root, not_before=NOW + timedelta(days=3), not_after=NOW + timedelta(days=30)
    )
    assert analyse_chain([expired.der], root.cert_pem, NOW).finding == "expired"
    assert analyse_chain([future.der], root.cert_pem, NOW).finding == "not-yet-valid"
    # The same certificate seen from a clock 5 days ahead is valid: the verdict follows `now`.
    assert analyse_chain([future.der], root.cert_pem, NOW + timedelta(days=5)).finding == "ok"


def test_without_configured_ca_the_system_decides() -> None:
    leaf = issue("kube-apiserver")
    analysis = analyse_chain([leaf.der], None, NOW)
    assert analysis.finding == "system-roots"
    assert analysis.issuer_is_cluster_ca is None
    assert analyse_chain([], b"", NOW).finding == "no-chain"


def test_hostname_matching_follows_rfc6125() -> None:
    leaf = describe_certificate(
        issue(
            "x",
            sans=(
                x509.DNSName("api.example.com"),
                x509.DNSName("*.apps.example.com"),
                x509.IPAddress(ipaddress.ip_address("::1")),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ),
        ).der
    )
    assert hostname_matches(leaf, "API.example.com")
    assert hostname_matches(leaf, "x.apps.example.com")
    assert not hostname_matches(leaf, "a.b.apps.example.com")
    assert not hostname_matches(leaf, "apps.example.com")
    assert hostname_matches(leaf, "0:0::1")
    assert hostname_matches(leaf, "127.0.0.1")
    assert not hostname_matches(leaf, "127.0.0.2")
    # An IP literal never matches a DNS SAN that spells it.
    assert not hostname_matches(
        describe_certificate(issue("y", sans=(x509.DNSName("10.0.0.1"),)).der), "10.0.0.1"
    )


def test_weak_key_and_sha1_signature_are_named() -> None:
    import dataclasses

    root = issue("kubernetes", ca=True, rsa_bits=2048)
    weak = issue("kube-apiserver", root, rsa_bits=1024)
    summary = describe_certificate(weak.der)
    assert summary.key_description == "RSA 1024"
    assert summary.signature_hash == "sha256"
    assert strength_problems(summary, is_root=False) == ["RSA key of 1024 bits (< 2048)"]
    # This cryptography build refuses to make SHA-1 signatures, so the hash is set on the summary.
    sha1 = dataclasses.replace(describe_certificate(root.der), signature_hash="sha1")
    assert strength_problems(sha1, is_root=False) == ["signed with SHA1"]
    assert strength_problems(sha1, is_root=True) == []


def test_parse_endpoint_defaults_and_ipv6() -> None:
    assert parse_endpoint("https://[::1]:6443") == Endpoint("https", "::1", 6443)
    assert parse_endpoint("https://example.com").port == 443
    assert parse_endpoint("http://127.0.0.1").port == 80
    assert parse_endpoint("https://[::1]:6443").netloc == "[::1]:6443"


# --- the evidence handshake against servers made here -----------------------------------------


@asynccontextmanager
async def tls_server(tmp_path: Path, chain: Sequence[Issued], received: list[bytes]) -> AsyncIterator[int]:
    """A TLS server on 127.0.0.1 that presents `chain` and records every byte a client sends it."""
    (tmp_path / "chain.cert_pem").write_bytes(b"".join(c.cert_pem for c in chain))
    (tmp_path / "key.cert_pem").write_bytes(chain[0].key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "chain.cert_pem", tmp_path / "key.cert_pem")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await asyncio.wait_for(reader.read(65536), 2)
            received.append(data)
        except (asyncio.TimeoutError, OSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def test_evidence_handshake_reads_the_whole_chain_and_sends_nothing(tmp_path: Path) -> None:
    root = issue("corp-proxy-ca", ca=True)
    inter = issue("corp-issuing-ca", root, ca=True)
    leaf = issue("kube-apiserver", inter, sans=LOCAL_SANS)
    received: list[bytes] = []

    async def main() -> None:
        async with tls_server(tmp_path, [leaf, inter], received) as port:
            facts = await capture_chain_unverified(
                Endpoint("https", "127.0.0.1", port), server_hostname=None, route=None, timeout=2
            )
            assert facts.verification == "off"
            assert facts.captured_on == "evidence"
            assert facts.chain_der == (leaf.der, inter.der)
            assert facts.tls_version in ("TLSv1.2", "TLSv1.3")
            await asyncio.sleep(0.1)

    asyncio.run(main())
    # The server read end-of-stream: no HTTP request, no credential, nothing at all.
    assert received in ([], [b""])


def test_evidence_handshake_against_a_silent_server_times_out(tmp_path: Path) -> None:
    async def main() -> float:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(5)
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        started = time.monotonic()
        facts = await capture_chain_unverified(
            Endpoint("https", "127.0.0.1", port), server_hostname=None, route=None, timeout=0.5
        )
        elapsed = time.monotonic() - started
        server.close()
        assert facts.verification == "none"
        assert facts.error_kind == "tls-handshake-timeout"
        return elapsed

    assert asyncio.run(main()) < 2.0


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_session_chain_capture_on_both_tls_versions(tmp_path: Path, version: str) -> None:
    """chain_from_ssl_object reads the presented and verified chains from a verified connection."""
    from kdoctor.probes.tls import chain_from_ssl_object

    root = issue("kubernetes", ca=True)
    inter = issue("kubernetes-intermediate-ca", root, ca=True)
    leaf = issue("kube-apiserver", inter, sans=LOCAL_SANS)
    received: list[bytes] = []

    async def main() -> None:
        async with tls_server(tmp_path, [leaf, inter], received) as port:
            context = ssl.create_default_context(cadata=root.cert_pem.decode())
            context.maximum_version = ssl.TLSVersion[version.replace(".", "_")]
            _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            presented, verified = chain_from_ssl_object(writer.get_extra_info("ssl_object"))
            writer.close()
            assert presented == (leaf.der, inter.der)
            assert verified == (leaf.der, inter.der, root.der)

    asyncio.run(main())
