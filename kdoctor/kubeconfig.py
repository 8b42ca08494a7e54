"""The kubeconfig model: locate, load, validate and merge like kubectl (client-go), then select a context.

Everything here gathers facts; the `kubeconfig.*` checks judge them. The rules copied from client-go
(`tools/clientcmd/loader.go`, `validation.go`):

- Locating: `--kubeconfig PATH` (must exist), else every entry of `KUBECONFIG` (split on the path
  separator, duplicates dropped, missing entries ignored), else `~/.kube/config`.
- Loading: a file that fails to parse, has the wrong `kind`/`apiVersion`, a value of the wrong type or
  a name defined twice in one list makes kubectl refuse the whole configuration.
- Merging: for clusters, contexts and users the first file that defines a name wins (the whole entry);
  `current-context` comes from the first file that sets it.
- Relative paths (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`, and an exec
  `command` that contains a path separator) resolve against the directory of the file that names them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kdoctor.access import (
    AUTH_PROVIDER,
    BASIC_AUTH,
    CLIENT_CERT,
    EXEC,
    TOKEN,
    AccessSpec,
    AccessUnavailable,
    Credentials,
    ExecSpec,
)
from kdoctor.keys import KUBECONFIG, KUBECONFIG_ACCESS, MATERIAL, SELECTION
from kdoctor.redact import SECRET_KEYS, Secret, SecretRegistry, redact_config

if TYPE_CHECKING:
    from kdoctor.context import Context, Environment, Options
    from kdoctor.yamlload import DuplicateKey, YamlError

__all__ = [
    "KUBECONFIG",
    "KUBECONFIG_ACCESS",
    "MATERIAL",
    "SELECTION",
    "Blob",
    "ClusterEntry",
    "ContextEntry",
    "ExecEntry",
    "KubeconfigFile",
    "LoadedKubeconfig",
    "Material",
    "Problem",
    "Selection",
    "UserEntry",
    "list_contexts",
    "load_kubeconfig",
    "select",
]

#: Certificates, keys and token files are small; anything bigger is not what the field should name.
MAX_MATERIAL_BYTES = 1024 * 1024
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")


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
        found = []
        if self.token is not None or self.token_file:
            found.append(TOKEN)
        if self.username or self.password is not None:
            found.append(BASIC_AUTH)
        if self.client_certificate or self.client_certificate_data:
            found.append(CLIENT_CERT)
        if self.exec is not None:
            found.append(EXEC)
        if self.auth_provider:
            found.append(AUTH_PROVIDER)
        return found


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


# ---------------------------------------------------------------------------------------------
# Locating and loading


def locate(options: Options, environment: Environment) -> tuple[str, list[str], list[str]]:
    """(source, paths to load, KUBECONFIG entries ignored because they do not exist)."""
    if options.kubeconfig:
        return "--kubeconfig", [os.path.abspath(options.kubeconfig)], []
    raw = environment.env.get("KUBECONFIG", "")
    entries = [e for e in raw.split(os.pathsep) if e]
    if entries:
        seen: list[str] = []
        for entry in entries:
            path = os.path.abspath(entry)
            if path not in seen:
                seen.append(path)
        # client-go stats each entry: a dangling symlink is as missing as an absent file.
        present = [p for p in seen if os.path.exists(p)]
        return "KUBECONFIG", present, [p for p in seen if p not in present]
    return "default", [str(environment.home / ".kube" / "config")], []


def load_kubeconfig(options: Options, environment: Environment) -> LoadedKubeconfig:
    """Locate, load, validate and merge. Never raises for bad input."""
    source, paths, ignored = locate(options, environment)
    files: list[KubeconfigFile] = []
    docs: list[tuple[str, Mapping[str, Any]]] = []
    secrets = SecretRegistry()
    for path in paths:
        if source == "default" and not os.path.exists(path):
            continue  # no ~/.kube/config: kubectl carries on with an empty config
        loaded, doc = _load_file(path, source, secrets)
        files.append(loaded)
        if doc is not None:
            docs.append((path, doc))
    clusters: dict[str, ClusterEntry] = {}
    contexts: dict[str, ContextEntry] = {}
    users: dict[str, UserEntry] = {}
    current: str | None = None
    current_origin: str | None = None
    py_current: str | None = None
    py_origin: str | None = None
    for path, doc in docs:
        for entry in _entries(doc, "clusters", "cluster", path, _cluster_entry):
            clusters.setdefault(entry.name, entry)
        for entry in _entries(doc, "contexts", "context", path, _context_entry):
            contexts.setdefault(entry.name, entry)
        for entry in _entries(doc, "users", "user", path, _user_entry):
            users.setdefault(entry.name, entry)
        value = doc.get("current-context")
        if isinstance(value, str) and value and current is None:
            current, current_origin = value, path
        if "current-context" in doc:
            # The Python client's KubeConfigMerger lets every file that has the key overwrite it.
            py_current, py_origin = (value if isinstance(value, str) else None), path
    return LoadedKubeconfig(
        source=source,
        searched=tuple(paths) + tuple(ignored),
        files=tuple(files),
        ignored=tuple(ignored),
        clusters=clusters,
        contexts=contexts,
        users=users,
        current_context=current,
        current_context_origin=current_origin,
        python_current_context=py_current,
        python_current_context_origin=py_origin,
        secrets=secrets,
    )


def list_contexts(options: Options, environment: Environment) -> list[str]:
    """The context names of the merged kubeconfig, sorted like `kubectl config get-contexts`."""
    return load_kubeconfig(options, environment).context_names


def _load_file(
    path: str, source: str, secrets: SecretRegistry
) -> tuple[KubeconfigFile, Mapping[str, Any] | None]:
    mode: int | None = None
    with contextlib.suppress(OSError, ValueError):  # ValueError: a NUL byte in the path
        mode = stat.S_IMODE(os.stat(path).st_mode)
    # Imported here: PyYAML is not needed by `kdoctor checks` or `kdoctor --version`.
    from kdoctor.yamlload import YamlError, load_yaml_file

    result = load_yaml_file(path)
    if isinstance(result, YamlError):
        return KubeconfigFile(path=path, source=source, error=result, mode=mode), None
    doc = result.data
    base = KubeconfigFile(
        path=path,
        source=source,
        empty=result.empty,
        duplicate_keys=result.duplicate_keys,
        extra_documents=result.extra_documents,
        mode=mode,
    )
    if doc is None:
        return base, None
    problems = validate_document(doc, path)
    if not isinstance(doc, Mapping):
        return _replace(base, problems=tuple(problems)), None
    redact_config(doc, secrets)
    current = doc.get("current-context")
    return (
        _replace(
            base,
            problems=tuple(problems),
            holds_secrets=_holds_secrets(doc),
            current_context=current if isinstance(current, str) and current else None,
            clusters=_names(doc, "clusters"),
            contexts=_names(doc, "contexts"),
            users=_names(doc, "users"),
        ),
        doc,
    )


def _replace(file: KubeconfigFile, **changes: Any) -> KubeconfigFile:

    return replace(file, **changes)


def _names(doc: Mapping[str, Any], section: str) -> tuple[str, ...]:
    items = doc.get(section)
    if not isinstance(items, list):
        return ()
    return tuple(str(i["name"]) for i in items if isinstance(i, Mapping) and isinstance(i.get("name"), str))


def _holds_secrets(doc: Mapping[str, Any]) -> bool:
    users = doc.get("users")
    if not isinstance(users, list):
        return False
    for item in users:
        user = item.get("user") if isinstance(item, Mapping) else None
        if not isinstance(user, Mapping):
            continue
        for key in ("token", "password", "client-key-data"):
            if user.get(key):
                return True
        provider = user.get("auth-provider")
        config = provider.get("config") if isinstance(provider, Mapping) else None
        if isinstance(config, Mapping) and any(k in SECRET_KEYS and v for k, v in config.items()):
            return True
        exec_ = user.get("exec")
        if isinstance(exec_, Mapping) and isinstance(exec_.get("env"), list) and exec_["env"]:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Structure validation: the types client-go's JSON decoding insists on


_STR, _BOOL, _BYTES, _STRLIST, _LIST, _MAP = (
    "string",
    "boolean",
    "base64",
    "list of strings",
    "list",
    "mapping",
)

_TOP_FIELDS = {
    "apiVersion": _STR,
    "kind": _STR,
    "preferences": _MAP,
    "clusters": _LIST,
    "users": _LIST,
    "contexts": _LIST,
    "current-context": _STR,
    "extensions": _LIST,
}
_CLUSTER_FIELDS = {
    "server": _STR,
    "tls-server-name": _STR,
    "insecure-skip-tls-verify": _BOOL,
    "certificate-authority": _STR,
    "certificate-authority-data": _BYTES,
    "proxy-url": _STR,
    "disable-compression": _BOOL,
    "extensions": _LIST,
}
_USER_FIELDS = {
    "client-certificate": _STR,
    "client-certificate-data": _BYTES,
    "client-key": _STR,
    "client-key-data": _BYTES,
    "token": _STR,
    "tokenFile": _STR,
    "as": _STR,
    "as-uid": _STR,
    "as-groups": _STRLIST,
    "as-user-extra": _MAP,
    "username": _STR,
    "password": _STR,
    "auth-provider": _MAP,
    "exec": _MAP,
    "extensions": _LIST,
}
_EXEC_FIELDS = {
    "command": _STR,
    "args": _STRLIST,
    "env": _LIST,
    "apiVersion": _STR,
    "installHint": _STR,
    "provideClusterInfo": _BOOL,
    "interactiveMode": _STR,
}
_CONTEXT_FIELDS = {"cluster": _STR, "user": _STR, "namespace": _STR, "extensions": _LIST}
_SECTIONS = (
    ("clusters", "cluster", _CLUSTER_FIELDS),
    ("users", "user", _USER_FIELDS),
    ("contexts", "context", _CONTEXT_FIELDS),
)


def describe(value: Any) -> str:
    """A value's type in YAML words ("a string", "a list")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


_BRACKETED_NETLOC = re.compile(r"^(?:[^@/]*@)?\[[^\]/]*\](?::[0-9]*)?$")


def server_url_problem(url: str) -> str | None:
    """What makes kubectl (Go's net/url and net.Dial) refuse a server URL that Python's urlsplit
    quietly accepts, in kubectl's words; None when there is nothing of the kind.

    urlsplit strips leading whitespace and control characters (WHATWG rules) and reads `[::1]]:1`
    as host ::1; Go refuses the first two and fails to dial the third.
    """
    bad = next((ch for ch in url if ord(ch) < 0x20 or ord(ch) == 0x7F), None)
    if bad is not None:
        return (
            f"it contains the control character {bad!r}; kubectl: net/url: invalid control character in URL"
        )
    if url != url.strip():
        where = "starts" if url[:1].isspace() else "ends"
        said = (
            'invalid character " " in host name' if where == "starts" else "it cannot parse the port or host"
        )
        return f"it {where} with a space; kubectl: {said}"
    if not url.isascii():
        import unicodedata  # only for the rare non-ASCII URL: start-up time matters

        invisible = next((ch for ch in url if unicodedata.category(ch) == "Cf"), None)
        if invisible is not None:
            return (
                f"it contains the invisible character U+{ord(invisible):04X} "
                f"({unicodedata.name(invisible, 'format')}); kubectl looks the host up with it and finds no such host"
            )
    if "://" in url:
        netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if netloc.rsplit("@", 1)[-1].startswith("[") and not _BRACKETED_NETLOC.match(netloc):
            return f"the address {netloc!r} is not [IPv6]:port; kubectl: missing port in address"
    return None


def dns_name_problem(name: str) -> str | None:
    """Why `name` cannot be a DNS host name (what a certificate's SAN could hold), or None."""
    if len(name) > 253:
        return f"{len(name)} characters, over the 253 a DNS name may have"
    try:
        encoded = name.encode("idna")
    except UnicodeError:
        return "it cannot be encoded as an international domain name (a label is empty or too long)"
    if any(len(label) > 63 for label in encoded.split(b".")):
        return "a label is longer than 63 characters"
    if any(ch.isspace() or ord(ch) < 32 for ch in name):
        return "it contains whitespace or control characters"
    return None


def decode_base64(text: str) -> bytes | None:
    """Decode like Go's encoding/json does for []byte (standard alphabet, padded, newlines ignored)."""
    cleaned = text.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None


def _type_problem(value: Any, expected: str) -> str | None:
    if value is None:
        return None
    if expected in (_STR, _BYTES):
        if not isinstance(value, str):
            return f"is {describe(value)}, but kubectl expects a string"
        if expected == _BYTES and decode_base64(value) is None:
            return "is not valid base64 (kubectl: illegal base64 data)"
        return None
    if expected == _BOOL:
        return None if isinstance(value, bool) else f"is {describe(value)}, but kubectl expects true or false"
    if expected == _MAP:
        return None if isinstance(value, Mapping) else f"is {describe(value)}, but kubectl expects a mapping"
    if expected == _LIST:
        return None if isinstance(value, list) else f"is {describe(value)}, but kubectl expects a list"
    if expected == _STRLIST:
        if not isinstance(value, list):
            return f"is {describe(value)}, but kubectl expects a list of strings"
        if not all(isinstance(v, str) or v is None for v in value):
            return "holds a value that is not a string"
    return None


def _check_fields(
    mapping: Mapping[Any, Any], schema: Mapping[str, str], where: str, path: str, out: list[Problem]
) -> None:
    # encoding/json matches field names case-insensitively; so must the "unknown field" note.
    lowered = {k.lower(): k for k in schema}
    for key, value in mapping.items():
        name = lowered.get(str(key).lower())
        if name is None:
            out.append(Problem(path, f"{where}{key}", "unknown field; kubectl ignores it", fatal=False))
            continue
        message = _type_problem(value, schema[name])
        if message:
            out.append(Problem(path, f"{where}{key}", message))


def validate_document(doc: Any, path: str) -> list[Problem]:
    """Everything client-go's decoder would reject (fatal), plus ignored fields (not fatal)."""
    if not isinstance(doc, Mapping):
        return [
            Problem(path, "", f"the document is {describe(doc)}, not a mapping (a kubeconfig is a mapping)")
        ]
    out: list[Problem] = []
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if isinstance(kind, str) and kind not in ("", "Config"):
        out.append(Problem(path, "kind", f"is {kind!r}; a kubeconfig has kind Config"))
    if isinstance(api_version, str) and api_version not in ("", "v1"):
        out.append(Problem(path, "apiVersion", f"is {api_version!r}; kubectl knows only v1"))
    _check_fields(doc, _TOP_FIELDS, "", path, out)
    for section, inner, schema in _SECTIONS:
        items = doc.get(section)
        if not isinstance(items, list):
            continue
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            where = f"{section}[{index}]"
            if item is None:
                continue
            if not isinstance(item, Mapping):
                out.append(
                    Problem(
                        path,
                        where,
                        f"is {describe(item)}, but kubectl expects a mapping with name and {inner}",
                    )
                )
                continue
            name = item.get("name")
            if name is not None and not isinstance(name, str):
                out.append(
                    Problem(path, f"{where}.name", f"is {describe(name)}, but kubectl expects a string")
                )
            else:
                if not name:
                    out.append(
                        Problem(
                            path, f"{where}.name", "is missing; the entry cannot be referred to", fatal=False
                        )
                    )
                # kubectl files unnamed entries under "", so two of them collide like any other name.
                name = name or ""
                if name in seen:
                    shown = repr(name) if name else "'' (no name)"
                    out.append(
                        Problem(
                            path,
                            f"{where}.name",
                            f"duplicate name {shown} in {section} (also {section}[{seen[name]}]); "
                            "kubectl refuses the file",
                        )
                    )
                seen.setdefault(name, index)
            for key in item:
                if key not in ("name", inner):
                    out.append(
                        Problem(path, f"{where}.{key}", "unknown field; kubectl ignores it", fatal=False)
                    )
            body = item.get(inner)
            if body is None:
                continue
            if not isinstance(body, Mapping):
                out.append(
                    Problem(path, f"{where}.{inner}", f"is {describe(body)}, but kubectl expects a mapping")
                )
                continue
            _check_fields(body, schema, f"{where}.{inner}.", path, out)
            if section == "users":
                _check_user_parts(body, f"{where}.{inner}.", path, out)
    return out


def _check_user_parts(user: Mapping[str, Any], where: str, path: str, out: list[Problem]) -> None:
    exec_ = user.get("exec")
    if isinstance(exec_, Mapping):
        _check_fields(exec_, _EXEC_FIELDS, f"{where}exec.", path, out)
        env = exec_.get("env")
        if isinstance(env, list):
            for index, item in enumerate(env):
                if item is not None and not isinstance(item, Mapping):
                    out.append(
                        Problem(
                            path,
                            f"{where}exec.env[{index}]",
                            f"is {describe(item)}, not a name/value mapping",
                        )
                    )
                elif isinstance(item, Mapping):
                    _check_fields(
                        item, {"name": _STR, "value": _STR}, f"{where}exec.env[{index}].", path, out
                    )
    provider = user.get("auth-provider")
    if isinstance(provider, Mapping):
        _check_fields(provider, {"name": _STR, "config": _MAP}, f"{where}auth-provider.", path, out)
        config = provider.get("config")
        if isinstance(config, Mapping):
            for key, value in config.items():
                if value is not None and not isinstance(value, str):
                    out.append(
                        Problem(
                            path,
                            f"{where}auth-provider.config.{key}",
                            f"is {describe(value)}, but kubectl expects a string",
                        )
                    )


# ---------------------------------------------------------------------------------------------
# Entries (tolerant of wrong types: those are reported by validate_document)


def _entries(doc: Mapping[str, Any], section: str, inner: str, path: str, build: Any) -> list[Any]:
    items = doc.get(section)
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        body = item.get(inner)
        out.append(build(item["name"], body if isinstance(body, Mapping) else {}, path))
    return out


def _s(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value != "" else None


def resolve_path(value: str | None, origin: str) -> str | None:
    """A path from a kubeconfig, made absolute against the directory of the file that named it."""
    if not value:
        return None
    if os.path.isabs(value):
        return value
    return os.path.join(os.path.dirname(os.path.abspath(origin)), value)


def _cluster_entry(name: str, body: Mapping[str, Any], origin: str) -> ClusterEntry:
    return ClusterEntry(
        name=name,
        origin=origin,
        server=_s(body, "server"),
        certificate_authority=resolve_path(_s(body, "certificate-authority"), origin),
        certificate_authority_data=_s(body, "certificate-authority-data"),
        insecure_skip_tls_verify=body.get("insecure-skip-tls-verify") is True,
        tls_server_name=_s(body, "tls-server-name"),
        proxy_url=_s(body, "proxy-url"),
        raw=body,
    )


def _context_entry(name: str, body: Mapping[str, Any], origin: str) -> ContextEntry:
    return ContextEntry(
        name=name,
        origin=origin,
        cluster=_s(body, "cluster"),
        user=_s(body, "user"),
        namespace=_s(body, "namespace"),
        raw=body,
    )


def _auth_provider_config(body: Mapping[str, Any]) -> tuple[tuple[str, Secret], ...]:
    """The auth-provider's string config values, each a Secret (id-token and refresh-token are credentials)."""
    provider = body.get("auth-provider")
    config = provider.get("config") if isinstance(provider, Mapping) else None
    if not isinstance(config, Mapping):
        return ()
    return tuple((str(k), Secret(v)) for k, v in config.items() if isinstance(v, str) and v)


def _user_entry(name: str, body: Mapping[str, Any], origin: str) -> UserEntry:
    token = body.get("token")
    password = body.get("password")
    key_data = _s(body, "client-key-data")
    provider = body.get("auth-provider")
    provider_name = None
    if isinstance(provider, Mapping):
        provider_name = _s(provider, "name") or "(unnamed)"
    exec_ = body.get("exec")
    return UserEntry(
        name=name,
        origin=origin,
        token=Secret(token) if isinstance(token, str) and token != "" else None,
        token_file=resolve_path(_s(body, "tokenFile"), origin),
        client_certificate=resolve_path(_s(body, "client-certificate"), origin),
        client_certificate_data=_s(body, "client-certificate-data"),
        client_key=resolve_path(_s(body, "client-key"), origin),
        client_key_data=Secret(key_data) if key_data else None,
        username=_s(body, "username"),
        password=Secret(password) if isinstance(password, str) and password != "" else None,
        auth_provider=provider_name,
        exec=_exec_entry(exec_, origin) if isinstance(exec_, Mapping) else None,
        raw=body,
    )


def _exec_entry(body: Mapping[str, Any], origin: str) -> ExecEntry:
    command = _s(body, "command")
    resolved = command
    # client-go resolves the command only when it is a path, never a name looked up on PATH.
    if command and os.sep in command:
        resolved = resolve_path(command, origin)
    args = body.get("args")
    env_items = body.get("env")
    env: list[tuple[str, Secret]] = []
    if isinstance(env_items, list):
        for item in env_items:
            if isinstance(item, Mapping):
                env.append((str(item.get("name") or ""), Secret(str(item.get("value") or ""))))
    return ExecEntry(
        api_version=_s(body, "apiVersion"),
        command=resolved,
        command_as_written=command,
        args=tuple(str(a) for a in args if a is not None) if isinstance(args, list) else (),
        env=tuple(env),
        interactive_mode=_s(body, "interactiveMode"),
        install_hint=_s(body, "installHint"),
        provide_cluster_info=body.get("provideClusterInfo") is True,
    )


# ---------------------------------------------------------------------------------------------
# Selection and material


def select(loaded: LoadedKubeconfig, context: str | None) -> Selection:
    """The context named by `context` (--context) or else the merged current-context."""
    if context:
        name: str | None = context
        source = "--context"
    else:
        name = loaded.current_context
        source = "current-context" if name else ""
    entry = loaded.contexts.get(name) if name else None
    cluster = loaded.clusters.get(entry.cluster) if entry and entry.cluster else None
    user = loaded.users.get(entry.user) if entry and entry.user else None
    return Selection(
        context_name=name,
        context_source=source,
        context=entry,
        cluster=cluster,
        user=user,
        available_contexts=tuple(loaded.context_names),
    )


def read_blob(path: str, field_name: str, limit: int = MAX_MATERIAL_BYTES) -> Blob:
    """Read a small file named by a kubeconfig field; errors become `Blob.error`, never exceptions."""
    mode: int | None = None
    try:
        info = os.stat(path)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            return Blob(field_name, path, path, error="is a directory, not a file", mode=mode)
        if not stat.S_ISREG(info.st_mode):
            return Blob(field_name, path, path, error="is not a regular file", mode=mode)
        if info.st_size > limit:
            return Blob(
                field_name, path, path, error=f"is {info.st_size:,} bytes, too big for this field", mode=mode
            )
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return Blob(field_name, path, path, error="does not exist")
    except NotADirectoryError:
        return Blob(field_name, path, path, error="does not exist (a parent is not a directory)")
    except PermissionError:
        return Blob(field_name, path, path, error="is not readable (permission denied)", mode=mode)
    except OSError as exc:
        return Blob(field_name, path, path, error=f"cannot be read ({exc.strerror or exc})", mode=mode)
    except ValueError:
        # Python refuses a NUL byte in a path before any system call; Go's open says "invalid argument".
        return Blob(
            field_name,
            path,
            path,
            error="cannot be opened: the path holds a NUL byte (kubectl: invalid argument)",
        )
    return Blob(field_name, path, path, data=data, mode=mode)


def _data_blob(text: str, field_name: str, owner: str) -> Blob:
    data = decode_base64(text)
    if data is None:
        return Blob(field_name, f"{field_name} of {owner}", error="is not valid base64")
    return Blob(field_name, f"{field_name} of {owner}", data=data)


def gather_material(selection: Selection) -> Material:
    """Read what the selected cluster and user point at. Both file and data set: the data is read."""
    ca = cert = key = token_file = None
    cluster, user = selection.cluster, selection.user
    if cluster is not None:
        owner = f"cluster {cluster.name} in {cluster.origin}"
        if cluster.certificate_authority_data:
            ca = _data_blob(cluster.certificate_authority_data, "certificate-authority-data", owner)
        elif cluster.certificate_authority:
            ca = read_blob(cluster.certificate_authority, "certificate-authority")
    if user is not None:
        owner = f"user {user.name} in {user.origin}"
        if user.client_certificate_data:
            cert = _data_blob(user.client_certificate_data, "client-certificate-data", owner)
        elif user.client_certificate:
            cert = read_blob(user.client_certificate, "client-certificate")
        if user.client_key_data is not None:
            key = _data_blob(user.client_key_data.reveal(), "client-key-data", owner)
        elif user.client_key:
            key = read_blob(user.client_key, "client-key")
        if user.token_file:
            token_file = read_blob(user.token_file, "tokenFile")
    return Material(ca=ca, client_cert=cert, client_key=key, token_file=token_file)


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


def selected_config(selection: Selection, current_context: str | None = None) -> dict[str, Any]:
    """The selected entries as a minified kubeconfig (secrets not yet redacted)."""
    config: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if selection.context is not None:
        config["current-context"] = selection.context.name
        config["contexts"] = [{"name": selection.context.name, "context": dict(selection.context.raw)}]
    if selection.cluster is not None:
        config["clusters"] = [{"name": selection.cluster.name, "cluster": dict(selection.cluster.raw)}]
    if selection.user is not None:
        config["users"] = [{"name": selection.user.name, "user": dict(selection.user.raw)}]
    return config


# ---------------------------------------------------------------------------------------------
# Probes


#: The kubeconfig --all-contexts already loaded to list the contexts, with the options and environment
#: it was loaded for: every target of that run shares it instead of parsing the same files again (200
#: contexts of a 300 KB file: 200 parses of it).
PRELOADED: contextvars.ContextVar[tuple[Options, Environment, LoadedKubeconfig] | None] = (
    contextvars.ContextVar("kdoctor_preloaded_kubeconfig", default=None)
)


async def _compute_kubeconfig(ctx: Context) -> LoadedKubeconfig:
    preloaded = PRELOADED.get()
    if preloaded is not None and preloaded[0] is ctx.options and preloaded[1] is ctx.environment:
        loaded = preloaded[2]
    else:
        # Parsing a file near the size cap takes a moment; keep the event loop (and other checks'
        # timers) free.
        loaded = await asyncio.to_thread(load_kubeconfig, ctx.options, ctx.environment)
    ctx.secrets.merge(loaded.secrets)
    return loaded


async def _compute_selection(ctx: Context) -> Selection:
    loaded = await ctx.probe(KUBECONFIG)
    selection = select(loaded, ctx.target.context or ctx.options.context)
    config = redact_config(selected_config(selection), ctx.secrets)
    server = selection.cluster.server if selection.cluster else None
    ctx.identify(
        context=selection.context_name,
        cluster=selection.cluster_name,
        user=selection.user_name,
        server=server,
        config=config,
    )
    if selection.user is not None:
        for secret in (selection.user.token, selection.user.password, selection.user.client_key_data):
            ctx.secrets.add(secret)
        if selection.user.exec is not None:
            for _, value in selection.user.exec.env:
                ctx.secrets.add(value)
    return selection


async def _compute_material(ctx: Context) -> Material:
    selection = await ctx.probe(SELECTION)
    material = await asyncio.to_thread(gather_material, selection)
    if material.client_key is not None and material.client_key.data is not None:
        ctx.secrets.add(material.client_key.data)
    if material.token_file is not None and material.token_file.data is not None:
        ctx.secrets.add(material.token_file.data)
    return material


async def _compute_access(ctx: Context) -> AccessSpec:
    selection = await ctx.probe(SELECTION)
    material = await ctx.probe(MATERIAL)
    return build_access(selection, material)


def build_access(selection: Selection, material: Material) -> AccessSpec:
    """The AccessSpec for a selection; AccessUnavailable when kubectl could not reach a server with it."""
    cluster, user = selection.cluster, selection.user
    if selection.context is None:
        raise AccessUnavailable(f"context {selection.context_name!r} not found")
    if cluster is None:
        raise AccessUnavailable(f"cluster {selection.cluster_name!r} not found")
    server = effective_server(cluster, user)
    if server is None:
        raise AccessUnavailable(f"cluster {cluster.name!r} has no server")
    # Every probe downstream parses the URL: one kubectl refuses (or Python cannot parse) is no
    # server to check, named once here rather than crashing each of them.
    problem = server_url_problem(server)
    if problem is None:
        try:
            urlsplit(server).port  # noqa: B018 - parsing is the check (a bad port or bracket raises)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        raise AccessUnavailable(f"server {server!r} of cluster {cluster.name!r} is not usable: {problem}")
    if cluster.certificate_authority and cluster.certificate_authority_data:
        raise AccessUnavailable("certificate-authority and certificate-authority-data are both set")
    if cluster.insecure_skip_tls_verify and (
        cluster.certificate_authority or cluster.certificate_authority_data
    ):
        raise AccessUnavailable(
            "insecure-skip-tls-verify is set together with a CA; kubectl refuses the cluster"
        )
    # An unreadable CA does not stop kdoctor looking at the server (kubeconfig.ca reports it; the
    # session then connects only to read the chain, without a credential).
    ca_error = (
        f"{material.ca.setting} {material.ca.source} {material.ca.error}"
        if material.ca is not None and material.ca.data is None
        else None
    )
    credentials = Credentials()
    if user is not None:
        token = user.token
        if token is None and material.token_file is not None and material.token_file.data is not None:
            # client-go trims the file's whitespace (a trailing newline is common).
            token = Secret(material.token_file.data.decode("utf-8", "replace").strip())
        exec_spec = None
        if user.exec is not None:
            exec_spec = ExecSpec(
                api_version=user.exec.api_version or "",
                command=user.exec.command or "",
                args=user.exec.args,
                env=user.exec.env,
                interactive_mode=user.exec.interactive_mode,
                install_hint=user.exec.install_hint,
                provide_cluster_info=user.exec.provide_cluster_info,
            )
        cert = material.client_cert.data if material.client_cert is not None else None
        key = material.client_key
        credentials = Credentials(
            token=token,
            token_file=user.token_file,
            client_cert_pem=cert,
            client_key_pem=Secret(key.data.decode("utf-8", "replace"))
            if key is not None and key.data
            else None,
            username=user.username,
            password=user.password,
            exec=exec_spec,
            auth_provider=user.auth_provider,
            auth_provider_config=_auth_provider_config(user.raw),
        )
    context = selection.context
    return AccessSpec(
        server=server,
        ca_pem=material.ca.data if material.ca is not None else None,
        ca_source=material.ca.source if material.ca is not None else "",
        insecure_skip_tls_verify=cluster.insecure_skip_tls_verify,
        tls_server_name=cluster.tls_server_name,
        proxy_url=cluster.proxy_url,
        credentials=credentials,
        origin=f"context {context.name} in {context.origin}",
        ca_error=ca_error,
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
