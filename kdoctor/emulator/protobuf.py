"""The Kubernetes protobuf envelope, just enough for the review requests kubectl's typed clients send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROTOBUF_MAGIC = b"k8s\x00"
#: Field numbers of the review specs (k8s.io/api/authorization/v1/generated.proto).
_RESOURCE_ATTRIBUTES = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}
_NON_RESOURCE_ATTRIBUTES = {1: "path", 2: "verb"}


def _protobuf_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one protobuf message: varints as int, length-delimited as bytes."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        for _ in range(10):
            if pos >= len(data):
                raise ValueError("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
        raise ValueError("varint too long")

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.append((number, varint()))
        elif wire == 2:
            length = varint()
            if pos + length > len(data):
                raise ValueError("truncated field")
            fields.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return fields


def _strings(data: bytes, names: Mapping[int, str]) -> dict[str, str]:
    return {
        names[n]: v.decode("utf-8")
        for n, v in _protobuf_fields(data)
        if n in names and isinstance(v, bytes) and v
    }


def decode_review_protobuf(body: bytes) -> dict[str, Any]:
    """A SelfSubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview body as its JSON form."""
    envelope = dict(_protobuf_fields(body[len(PROTOBUF_MAGIC) :]))
    type_meta, raw = envelope.get(1, b""), envelope.get(2, b"")
    if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
        raise ValueError("not a runtime.Unknown envelope")
    meta = _strings(type_meta, {1: "apiVersion", 2: "kind"})
    review: dict[str, Any] = dict(meta)
    spec_bytes = next((v for n, v in _protobuf_fields(raw) if n == 2 and isinstance(v, bytes)), b"")
    spec: dict[str, Any] = {}
    if meta.get("kind") == "SelfSubjectAccessReview":
        for number, value in _protobuf_fields(spec_bytes):
            if number == 1 and isinstance(value, bytes):
                spec["resourceAttributes"] = _strings(value, _RESOURCE_ATTRIBUTES)
            elif number == 2 and isinstance(value, bytes):
                spec["nonResourceAttributes"] = _strings(value, _NON_RESOURCE_ATTRIBUTES)
    elif meta.get("kind") == "SelfSubjectRulesReview":
        spec = _strings(spec_bytes, {1: "namespace"})
    review["spec"] = spec
    return review
