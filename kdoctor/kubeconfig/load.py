"""Locate, load and merge kubeconfig files like client-go's `loader.go`, then select a context."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kdoctor.kubeconfig.model import (
    ClusterEntry,
    ContextEntry,
    ExecEntry,
    KubeconfigFile,
    LoadedKubeconfig,
    Selection,
    UserEntry,
)
from kdoctor.kubeconfig.validation import validate_document
from kdoctor.redact import SECRET_KEYS, Secret, SecretRegistry, redact_config

if TYPE_CHECKING:
    from kdoctor.context import Environment, Options


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
