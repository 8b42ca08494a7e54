"""Authentication like kube-apiserver's union authenticator: x509 client certificates first, then tokens."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kdoctor.emulator.messages import Request
from kdoctor.emulator.scenarios import (
    EmulatorConfig,
    UserInfo,
)

if TYPE_CHECKING:
    from cryptography import x509

    from kdoctor.emulator.pki import ServiceAccountKeys

ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


class Authentication:
    """kube-apiserver's authenticators: x509 client certificates, then static and service-account tokens."""

    config: EmulatorConfig
    tokens: dict[str, UserInfo]
    sa_keys: ServiceAccountKeys
    cluster_ca: x509.Certificate

    def authenticate(self, request: Request) -> UserInfo | None:
        """The user, ANONYMOUS, or None for 401. Order as in kube-apiserver: x509 first, then tokens.

        Like its union authenticator: a client certificate that does not authenticate (expired,
        another CA) is an error that passes the request on to the token authenticators, so a good
        bearer token still gets in; with no token that error is a 401, never anonymous (anonymous
        follows only when no authenticator rejected anything).
        """
        rejected = False
        if request.client_cert_der is not None:
            user = self._authenticate_cert(request.client_cert_der)
            if user is not None:
                return user
            rejected = True
        authorization = request.header("Authorization")
        if authorization is None:
            return ANONYMOUS if self.config.anonymous and not rejected else None
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return None
        if self.config.reject_all_credentials:
            return None
        token = credential.strip()
        static = self.tokens.get(token)
        if static is not None:
            return _with_authenticated(static)
        return self._authenticate_sa_token(token)

    def _authenticate_cert(self, der: bytes) -> UserInfo | None:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import NameOID

        if self.config.reject_all_credentials:
            return None
        cert = x509.load_der_x509_certificate(der)
        try:
            cert.verify_directly_issued_by(self.cluster_ca)
        except (InvalidSignature, ValueError, TypeError):  # another CA, or another key under the same name
            return None
        now = datetime.now(timezone.utc)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return None
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not cns:
            return None
        groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        credential_id = "X509SHA256=" + cert.fingerprint(hashes.SHA256()).hex()
        return _with_authenticated(
            UserInfo(
                str(cns[0].value),
                groups,
                extra={"authentication.kubernetes.io/credential-id": (credential_id,)},
            )
        )

    def _authenticate_sa_token(self, token: str) -> UserInfo | None:
        from kdoctor.emulator.pki import LEGACY_ISSUER, JWTError

        try:
            claims = self.sa_keys.verify(
                token, issuers=(self.config.sa_issuer,), audiences=self.config.sa_audiences
            )
        except JWTError:
            return None
        if claims.get("iss") == LEGACY_ISSUER:
            namespace = str(claims.get("kubernetes.io/serviceaccount/namespace", ""))
            name = str(claims.get("kubernetes.io/serviceaccount/service-account.name", ""))
            uid = str(claims.get("kubernetes.io/serviceaccount/service-account.uid", ""))
            extra: dict[str, tuple[str, ...]] = {}
        else:
            k8s = claims.get("kubernetes.io") or {}
            namespace = str(k8s.get("namespace", ""))
            sa = k8s.get("serviceaccount") or {}
            name, uid = str(sa.get("name", "")), str(sa.get("uid", ""))
            extra = {}
            pod = k8s.get("pod") or {}
            if pod:
                extra["authentication.kubernetes.io/pod-name"] = (str(pod.get("name", "")),)
                extra["authentication.kubernetes.io/pod-uid"] = (str(pod.get("uid", "")),)
            if claims.get("jti"):
                extra["authentication.kubernetes.io/credential-id"] = (f"JTI={claims['jti']}",)
        if not namespace or not name or claims.get("sub") != f"system:serviceaccount:{namespace}:{name}":
            return None
        if f"{namespace}/{name}" in self.config.revoked_service_accounts:
            return None
        return UserInfo(
            f"system:serviceaccount:{namespace}:{name}",
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
            uid=uid,
            extra=extra,
        )


def _with_authenticated(user: UserInfo) -> UserInfo:
    if "system:authenticated" in user.groups:
        return user
    return UserInfo(user.username, (*user.groups, "system:authenticated"), user.uid, user.extra)
