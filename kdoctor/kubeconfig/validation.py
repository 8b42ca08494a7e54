"""Structure validation: the types and values client-go's decoding and `validation.go` insist on."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from kdoctor.kubeconfig.model import (
    Problem,
)

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")


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
