"""The kubeconfig facts: files, entries, the selection and the material read for it (dataclasses only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kdoctor.access import auth_methods
from kdoctor.redact import Secret, SecretRegistry

if TYPE_CHECKING:
    from kdoctor.yamlload import DuplicateKey, YamlError


# ---------------------------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class Problem:
    """Something wrong with the structure of one file. `fatal`: kubectl refuses to load the config."""

    file: str
    where: str  # "clusters[0].cluster.server", "" for the whole document
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{self.file}: {where}{self.message}"


@dataclass(frozen=True)
class KubeconfigFile:
    """One kubeconfig file as loaded (or not)."""

    path: str  # absolute
    source: str  # "--kubeconfig" | "KUBECONFIG" | "default"
    error: YamlError | None = None
    empty: bool = False
    duplicate_keys: tuple[DuplicateKey, ...] = ()
    extra_documents: bool = False
    problems: tuple[Problem, ...] = ()
    mode: int | None = None  # permission bits
    holds_secrets: bool = False
    current_context: str | None = None
    clusters: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    @property
    def loaded(self) -> bool:
        return self.error is None

    @property
    def fatal_problems(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.fatal)

    @property
    def usable(self) -> bool:
        """kubectl would load this file without an error."""
        return self.error is None and not self.fatal_problems


@dataclass(frozen=True)
class ClusterEntry:
    """A clusters[] entry of a kubeconfig file."""

    name: str
    origin: str  # file that defined it
    server: str | None = None
    certificate_authority: str | None = None  # resolved path
    certificate_authority_data: str | None = None  # base64 text as written
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ExecEntry:
    """A user's exec credential plugin stanza."""

    api_version: str | None
    command: str | None  # resolved against the file when it contains a path separator
    command_as_written: str | None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, Secret], ...] = ()
    interactive_mode: str | None = None
    install_hint: str | None = None
    provide_cluster_info: bool = False


@dataclass(frozen=True)
class UserEntry:
    """A users[] entry of a kubeconfig file."""

    name: str
    origin: str
    token: Secret | None = None
    token_file: str | None = None  # resolved
    client_certificate: str | None = None  # resolved
    client_certificate_data: str | None = None  # base64 text
    client_key: str | None = None  # resolved
    client_key_data: Secret | None = None  # base64 text
    username: str | None = None
    password: Secret | None = None
    auth_provider: str | None = None
    exec: ExecEntry | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def methods(self) -> list[str]:
        """Configured ways to authenticate, in client-go's words."""
        return auth_methods(
            token=self.token is not None or bool(self.token_file),
            basic=bool(self.username) or self.password is not None,
            client_cert=bool(self.client_certificate or self.client_certificate_data),
            exec_plugin=self.exec is not None,
            auth_provider=bool(self.auth_provider),
        )


@dataclass(frozen=True)
class ContextEntry:
    """A contexts[] entry of a kubeconfig file."""

    name: str
    origin: str
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class LoadedKubeconfig:
    """Every file considered, and the merged view kubectl would use."""

    source: str  # "--kubeconfig" | "KUBECONFIG" | "default"
    searched: tuple[str, ...]
    files: tuple[KubeconfigFile, ...]
    ignored: tuple[str, ...] = ()  # KUBECONFIG entries that do not exist (kubectl ignores them)
    clusters: Mapping[str, ClusterEntry] = field(default_factory=dict)
    contexts: Mapping[str, ContextEntry] = field(default_factory=dict)
    users: Mapping[str, UserEntry] = field(default_factory=dict)
    current_context: str | None = None
    current_context_origin: str | None = None
    #: What the official Python client would pick: the last file that has a current-context key.
    python_current_context: str | None = None
    python_current_context_origin: str | None = None
    #: Every secret value in every file, so the run can scrub them from any text.
    secrets: SecretRegistry = field(default_factory=SecretRegistry, repr=False, compare=False)

    @property
    def loaded_files(self) -> list[KubeconfigFile]:
        return [f for f in self.files if f.loaded]

    @property
    def broken_files(self) -> list[KubeconfigFile]:
        return [f for f in self.files if not f.usable]

    @property
    def context_names(self) -> list[str]:
        return sorted(self.contexts)


@dataclass(frozen=True)
class Selection:
    """The context this target uses, and the cluster and user it names (None when missing)."""

    context_name: str | None
    context_source: str  # "--context" | "current-context" | "" (nothing chose one)
    context: ContextEntry | None
    cluster: ClusterEntry | None
    user: UserEntry | None
    available_contexts: tuple[str, ...] = ()

    @property
    def cluster_name(self) -> str | None:
        return self.context.cluster if self.context else None

    @property
    def user_name(self) -> str | None:
        return self.context.user if self.context else None

    def provenance(self) -> dict[str, Any]:
        """Which file defined the selected context, cluster and user (for details)."""
        out: dict[str, Any] = {"context": self.context_name}
        if self.context is not None:
            out["context_file"] = self.context.origin
            out["cluster"] = self.context.cluster
            out["user"] = self.context.user
        if self.cluster is not None:
            out["cluster_file"] = self.cluster.origin
        if self.user is not None:
            out["user_file"] = self.user.origin
        return out


@dataclass(frozen=True)
class Blob:
    """Bytes read from a file or decoded from a *-data field, or why that failed."""

    setting: str  # "certificate-authority", "client-key-data", "tokenFile", ...
    source: str  # a path, or "<field> of user X in FILE"
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)
    error: str | None = None
    mode: int | None = None  # permission bits, files only


@dataclass(frozen=True)
class Material:
    """The selected context's CA, client certificate, key and token file, as read."""

    ca: Blob | None = None
    client_cert: Blob | None = None
    client_key: Blob | None = None
    token_file: Blob | None = None


def effective_server(cluster: ClusterEntry, user: UserEntry | None = None) -> str | None:
    """The URL kubectl would use. Without a scheme kubectl speaks plain HTTP, whatever TLS settings say.

    (Checked against kubectl 1.27 and 1.33: `server: 10.0.0.1:6443` with a CA sends `GET http://...`.)
    """
    server = cluster.server
    if not server:
        return None
    if "://" in server:
        return server
    return "http://" + server


def has_tls_settings(cluster: ClusterEntry, user: UserEntry | None) -> bool:
    """The cluster or user carries TLS material: a CA, insecure-skip-tls-verify, or a client certificate."""
    return bool(
        cluster.certificate_authority
        or cluster.certificate_authority_data
        or cluster.insecure_skip_tls_verify
        or cluster.tls_server_name
        or (user is not None and (user.client_certificate or user.client_certificate_data))
    )


def files_summary(files: Sequence[KubeconfigFile]) -> list[dict[str, Any]]:
    """JSON-ready description of the files considered, for check details."""
    out = []
    for f in files:
        item: dict[str, Any] = {"path": f.path, "source": f.source}
        if f.error is not None:
            item["error"] = f.error.message
            item["kind"] = f.error.kind
            if f.error.line is not None:
                item["line"] = f.error.line
                item["column"] = f.error.column
        else:
            item["empty"] = f.empty
        out.append(item)
    return out
