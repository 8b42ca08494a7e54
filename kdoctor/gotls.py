"""Go's certificate rules, which kubectl (a Go program) applies and OpenSSL may not.

Pure functions over parsed certificates (`kdoctor.certs.CertSummary`); no network. kdoctor verifies
with Python's ssl (OpenSSL), so where the two libraries decide differently the verdict that matters
is Go's, and a report should say that other clients may differ.

The rules, from Go's crypto/x509 and crypto/rsa:

- Common Name: since Go 1.15 a serving certificate must name the host in its subjectAltName; the
  subject CN is ignored (GODEBUG x509ignoreCN=0 undid it until Go 1.17 removed the switch). Go says
  "x509: certificate relies on legacy Common Name field, use SANs instead". OpenSSL, and so Python's
  ssl, still falls back to the CN when a certificate has no DNS SANs.
- SHA-1: since Go 1.18 a SHA-1 signature on any certificate it verifies (not the anchor's own
  self-signature) fails with "x509: cannot verify signature: insecure algorithm SHA1-RSA" (GODEBUG
  x509sha1=1 undid it until Go 1.24 removed the switch).
- RSA size: since Go 1.24 crypto/rsa refuses keys under 1024 bits ("crypto/rsa: 512-bit keys are
  insecure", golang/go#68762; GODEBUG rsa1024min=0 undoes it). Earlier Go accepts them.
- Anchors: every certificate in the CA bundle is a trust anchor, intermediates included; OpenSSL
  wants a self-signed root unless X509_V_FLAG_PARTIAL_CHAIN is set (kdoctor sets it).

Sources: the Go release notes (go.dev/doc/go1.15#commonname, go.dev/doc/go1.18#sha1,
go.dev/doc/go1.24#cryptorsapkgcryptorsa), golang/go#68762 (crypto/rsa: refuse keys under 1024
bits), and crypto/x509's verify.go (VerifyHostname ignores the CN; a pool certificate is an
anchor). tests/test_gotls.py asks kubectl itself for the CN-only, SHA-1 and RSA-1024 cases.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kdoctor.certs import CertSummary

__all__ = [
    "GoRejection",
    "go_rejections",
    "go_version",
    "openssl_rejects_what_go_accepts",
]

#: Where each rule starts, as (major, minor) of the Go toolchain.
CN_IGNORED_SINCE = (1, 15)
SHA1_REJECTED_SINCE = (1, 18)
RSA_1024_MIN_SINCE = (1, 24)
RSA_MIN_BITS = 1024

_GO_VERSION = re.compile(r"go(\d+)\.(\d+)")
_SIGNATURE_NAMES = {"RSA": "SHA1-RSA", "EC": "ECDSA-SHA1", "DSA": "DSA-SHA1"}


@dataclass(frozen=True)
class GoRejection:
    """One reason Go refuses the chain, as Go words it."""

    rule: str  # "cn-only", "sha1-signature", "rsa-too-small"
    subject: str
    go_error: str
    since: str  # "Go 1.15"
    #: Whether OpenSSL (Python's ssl, curl, most non-Go clients) accepts what Go refuses.
    openssl_accepts: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "go_error": self.go_error,
            "since": self.since,
            "openssl_accepts": self.openssl_accepts,
        }


def go_version(text: str | None) -> tuple[int, int] | None:
    """(1, 23) from "go1.23.8" (kubectl's goVersion); None when absent or unreadable."""
    match = _GO_VERSION.search(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _is_ip(host: str) -> bool:

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def go_rejections(
    path: Sequence[CertSummary],
    host: str,
    *,
    toolchain: tuple[int, int] | None = None,
    anchor_self_signed: bool = True,
) -> list[GoRejection]:
    """Why Go refuses a chain that verified up to a trust anchor (an empty list: Go accepts it).

    `path` runs leaf → anchor as verification walked it; `host` is the name checked against the
    leaf (tls-server-name or the server URL's host). `toolchain` is the Go version of the client
    (kubectl's goVersion); None judges as current Go. A self-signed anchor's own signature is not
    verified by Go, so it never counts.
    """
    current = toolchain or (99, 0)
    out: list[GoRejection] = []
    if not path:
        return out
    leaf = path[0]
    if (
        current >= CN_IGNORED_SINCE
        and not leaf.dns_names
        and not leaf.ip_addresses
        and not _is_ip(host)
        and leaf.common_name
        and _cn_names(leaf.common_name, host)
    ):
        out.append(
            GoRejection(
                "cn-only",
                leaf.subject,
                "x509: certificate relies on legacy Common Name field, use SANs instead",
                "Go 1.15",
                openssl_accepts=True,
            )
        )
    for index, cert in enumerate(path):
        is_anchor = index == len(path) - 1 and len(path) > 1
        own_root = cert.self_signed and (is_anchor or len(path) == 1) and anchor_self_signed
        if current >= SHA1_REJECTED_SINCE and cert.signature_hash == "sha1" and not own_root:
            algorithm = _SIGNATURE_NAMES.get(_signer_key_type(path, index), "SHA1-RSA")
            out.append(
                GoRejection(
                    "sha1-signature",
                    cert.subject,
                    f"x509: cannot verify signature: insecure algorithm {algorithm}",
                    "Go 1.18",
                    # OpenSSL 3 refuses SHA-1 signatures at security level 1 and above (its default).
                    openssl_accepts=False,
                )
            )
        if (
            current >= RSA_1024_MIN_SINCE
            and cert.key_type == "RSA"
            and cert.key_bits is not None
            and cert.key_bits < RSA_MIN_BITS
        ):
            out.append(
                GoRejection(
                    "rsa-too-small",
                    cert.subject,
                    f"crypto/rsa: {cert.key_bits}-bit keys are insecure",
                    "Go 1.24",
                    openssl_accepts=False,
                )
            )
    return out


def _signer_key_type(path: Sequence[CertSummary], index: int) -> str:
    """The key type of whoever signed path[index] (itself at the top)."""
    signer = path[index + 1] if index + 1 < len(path) else path[index]
    return signer.key_type


def _cn_names(common_name: str, host: str) -> bool:
    """Whether a CN would have matched `host` (exactly or as a one-label wildcard) before Go 1.15."""
    cn = common_name.rstrip(".").lower()
    name = host.rstrip(".").lower()
    if cn == name:
        return True
    return cn.startswith("*.") and "." in name and name.split(".", 1)[1] == cn[2:]


#: OpenSSL's verification errors for what Go accepts: a key or digest below the configured
#: security level (Debian and others default to level 2: RSA >= 2048 bits). Go takes RSA keys of
#: 1024 bits and more. kdoctor's API session runs at security level 1 to match Go, so these appear
#: only from other OpenSSL clients; the judgement stays here for the wording.
_OPENSSL_ONLY = (
    "ee key too small",
    "ee certificate key too weak",
    "ca certificate key too weak",
    "ca key too small",
)


def openssl_rejects_what_go_accepts(openssl_error: str, path: Sequence[CertSummary]) -> bool:
    """Whether an OpenSSL verification error is about key strength that Go does accept (RSA >= 1024)."""
    text = openssl_error.lower()
    if not any(marker in text for marker in _OPENSSL_ONLY):
        return False
    return all(c.key_type != "RSA" or (c.key_bits or 0) >= RSA_MIN_BITS for c in path)
