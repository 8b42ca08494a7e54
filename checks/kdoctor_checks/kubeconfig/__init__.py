"""The kubeconfig family: is the kubeconfig usable, and if not, exactly why?

Everything client-go would reject is a `fail`, named precisely (kubectl prints only the first error,
often as "localhost:8080 refused"); things kubectl accepts but that will bite are `warn`.

The family by concern: `files` (found, parse, structure, permissions), `context` (the selection),
`cluster` (server, CA, TLS server name, proxy URL), `user` (credentials, client certificate, exec
plugin), `peers` (the Python client's reading). CHECKS keeps the report order.
"""

from __future__ import annotations

from kdoctor_checks.kubeconfig.cluster import CertificateAuthority, ProxyURL, Server, TLSServerName
from kdoctor_checks.kubeconfig.context import ContextSelected
from kdoctor_checks.kubeconfig.files import Found, Parse, Permissions, Structure
from kdoctor_checks.kubeconfig.peers import PythonClient
from kdoctor_checks.kubeconfig.user import ClientCertificate, CredentialsConfigured, ExecPlugin

__all__ = [
    "CHECKS",
    "ORDER",
    "CertificateAuthority",
    "ClientCertificate",
    "ContextSelected",
    "CredentialsConfigured",
    "ExecPlugin",
    "Found",
    "Parse",
    "Permissions",
    "ProxyURL",
    "PythonClient",
    "Server",
    "Structure",
    "TLSServerName",
]

#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 10

CHECKS = (
    Found,
    Parse,
    Structure,
    ContextSelected,
    Server,
    CertificateAuthority,
    TLSServerName,
    ProxyURL,
    CredentialsConfigured,
    ClientCertificate,
    ExecPlugin,
    Permissions,
    PythonClient,
)
