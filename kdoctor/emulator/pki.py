"""Certificates and keys for the emulated cluster, made at start with `cryptography`.

The shapes follow kubeadm: a self-signed cluster CA named CN=kubernetes, a serving certificate for
kube-apiserver whose SANs name the loopback addresses and the `kubernetes.default.svc...` service
names, client certificates whose CN is the user and whose O entries are the groups, and an RSA key
pair that signs service-account tokens (RS256, like the real token controller).

ECDSA P-256 is used wherever a fault does not need RSA, because RSA key generation dominates the
start-up time of an emulator.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

KeyType = Literal["ec", "rsa"]

#: The SANs kubeadm puts on the apiserver serving certificate (plus loopback for the emulator).
DEFAULT_SERVING_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
DEFAULT_SERVING_IPS = ("127.0.0.1", "::1")


def new_key(kind: KeyType = "ec") -> PrivateKey:
    """A fresh private key: ECDSA P-256 (fast) or RSA 2048 (when a fault needs RSA's messages)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


_POOL: dict[str, PrivateKey] = {}
_POOL_LOCK = threading.Lock()


def pooled_rsa_key(slot: str) -> PrivateKey:
    """An RSA key shared by every emulator of this process under `slot`, made on first use.

    RSA generation costs tens of milliseconds (sometimes far more); faults that need RSA only for
    its error messages reuse keys across emulators so that start-up stays fast.
    """
    with _POOL_LOCK:
        key = _POOL.get(slot)
        if key is None:
            key = _POOL[slot] = new_key("rsa")
        return key


def key_pem(key: PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM."""
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class CertKey:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @property
    def sha256(self) -> str:
        """The certificate's SHA-256 fingerprint, lowercase hex."""
        from cryptography.hazmat.primitives import hashes

        return self.cert.fingerprint(hashes.SHA256()).hex()


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def make_ca(
    common_name: str = "kubernetes",
    *,
    issuer: CertKey | None = None,
    key_type: KeyType = "ec",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    organizations: Sequence[str] = (),
    key: PrivateKey | None = None,
) -> CertKey:
    """A CA certificate: self-signed (a root, like kubeadm's CN=kubernetes) or signed by `issuer`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = key or new_key(key_type)
    now = _now()
    subject = _name(common_name, organizations)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(minutes=5))
        .not_valid_after(not_after or now + timedelta(days=3650))
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return CertKey(builder.sign(signer_key, hashes.SHA256()), key)


def make_leaf(
    common_name: str,
    *,
    issuer: CertKey | None,
    organizations: Sequence[str] = (),
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    server: bool = True,
    client: bool = False,
    key_type: KeyType = "ec",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> CertKey:
    """An end-entity certificate signed by `issuer` (None: self-signed, a fault of its own)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = new_key(key_type)
    now = _now()
    subject = _name(common_name, organizations)
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(minutes=5))
        .not_valid_after(not_after or now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return CertKey(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def make_serving_cert(
    issuer: CertKey | None,
    *,
    dns_names: Iterable[str] = DEFAULT_SERVING_DNS,
    ip_addresses: Iterable[str] = DEFAULT_SERVING_IPS,
    key_type: KeyType = "ec",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> CertKey:
    """The kube-apiserver serving certificate (CN=kube-apiserver, like kubeadm)."""
    return make_leaf(
        "kube-apiserver",
        issuer=issuer,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        server=True,
        key_type=key_type,
        not_before=not_before,
        not_after=not_after,
    )


_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")


def resign_with_sha1(cert: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    """`cert` (signed sha256WithRSAEncryption by the RSA `issuer_key`) re-signed with sha1WithRSAEncryption.

    `cryptography` no longer issues SHA-1 certificates. The two AlgorithmIdentifiers have the same
    length (the OIDs differ in their last byte) and an RSA signature is as long as the key, so the
    DER is rewritten in place: both identifiers, then a SHA-1 signature over the new TBSCertificate.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    if not isinstance(issuer_key, rsa.RSAPrivateKey):
        raise TypeError("a SHA-1 re-signature needs the issuer's RSA key")
    der = cert.public_bytes(Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    if der.count(_SHA256_RSA) != 2 or tbs.count(_SHA256_RSA) != 1:
        raise ValueError("expected a certificate signed sha256WithRSAEncryption")
    new_tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer_key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())
    if len(signature) != len(cert.signature):
        raise ValueError("signature length changed")
    rewritten = der.replace(tbs, new_tbs).replace(_SHA256_RSA, _SHA1_RSA)
    return x509.load_der_x509_certificate(rewritten[: -len(signature)] + signature)


def make_client_cert(
    issuer: CertKey,
    user: str,
    groups: Sequence[str] = (),
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> CertKey:
    """A client certificate: CN is the user name, each O is a group (how the apiserver reads it)."""
    return make_leaf(
        user,
        issuer=issuer,
        organizations=groups,
        server=False,
        client=True,
        not_before=not_before,
        not_after=not_after,
    )


def write_pem(path: str | Path, *blocks: bytes, private: bool = False) -> Path:
    """Write PEM blocks to `path` (mode 0600 when it holds a private key) and return the path."""
    target = Path(path)
    target.write_bytes(b"".join(blocks))
    if private:
        target.chmod(0o600)
    return target


# --- service-account tokens (RS256 JWTs) --------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JWTError(ValueError):
    """A token the service-account authenticator rejects; the message says why (for the server log)."""


class ServiceAccountKeys:
    """The RSA key pair that signs and verifies service-account tokens (RS256), made on first use."""

    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        self._key = key

    @property
    def generated(self) -> bool:
        return self._key is not None

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        if self._key is None:
            from cryptography.hazmat.primitives.asymmetric import rsa

            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._key

    @property
    def key_id(self) -> str:
        """Like the apiserver's kid: the base64url SHA-256 of the public key's DER."""
        from cryptography.hazmat.primitives import serialization

        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return _b64url(hashlib.sha256(der).digest())

    @property
    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: Mapping[str, Any]) -> str:
        """An RS256 JWT carrying `claims`."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "kid": self.key_id}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
        )
        signature = self.private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def verify(
        self,
        token: str,
        *,
        issuers: Sequence[str],
        audiences: Sequence[str],
        now: float | None = None,
        leeway: float = 60.0,
    ) -> dict[str, Any]:
        """The claims of `token` if the signature, issuer, audience and validity window hold.

        Legacy secret-based tokens (iss "kubernetes/serviceaccount") carry no audience or expiry,
        and the apiserver still accepts them; so does this.
        """
        if self._key is None:
            # No token was ever minted here, so none can carry our signature.
            raise JWTError("no service-account signing key")
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = token.split(".")
        if len(parts) != 3:
            raise JWTError("not a JWT")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except ValueError as exc:
            raise JWTError(f"malformed JWT: {exc}") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise JWTError("malformed JWT")
        if header.get("alg") != "RS256":
            raise JWTError(f"unexpected alg {header.get('alg')!r}")
        try:
            self._key.public_key().verify(
                signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise JWTError("invalid signature") from None
        iss = claims.get("iss")
        if iss == LEGACY_ISSUER:
            return claims
        if iss not in issuers:
            raise JWTError(f"issuer {iss!r} not accepted")
        aud = claims.get("aud")
        token_audiences = [aud] if isinstance(aud, str) else list(aud or [])
        if not set(token_audiences) & set(audiences):
            raise JWTError("audience not accepted")
        current = time.time() if now is None else now
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or current > exp + leeway:
            raise JWTError("token has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and current + leeway < nbf:
            raise JWTError("token is not valid yet")
        return claims


LEGACY_ISSUER = "kubernetes/serviceaccount"


def jwt_claims_unverified(token: str) -> dict[str, Any]:
    """The claims of a JWT without checking anything (for tests and the log)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("not a JWT")
    claims = json.loads(_b64url_decode(parts[1]))
    if not isinstance(claims, dict):
        raise JWTError("malformed JWT")
    return claims
