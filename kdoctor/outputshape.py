"""What a program printed, described by its shape and never by its content. Pure.

An exec plugin whose stdout is not an ExecCredential may have printed a token, a password prompt
or a whole credential file: kdoctor says what it looked like ("a bare JWT", "JSON object with keys
[apiVersion, items]", "HTML", "3 lines of text") so the user can tell what went wrong, and shows
none of it.
"""

from __future__ import annotations

import json
import re

__all__ = ["describe_shape"]

_JWT = re.compile(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$")
_TOKENISH = re.compile(r"^[A-Za-z0-9_.~+/=:-]{16,}$")
_MAX_KEYS = 8


def _size(data: bytes) -> str:
    return f"{len(data)} bytes"


def describe_shape(data: bytes) -> str:
    """A description of `data` that reveals no value in it (keys of a JSON object are structure, not values)."""
    if not data.strip():
        return "nothing (empty output)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data ({_size(data)}), not UTF-8 text"
    stripped = text.strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        value = None
        is_json = False
    else:
        is_json = True
    if is_json:
        if isinstance(value, dict):
            keys = [k for k in value if isinstance(k, str)]
            shown = ", ".join(k if len(k) <= 40 else k[:39] + "…" for k in keys[:_MAX_KEYS])
            more = f", … {len(keys) - _MAX_KEYS} more" if len(keys) > _MAX_KEYS else ""
            kind = value.get("kind")
            kind_words = (
                f" (kind {kind!r})"
                if isinstance(kind, str) and len(kind) <= 60 and kind.isidentifier()
                else ""
            )
            return f"a JSON object{kind_words} with keys [{shown}{more}] ({_size(data)})"
        if isinstance(value, list):
            return f"a JSON array of {len(value)} items ({_size(data)})"
        return f"a bare JSON {type(value).__name__} ({_size(data)})"
    lines = [line for line in stripped.splitlines() if line.strip()]
    if stripped.lower().startswith(("<!doctype html", "<html")):
        return f"an HTML page ({_size(data)})"
    if len(lines) == 1 and _JWT.match(lines[0]):
        return f"a bare JWT ({len(lines[0])} characters), not wrapped in an ExecCredential"
    if len(lines) == 1 and _TOKENISH.match(lines[0]):
        return f"one word of {len(lines[0])} token-like characters, not JSON (a bare token?)"
    if re.match(r"^(apiVersion|kind):", stripped):
        return f"YAML ({len(lines)} lines), not JSON"
    return f"{len(lines)} line(s) of text ({_size(data)}), not JSON"
