"""The identity a credential claims, beside the one the apiserver reports. Pure.

A client certificate claims its subject CN (the username) and O values (the groups); a JWT its
`sub` (a service account: system:serviceaccount:NS:NAME) and `iss`; an EKS token names no user
(the authenticator maps the AWS ARN to one; EKS reports the ARN in the review's extra "arn").
A difference is normal where the server maps identities (OIDC prefixes, aws-auth, webhook
authenticators), so it is a note, never a finding: it tells the user which name RBAC must bind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ClaimedIdentity", "anonymous_403_words", "identity_note"]


@dataclass(frozen=True)
class ClaimedIdentity:
    username: str | None
    groups: tuple[str, ...] = ()
    source: str = ""  # "client certificate", "JWT sub", "EKS token"


def identity_note(
    claimed: ClaimedIdentity | None, username: str, groups: Sequence[str], extra: Mapping[str, Sequence[str]]
) -> str:
    """ "" when there is nothing to add, else a clause for the identity check's summary."""
    if claimed is None:
        return ""
    arn = next(iter(extra.get("arn") or ()), None)
    if claimed.source == "EKS token":
        return f"; the EKS token maps ARN {arn} to {username}" if arn else ""
    if claimed.username is None:
        return ""
    if claimed.username == username:
        missing = [g for g in claimed.groups if g not in groups]
        if missing:
            return f"; the {claimed.source} also claims groups {', '.join(missing)}, which the server did not grant"
        return ""
    return (
        f"; the {claimed.source} claims {claimed.username}, the server maps it to {username} "
        "(bind RBAC to the server's name)"
    )


def anonymous_403_words(kind: str, sent: bool) -> tuple[str, str]:
    """(what happened, what to do) for a 403 as system:anonymous although a credential was configured.

    A token the apiserver cannot validate gets 401, never anonymous; so an anonymous answer to a
    request that carried one means it never arrived. A client certificate is only presented when
    the TLS server asks for one, which an apiserver without --client-ca-file (or a TLS-terminating
    proxy in front of it) does not.
    """
    if kind in ("client-certificate", "exec-client-certificate"):
        return (
            "the client certificate was not presented: the TLS server did not ask for one (an apiserver without "
            "--client-ca-file, or a TLS-terminating proxy or load balancer in front of it)",
            "Connect to the apiserver directly (or make the proxy pass TLS through), and check that kube-apiserver "
            "runs with --client-ca-file naming the CA that issued the certificate.",
        )
    if sent:
        return (
            "the token was sent but never reached the apiserver as a credential (an invalid token gets 401, "
            "not anonymous): something in between drops the Authorization header",
            "Find the proxy, ingress or load balancer that strips Authorization and connect directly, or "
            "configure it to pass the header through.",
        )
    return (
        "the credential was not sent",
        "Check why the credential is not used (see auth.credential and tls.insecure).",
    )
