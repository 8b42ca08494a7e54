"""Go's certificate rules (kdoctor.gotls): table tests over certificates, and the emulator's cn-only fault
judged end to end, with kubectl asked first."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kdoctor.api import Status
from kdoctor.certs import CertSummary
from kdoctor.gotls import go_rejections, go_version, openssl_rejects_what_go_accepts
from tests.lab.tools import ask_kubectl, plain_kubectl, require_tool
from tests.test_apiserver_checks import run_checks, start

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

_NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
LEAF = CertSummary(
    subject="CN=api.example",
    issuer="CN=ca",
    sha256="AA",
    serial="1",
    not_before=_NOW - timedelta(days=1),
    not_after=_NOW + timedelta(days=1),
    is_ca=False,
    self_signed=False,
    dns_names=("api.example",),
    key_type="EC",
    key_bits=256,
    key_curve="secp256r1",
    signature_hash="sha256",
    common_name="api.example",
)
ROOT = dataclasses.replace(
    LEAF,
    subject="CN=ca",
    is_ca=True,
    self_signed=True,
    dns_names=(),
    common_name="ca",
    key_type="RSA",
    key_bits=2048,
)


def _leaf(**changes: object) -> CertSummary:
    return dataclasses.replace(LEAF, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "host", "toolchain", "rules"),
    [
        ((LEAF, ROOT), "api.example", None, []),
        # The host only in the CN: Go 1.15+ refuses, earlier Go accepted.
        ((_leaf(dns_names=()), ROOT), "api.example", None, ["cn-only"]),
        ((_leaf(dns_names=()), ROOT), "api.example", (1, 14), []),
        ((_leaf(dns_names=(), common_name="*.example"), ROOT), "api.example", None, ["cn-only"]),
        # An IP host never matched a CN in Go: that is a plain SAN mismatch, not this rule.
        ((_leaf(dns_names=(), common_name="10.0.0.1"), ROOT), "10.0.0.1", None, []),
        # A CN naming another host is a mismatch, not a legacy-CN problem.
        ((_leaf(dns_names=()), ROOT), "other.example", None, []),
        # SHA-1 on the leaf: refused since Go 1.18; a root's own SHA-1 self-signature does not count.
        ((_leaf(signature_hash="sha1"), ROOT), "api.example", None, ["sha1-signature"]),
        ((_leaf(signature_hash="sha1"), ROOT), "api.example", (1, 17), []),
        ((LEAF, dataclasses.replace(ROOT, signature_hash="sha1")), "api.example", None, []),
        # RSA under 1024 bits: Go 1.24+ only.
        ((_leaf(key_type="RSA", key_bits=768), ROOT), "api.example", (1, 24), ["rsa-too-small"]),
        ((_leaf(key_type="RSA", key_bits=768), ROOT), "api.example", (1, 23), []),
        ((_leaf(key_type="RSA", key_bits=1024), ROOT), "api.example", None, []),
    ],
)
def test_go_rejections(
    path: tuple[CertSummary, ...], host: str, toolchain: tuple[int, int] | None, rules: list[str]
) -> None:
    assert [r.rule for r in go_rejections(path, host, toolchain=toolchain)] == rules


def test_go_rejection_words_are_gos() -> None:
    (cn,) = go_rejections((_leaf(dns_names=()), ROOT), "api.example")
    assert cn.go_error == "x509: certificate relies on legacy Common Name field, use SANs instead"
    assert cn.openssl_accepts is True
    (sha1,) = go_rejections((_leaf(signature_hash="sha1"), ROOT), "api.example")
    assert sha1.go_error == "x509: cannot verify signature: insecure algorithm SHA1-RSA"  # the root holds RSA
    (small,) = go_rejections((_leaf(key_type="RSA", key_bits=512), ROOT), "api.example")
    assert small.go_error == "crypto/rsa: 512-bit keys are insecure"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("go1.23.8", (1, 23)), ("go1.24rc1", (1, 24)), ("", None), (None, None), ("gc", None)],
)
def test_go_version(text: str | None, expected: tuple[int, int] | None) -> None:
    assert go_version(text) == expected


def test_openssl_strictness_that_go_does_not_share() -> None:
    path = (_leaf(key_type="RSA", key_bits=1536), ROOT)
    assert openssl_rejects_what_go_accepts("certificate verify failed: EE certificate key too weak", path)
    assert not openssl_rejects_what_go_accepts(
        "certificate verify failed: EE certificate key too weak", (_leaf(key_type="RSA", key_bits=768), ROOT)
    )
    assert not openssl_rejects_what_go_accepts("certificate verify failed: unable to get local issuer", path)


def test_cn_only_certificate_kubectl_refuses_and_kdoctor_says_why(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """curl/OpenSSL would accept CN=localhost without SANs; kubectl (Go) refuses it, and so must kdoctor."""
    api, config = start(emulator, "cn-only", tmp_path)
    assert api.url.startswith("https://localhost:")
    kubectl = require_tool("kubectl")
    answer = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "get", "--raw", "/version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert answer.returncode != 0
    assert "x509: certificate relies on legacy Common Name field, use SANs instead" in answer.stderr
    run = run_checks(config, tmp_path)
    hostname = run["tls.hostname"]
    assert hostname.status is Status.FAIL, run.text()
    assert hostname.summary.startswith(
        "x509: certificate relies on legacy Common Name field, use SANs instead"
    )
    assert "OpenSSL-based clients" in hostname.summary
    assert hostname.details["go_rule"] == "cn-only"
    assert "SANs" in hostname.hint
    # No credential went to a server Go would not verify: the identity checks did not get an answer.
    assert run["auth.identity"].status is not Status.PASS


class _VersionHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {"major": "1", "minor": "31", "gitVersion": "v1.31.4", "platform": "linux/amd64"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _tls_apiserver(tmp_path: Path, leaf_pem: bytes, key_pem: bytes, ca_pem: bytes) -> Iterator[Path]:
    """A TLS server on loopback answering /version, and a kubeconfig (with a token) that trusts `ca_pem`."""
    (tmp_path / "leaf.pem").write_bytes(leaf_pem)
    (tmp_path / "leaf.key").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this test server present weak certificates at all
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VersionHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "config"
    cluster = {
        "server": f"https://127.0.0.1:{server.server_address[1]}",
        "certificate-authority-data": base64.b64encode(ca_pem).decode(),
    }
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": "weak-cert-test-token"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    try:
        yield config
    finally:
        server.shutdown()
        server.server_close()


def test_rsa_1024_serving_key_is_accepted_as_kubectl_accepts_it(tmp_path: Path) -> None:
    """Debian's OpenSSL (security level 2) refuses RSA keys under 2048 bits; Go, and so kubectl and kdoctor, do not."""
    from tests.fixtures.kubeconfigs.factory import issue

    ca = issue("kubernetes", ca=True)
    leaf = issue("kube-apiserver", ca, sans=("127.0.0.1",), rsa_bits=1024)
    with _tls_apiserver(tmp_path, leaf.cert_pem, leaf.key_pem, ca.cert_pem) as config:
        asked = ask_kubectl(config, tmp_path, request_timeout=None)
        assert asked.returncode == 0 and "v1.31.4" in asked.stdout, asked.stderr
        run = run_checks(config, tmp_path)
    assert run["tls.chain"].status is Status.PASS, run["tls.chain"].summary
    strength = run["tls.strength"]
    assert strength.status is Status.WARN and "RSA key of 1024 bits (< 2048)" in strength.summary


def test_sha1_signed_serving_cert_is_refused_in_gos_words(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from kdoctor.emulator.pki import resign_with_sha1
    from tests.fixtures.kubeconfigs.factory import issue

    ca = issue("kubernetes", ca=True, rsa_bits=2048)
    leaf = issue("kube-apiserver", ca, sans=("127.0.0.1",))
    sha1_leaf = resign_with_sha1(leaf.cert, ca.key)
    with _tls_apiserver(tmp_path, sha1_leaf.public_bytes(Encoding.PEM), leaf.key_pem, ca.cert_pem) as config:
        asked = ask_kubectl(config, tmp_path, request_timeout=None)
        assert asked.returncode != 0
        assert "x509: cannot verify signature: insecure algorithm SHA1-RSA" in asked.stderr, asked.stderr
        run = run_checks(config, tmp_path)
    chain = run["tls.chain"]
    assert chain.status is Status.FAIL, chain.summary
    assert (
        "kubectl (Go) refuses it: x509: cannot verify signature: insecure algorithm SHA1-RSA" in chain.summary
    )
    assert "rotated" not in chain.summary and "SHA-256 signature" in chain.hint
    assert run["auth.identity"].status is not Status.PASS  # no credential went to a chain Go refuses


def _small_rsa_leaf(ca: Any, bits: int) -> tuple[bytes, bytes]:
    """A serving certificate for 127.0.0.1 with an RSA key of `bits` (< 1024: cryptography will not make
    one, openssl will), issued by `ca`."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from tests.fixtures.kubeconfigs.factory import issue

    key_pem = subprocess.run(
        [require_tool("openssl"), "genrsa", str(bits)], capture_output=True, check=True, timeout=30
    ).stdout
    key = load_pem_private_key(key_pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    leaf = issue("kube-apiserver", ca, sans=("127.0.0.1",), key=key)
    return leaf.cert_pem, key_pem


def _kubectl_release(minor: int) -> str:
    """A plain kubectl 1.MINOR (Google Cloud SDK ships several side by side), else fail/skip."""
    candidate = Path(plain_kubectl()).parent / f"kubectl.1.{minor}"
    if not candidate.exists():
        from tests.lab.tools import missing

        missing(f"kubectl 1.{minor} (kubectl.1.{minor} beside the plain kubectl)")
    return str(candidate)


def test_rsa_768_kubectl_built_with_go_1_24_refuses_older_ones_accept(tmp_path: Path) -> None:
    """Go 1.24 (kubectl 1.33) refuses RSA keys under 1024 bits; go1.23 (kubectl 1.32) accepts them: say which."""
    from tests.fixtures.kubeconfigs.factory import issue
    from tests.test_skew import _run_with_kubectl

    new, old = _kubectl_release(33), _kubectl_release(32)
    ca = issue("kubernetes", ca=True)
    leaf_pem, key_pem = _small_rsa_leaf(ca, 768)
    with _tls_apiserver(tmp_path, leaf_pem, key_pem, ca.cert_pem) as config:
        refused = ask_kubectl(config, tmp_path, binary=new, request_timeout=None)
        accepted = ask_kubectl(config, tmp_path, binary=old, request_timeout=None)
        assert refused.returncode != 0 and "768-bit keys are insecure" in refused.stderr, refused.stderr
        assert accepted.returncode == 0, accepted.stderr
        (tmp_path / "new").mkdir()
        (tmp_path / "old").mkdir()
        with_new = _run_with_kubectl(config, tmp_path / "new", new)
        with_old = _run_with_kubectl(config, tmp_path / "old", old)
    for run in (with_new, with_old):
        chain = run["tls.chain"]
        assert chain.status is Status.FAIL
        assert "kubectl (Go) refuses it: crypto/rsa: 768-bit keys are insecure" in chain.summary
    assert "still accepts it" not in with_new["tls.chain"].summary
    assert "the kubectl on PATH (built with go1.23) still accepts it" in with_old["tls.chain"].summary


def test_sha1_cert_demo_scenario(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api, config = start(emulator, "sha1-cert", tmp_path)
    assert api.serving.cert.signature_hash_algorithm.name == "sha1"  # type: ignore[union-attr]
    asked = ask_kubectl(config, tmp_path, request_timeout=None)
    assert "x509: cannot verify signature: insecure algorithm SHA1-RSA" in asked.stderr, asked.stderr
    chain = run_checks(config, tmp_path)["tls.chain"]
    assert chain.status is Status.FAIL
    assert (
        "kubectl (Go) refuses it: x509: cannot verify signature: insecure algorithm SHA1-RSA" in chain.summary
    )
