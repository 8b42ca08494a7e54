"""X.509 without a network: reading PEM certificates and keys, and describing a certificate.

The one place kdoctor turns certificate bytes into facts, so every family agrees on what a
certificate says: the kubeconfig checks (certificate-authority, client-certificate), the in-cluster
ca.crt, the TLS chain a server presents, and the client certificate a credential carries.

- One PEM parser (`parse_pem_certificates`) with one set of error messages, each a predicate that
  completes a sentence whose subject is the thing read ("ca.crt is not PEM (...)").
- One rule for "is a CA", Go's crypto/x509: basicConstraints CA:TRUE, or a version 1 certificate
  (which cannot carry extensions) — old self-made roots are v1 and Go trusts them as CAs.
- One fingerprint per purpose: `CertSummary.sha256` (colon-separated upper-case hex, as
  `openssl x509 -noout -fingerprint -sha256` prints it) names a certificate to a person who will
  compare it with openssl; `credential_fingerprint` ("sha256:" + lower-case hex, the shape of
  `kdoctor.redact.fingerprint`) names the certificate a credential is made of.

`cryptography` is imported inside functions: `kdoctor --version` and `kdoctor checks` must not pay
for it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kdoctor.timefmt import iso_utc

if TYPE_CHECKING:
    # lazy: cryptography costs start-up time and only certificates need it
    from cryptography import x509

__all__ = [
    "KEY_MISMATCH",
    "CertSummary",
    "certificate_facts",
    "credential_fingerprint",
    "describe",
    "describe_certificate",
    "is_ca",
    "issued_by",
    "key_problem",
    "load_der",
    "load_pem_bundle",
    "parse_pem_certificates",
]

#: What `key_problem` says when the key is a readable key of another certificate.
KEY_MISMATCH = "does not belong to the certificate ('tls: private key does not match public key')"


@dataclass(frozen=True)
class CertSummary:
    """The facts of one certificate a report shows."""

    subject: str
    issuer: str
    sha256: str  # colon-separated upper-case hex, like `openssl x509 -fingerprint -sha256`
    serial: str
    not_before: datetime
    not_after: datetime
    is_ca: bool  # Go's rule: basicConstraints CA:TRUE, or a v1 certificate (see `is_ca`)
    self_signed: bool  # issuer == subject and its own key verifies its signature
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    key_type: str = ""  # "RSA", "EC", "Ed25519", ...
    key_bits: int | None = None
    key_curve: str | None = None
    signature_hash: str | None = None  # "sha256", "sha1", ... None for Ed25519
    basic_constraints: bool = False  # whether it carries the basicConstraints extension at all
    common_name: str | None = None  # the subject's CN: the username of a client certificate
    organizations: tuple[str, ...] = ()  # the subject's O values: a client certificate's groups

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value (the datetimes through copy.deepcopy)
        # only for them to be replaced below; every field is a scalar, a datetime or a tuple of str.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["not_before"] = iso_utc(self.not_before)
        data["not_after"] = iso_utc(self.not_after)
        data["dns_names"] = list(self.dns_names)
        data["ip_addresses"] = list(self.ip_addresses)
        data["organizations"] = list(self.organizations)
        return data

    @property
    def key_description(self) -> str:
        if self.key_bits and self.key_type == "RSA":
            return f"RSA {self.key_bits}"
        if self.key_curve:
            return f"{self.key_type} {self.key_curve}"
        return self.key_type

    @property
    def sans(self) -> tuple[str, ...]:
        return self.dns_names + self.ip_addresses


# --- reading --------------------------------------------------------------------------------------


def parse_pem_certificates(data: bytes) -> tuple[list[x509.Certificate], str | None]:
    """The PEM certificates in `data`, or why there are none (a predicate: "is not PEM (...)")."""
    # lazy: cryptography costs start-up time and only certificates need it
    from cryptography import x509

    if b"-----BEGIN" not in data:
        return [], "is not PEM (no '-----BEGIN CERTIFICATE-----' block)"
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "bad data"
        return [], f"holds no readable PEM certificate ({first_line})"
    if not certs:
        return [], "holds no PEM certificate"
    return certs, None


def load_pem_bundle(pem: bytes) -> list[bytes]:
    """The certificates of a PEM bundle as DER (an unparsable bundle yields none)."""
    # lazy: cryptography costs start-up time and only certificates need it
    from cryptography.hazmat.primitives.serialization import Encoding

    certs, _ = parse_pem_certificates(pem)
    return [c.public_bytes(Encoding.DER) for c in certs]


def load_der(der: bytes) -> x509.Certificate:
    """One DER certificate (ValueError when it is not one)."""
    # lazy: cryptography costs start-up time and only certificates need it
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


def key_problem(key_pem: bytes, cert: x509.Certificate) -> str | None:
    """None when `key_pem` is the private key of `cert`, else why not (never the key itself).

    The reason is a predicate ("is encrypted with a passphrase; ..."); a readable key of another
    certificate gives `KEY_MISMATCH`.
    """
    # lazy: cryptography costs start-up time and only certificates need it
    from cryptography.hazmat.primitives import serialization

    if b"-----BEGIN" not in key_pem:
        return "is not PEM (no '-----BEGIN ... PRIVATE KEY-----' block)"
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        return "is encrypted with a passphrase; kubectl cannot use it"
    except Exception:  # cryptography raises ValueError or UnsupportedAlgorithm for junk
        return "is not a readable PEM private key"
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        matches = key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)
    except (ValueError, TypeError):
        matches = False
    return None if matches else KEY_MISMATCH


# --- judging ------------------------------------------------------------------------------------


def is_ca(cert: x509.Certificate) -> bool:
    """Whether Go's crypto/x509 lets `cert` sign others: basicConstraints CA:TRUE, or a v1 certificate."""
    # lazy: cryptography costs start-up time and only certificates need it
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        # A v1 certificate has no extensions at all; Go accepts it as a CA (old self-made roots).
        return cert.version == x509.Version.v1


#: Certificates compare and hash by their DER: the same certificate parsed again (the serving chain of
#: each of 200 contexts on one cluster, the CA of each context that names it) is judged once. Pure
#: functions of the certificates; nothing in them depends on the clock.
_MEMO = 1024


@functools.lru_cache(maxsize=_MEMO)
def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer` names and signed `cert` (its key verifies the signature)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except ValueError:
        # cryptography refuses SHA-1 (and MD5) signatures outright; who signed still matters, so that
        # a SHA-1 chain is reported as SHA-1 (kdoctor.gotls) rather than as a rotated or missing CA.
        return _legacy_signature_verifies(cert, issuer)
    except Exception:  # InvalidSignature, an unsupported key (TypeError)
        return False
    return True


def _legacy_signature_verifies(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    # lazy: the asymmetric primitives load only for a SHA-1 chain, which ssl no longer verifies for us
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        if cert.issuer != issuer.subject:
            return False
        algorithm = cert.signature_hash_algorithm
        if algorithm is None or algorithm.name not in ("sha1", "md5"):
            return False
        key = issuer.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except Exception:  # InvalidSignature, an unknown algorithm
        return False
    return True


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string() or "(empty)"
    except ValueError:
        return "(unprintable)"


def describe_certificate(der: bytes) -> CertSummary:
    """The summary of one DER certificate."""
    return describe(load_der(der))


@functools.lru_cache(maxsize=_MEMO)
def describe(cert: x509.Certificate) -> CertSummary:
    """The summary of one parsed certificate."""
    # lazy: cryptography costs start-up time and only certificates need it
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import NameOID

    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names, ips = (), ()
    try:
        cert.extensions.get_extension_for_class(x509.BasicConstraints)
        has_constraints = True
    except x509.ExtensionNotFound:
        has_constraints = False
    key_type, bits, curve = "unknown", None, None
    try:
        key: object = cert.public_key()
    except Exception:  # a key algorithm cryptography does not know (UnsupportedAlgorithm, ValueError)
        key = None
    if isinstance(key, rsa.RSAPublicKey):
        key_type, bits = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, bits, curve = "EC", key.key_size, key.curve.name
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type = "Ed25519"
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type = "Ed448"
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, bits = "DSA", key.key_size
    try:
        hash_algorithm = cert.signature_hash_algorithm
    except Exception:  # an unknown signature algorithm (UnsupportedAlgorithm): describe the rest
        hash_algorithm = None

    def attrs(oid: x509.ObjectIdentifier) -> list[str]:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]

    common_names = attrs(NameOID.COMMON_NAME)
    return CertSummary(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        sha256=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca(cert),
        self_signed=cert.issuer == cert.subject and issued_by(cert, cert),
        dns_names=dns_names,
        ip_addresses=ips,
        key_type=key_type,
        key_bits=bits,
        key_curve=curve,
        signature_hash=hash_algorithm.name if hash_algorithm is not None else None,
        basic_constraints=has_constraints,
        common_name=common_names[0] if common_names else None,
        organizations=tuple(attrs(NameOID.ORGANIZATION_NAME)),
    )


#: One threshold for every certificate kdoctor judges (serving chain, cluster CA, client certificate,
#: service-account CA): within it, an expiry is a warning. 30 days leaves a renewal cycle (cert-manager
#: renews at 2/3 of a 90-day life, kubeadm users are told to renew within the last month).
EXPIRY_WARNING = timedelta(days=30)


def expires_soon(not_after: datetime, now: datetime) -> bool:
    """The one judgement of "expiring": still valid, but within EXPIRY_WARNING of its end."""
    return now <= not_after and not_after - now <= EXPIRY_WARNING


def certificate_facts(cert: CertSummary, now: datetime) -> dict[str, Any]:
    """JSON-ready facts about one certificate, judged against `now` (the kubeconfig checks' details)."""
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "not_before": iso_utc(cert.not_before),
        "not_after": iso_utc(cert.not_after),
        "expired": now > cert.not_after,
        "not_yet_valid": now < cert.not_before,
        "expires_in_days": (cert.not_after - now).days,
        "is_ca": cert.is_ca,
    }


def credential_fingerprint(cert: CertSummary) -> str:
    """The certificate as a credential's identity: "sha256:" + lower-case hex, like `redact.fingerprint`.

    A certificate is public, so all 64 digits are shown (a secret's fingerprint keeps only 8).
    """
    return "sha256:" + cert.sha256.replace(":", "").lower()
