"""encoded_server_name gives ssl exactly what ssl's own idna encoding would, for every name."""

from __future__ import annotations

import pytest

from kdoctor.probes.tls import encoded_server_name

NAMES = [
    "kubernetes",
    "kubernetes.default.svc",
    "API.Example.COM",
    "example.com.",
    "a" * 63 + ".example",
    "a" * 64 + ".example",
    "a..b",
    ".leading",
    "bücher.example",
    "xn--bcher-kva.example",
    "127.0.0.1",
]


@pytest.mark.parametrize("name", NAMES)
def test_same_bytes_or_same_refusal_as_the_idna_codec(name: str) -> None:
    try:
        expected: bytes | None = name.encode("idna")
    except UnicodeError:
        expected = None
    encoded = encoded_server_name(name)
    if isinstance(encoded, bytes):
        assert encoded == expected
    else:
        assert encoded == name  # left to ssl, which encodes (or refuses) it as before
        if expected is not None:
            assert not name.isascii()
