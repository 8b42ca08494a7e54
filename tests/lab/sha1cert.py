"""A certificate signed with SHA-1, which `cryptography` no longer issues: re-sign a SHA-256 one.

sha256WithRSAEncryption and sha1WithRSAEncryption have AlgorithmIdentifiers of the same length (the
OIDs differ in their last byte), and an RSA signature's length is the key's, so the SHA-256
certificate's DER is rewritten in place: both algorithm identifiers, then a SHA-1 signature over
the rewritten TBSCertificate.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")


def resign_with_sha1(cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """`cert` (signed sha256WithRSAEncryption by `issuer_key`) re-signed with sha1WithRSAEncryption."""
    from cryptography.hazmat.primitives.serialization import Encoding

    der = cert.public_bytes(Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    if der.count(_SHA256_RSA) != 2 or tbs.count(_SHA256_RSA) != 1:
        raise ValueError("expected a certificate signed sha256WithRSAEncryption")
    new_tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer_key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())
    if len(signature) != len(cert.signature):
        raise ValueError("signature length changed")
    rewritten = der.replace(tbs, new_tbs).replace(_SHA256_RSA, _SHA1_RSA)
    rewritten = rewritten[: -len(signature)] + signature
    return x509.load_der_x509_certificate(rewritten)
