"""Who the apiserver says the credential is: the SelfSubjectReview exchange, with its fallbacks.

kubectl auth whoami POSTs a SelfSubjectReview (authentication.k8s.io/v1 since 1.28, v1beta1 since
1.27). A server without either answers 404; then GET /api with the credential still tells whether
it is accepted. Facts only: auth.identity judges them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kdoctor.keys import API_SESSION

if TYPE_CHECKING:
    from kdoctor.context import Context
    from kdoctor.probes.api import ApiResponse

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
