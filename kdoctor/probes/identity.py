"""Who the apiserver says the credential is: the SelfSubjectReview exchange, with its fallbacks.

kubectl auth whoami POSTs a SelfSubjectReview (authentication.k8s.io/v1 since 1.28, v1beta1 since
1.27). A server without either answers 404; then GET /api with the credential still tells whether
it is accepted. When the answer is 401, `UNAUTHORIZED_FACTS` gathers what tells the causes apart
(the cluster's token issuer, whether the cluster CA signed the client certificate). Facts only:
auth.identity judges them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kdoctor.certs import describe, issued_by, parse_pem_certificates
from kdoctor.jwt import decode as decode_jwt
from kdoctor.keys import API_SESSION, CREDENTIALS

if TYPE_CHECKING:
    from kdoctor.context import Context
    from kdoctor.probes.api import ApiResponse, ApiSession

#: Newest first, as kubectl tries them.
REVIEW_PATHS = (
    ("authentication.k8s.io/v1", "/apis/authentication.k8s.io/v1/selfsubjectreviews"),
    ("authentication.k8s.io/v1beta1", "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews"),
)


@dataclass(frozen=True)
class IdentityReview:
    """The SelfSubjectReview answer (the last version tried), and GET /api's when no version exists."""

    api_version: str
    response: ApiResponse
    #: GET /api with the credential, asked only when every review version answered 404.
    fallback: ApiResponse | None = None


async def review_identity(ctx: Context) -> IdentityReview:
    session = await ctx.probe(API_SESSION)
    body = {"apiVersion": "", "kind": "SelfSubjectReview"}
    api_version, response = "", None
    for api_version, path in REVIEW_PATHS:
        response = await session.post(path, {**body, "apiVersion": api_version}, authenticated=True)
        if response.status != 404:
            break
    assert response is not None  # REVIEW_PATHS is not empty
    fallback = await session.get("/api", authenticated=True) if response.status == 404 else None
    return IdentityReview(api_version, response, fallback)


#: Where a cluster publishes its service-account token issuer (OIDC discovery, served unauthenticated
#: by kube-apiserver since 1.21 to anyone system:service-account-issuer-discovery allows).
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class UnauthorizedFacts:
    """What tells the causes of a 401 apart, gathered only when the credential can show them.

    `cluster_issuer`: the cluster's token issuer, asked (without the credential) only for a JWT;
    None when not asked or not answered (`issuer_asked` says which). `client_ca_subject` and
    `signed_by_cluster_ca`: the kubeconfig's CA (the one that signed the client certificate, else
    its first) and whether it signed it; None/False without a client certificate or a usable CA.
    """

    cluster_issuer: str | None = None
    issuer_asked: bool = False
    client_ca_subject: str | None = None
    signed_by_cluster_ca: bool = False


async def gather_unauthorized_facts(ctx: Context) -> UnauthorizedFacts:
    cred = await ctx.probe(CREDENTIALS)
    session = await ctx.probe(API_SESSION)
    issuer, asked = None, False
    if cred.bearer is not None and decode_jwt(cred.bearer.reveal()) is not None:
        issuer, asked = await _cluster_issuer(session), True
    ca_subject, signed = None, False
    if cred.client_cert_pem is not None:
        ca_subject, signed = _issued_by(cred.client_cert_pem, session.access.ca_pem)
    return UnauthorizedFacts(issuer, asked, ca_subject, signed)


async def _cluster_issuer(session: ApiSession) -> str | None:
    """The cluster's service-account issuer, when discovery answers without a credential."""
    response = await session.get(DISCOVERY_PATH, authenticated=False)
    body = response.json
    if response.status == 200 and isinstance(body, dict) and isinstance(body.get("issuer"), str):
        return str(body["issuer"])
    return None


def _issued_by(cert_pem: bytes, ca_pem: bytes | None) -> tuple[str | None, bool]:
    """(the CA's subject, whether it signed the certificate); (None, False) without a usable CA."""
    if not ca_pem:
        return None, False
    certs, cert_error = parse_pem_certificates(cert_pem)
    cas, ca_error = parse_pem_certificates(ca_pem)
    if cert_error is not None or ca_error is not None:
        return None, False
    signer = next((ca for ca in cas if issued_by(certs[0], ca)), None)
    return describe(signer or cas[0]).subject, signer is not None
