"""Locating, loading, merging and selecting kubeconfigs the way client-go does; the bounded YAML loader."""

from __future__ import annotations

import asyncio
import os
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from kdoctor.access import AccessUnavailable
from kdoctor.api import Mode
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.kubeconfig import (
    KUBECONFIG_ACCESS,
    SELECTION,
    list_contexts,
    load_kubeconfig,
    select,
)
from kdoctor.yamlload import MAX_BYTES, YamlDocument, YamlError, load_yaml_bytes, load_yaml_file
from tests.fixtures.kubeconfigs.factory import b64, make_pki, write


def env(home: Path, **variables: str) -> Environment:
    return Environment(env=dict(variables), home=home)


def doc(
    *,
    clusters: dict[str, dict[str, object]] | None = None,
    users: dict[str, dict[str, object]] | None = None,
    contexts: dict[str, dict[str, object]] | None = None,
    current: str | None = None,
) -> dict[str, object]:
    out: dict[str, object] = {}
    if clusters is not None:
        out["clusters"] = [{"name": n, "cluster": c} for n, c in clusters.items()]
    if users is not None:
        out["users"] = [{"name": n, "user": u} for n, u in users.items()]
    if contexts is not None:
        out["contexts"] = [{"name": n, "context": c} for n, c in contexts.items()]
    if current is not None:
        out["current-context"] = current
    return out


# ---------------------------------------------------------------------------------------------
# Bounded YAML


@pytest.fixture(params=[True, False], ids=["libyaml", "pure-python"])
def fast(request: pytest.FixtureRequest) -> bool:
    if request.param and not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml")
    return bool(request.param)


def test_yaml_rejects_python_tags_without_running_them(tmp_path: Path, fast: bool) -> None:
    marker = tmp_path / "pwned"
    result = load_yaml_bytes(f"x: !!python/object/apply:os.system ['touch {marker}']\n".encode(), fast=fast)
    assert isinstance(result, YamlError)
    assert result.kind == "unsafe-tag"
    assert "python/object/apply:os.system" in result.message
    assert (result.line, result.column) == (1, 4)
    assert not marker.exists()


def test_yaml_syntax_error_has_line_and_column(fast: bool) -> None:
    result = load_yaml_bytes(b"clusters:\n- name: a\n\t- name: b\n", fast=fast)
    assert isinstance(result, YamlError)
    assert result.kind == "syntax"
    assert result.location == "3:1"


def test_yaml_duplicate_keys_are_reported_and_last_wins(fast: bool) -> None:
    result = load_yaml_bytes(b"current-context: a\nclusters: []\ncurrent-context: b\n", fast=fast)
    assert isinstance(result, YamlDocument)
    assert result.data["current-context"] == "b"
    [dup] = result.duplicate_keys
    assert (dup.key, dup.line, dup.first_line) == ("current-context", 3, 1)


def test_yaml_scalars_resolve_like_go_yaml(fast: bool) -> None:
    result = load_yaml_bytes(b"a: y\nb: N\nc: 2024-01-01\nd: 'y'\n", fast=fast)
    assert isinstance(result, YamlDocument)
    assert result.data == {"a": True, "b": False, "c": "2024-01-01", "d": "y"}


def test_yaml_billion_laughs_is_refused_quickly_in_bounded_memory(fast: bool) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    tracemalloc.start()
    started = time.monotonic()
    result = load_yaml_bytes("\n".join(lines).encode(), fast=fast)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(result, YamlError) and result.kind == "alias-bomb"
    assert elapsed < 1.0
    assert peak < 20 * 1024 * 1024


def test_yaml_recursive_alias_and_deep_nesting_are_refused(fast: bool) -> None:
    recursive = load_yaml_bytes(b"a: &x [1, *x]\n", fast=fast)
    assert isinstance(recursive, YamlError) and recursive.kind == "recursive-alias"
    deep = load_yaml_bytes(b"[" * 200_000, fast=fast)
    assert isinstance(deep, YamlError) and deep.kind == "too-deep"


def test_yaml_binary_and_bad_utf8(fast: bool) -> None:
    binary = load_yaml_bytes(b"\x7fELF\x02\x01\x01\x00\x00", fast=fast)
    assert isinstance(binary, YamlError) and binary.kind == "binary"
    bad = load_yaml_bytes(b"clusters:\n- name: \xc3\x28\n", fast=fast)
    assert isinstance(bad, YamlError) and bad.kind == "encoding" and bad.line == 2


def test_yaml_file_over_cap_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB that costs no disk
    tracemalloc.start()
    result = load_yaml_file(big)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(result, YamlError) and result.kind == "too-large"
    assert peak < MAX_BYTES


def test_yaml_file_errors(tmp_path: Path) -> None:
    assert isinstance(r := load_yaml_file(tmp_path / "nope"), YamlError) and r.kind == "missing"
    assert isinstance(r := load_yaml_file(tmp_path), YamlError) and r.kind == "is-a-directory"
    (tmp_path / "f").write_text("x: 1\n")
    assert isinstance(r := load_yaml_file(tmp_path / "f" / "child"), YamlError) and r.kind == "missing"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert isinstance(r := load_yaml_file(fifo), YamlError) and r.kind == "not-a-file"


def test_yaml_multiple_documents_keep_the_first(tmp_path: Path, fast: bool) -> None:
    result = load_yaml_bytes(b"current-context: a\n---\ncurrent-context: b\n", fast=fast)
    assert isinstance(result, YamlDocument)
    assert result.data == {"current-context": "a"} and result.extra_documents


# ---------------------------------------------------------------------------------------------
# Locating


def test_explicit_kubeconfig_beats_KUBECONFIG(tmp_path: Path) -> None:
    a = write(tmp_path / "a", doc(contexts={"a": {}}, current="a"))
    b = write(tmp_path / "b", doc(contexts={"b": {}}, current="b"))
    loaded = load_kubeconfig(Options(kubeconfig=str(a)), env(tmp_path, KUBECONFIG=str(b)))
    assert loaded.source == "--kubeconfig"
    assert [f.path for f in loaded.files] == [str(a)]
    assert loaded.current_context == "a"


def test_KUBECONFIG_ignores_missing_entries_and_duplicates(tmp_path: Path) -> None:
    a = write(tmp_path / "a", doc(contexts={"a": {}}))
    missing = tmp_path / "missing"
    value = os.pathsep.join([str(missing), str(a), "", str(a)])
    loaded = load_kubeconfig(Options(), env(tmp_path, KUBECONFIG=value))
    assert loaded.source == "KUBECONFIG"
    assert [f.path for f in loaded.files] == [str(a)]
    assert loaded.ignored == (str(missing),)


def test_empty_KUBECONFIG_falls_back_to_home(tmp_path: Path) -> None:
    home_config = write(tmp_path / ".kube" / "config", doc(contexts={"home": {}}, current="home"))
    loaded = load_kubeconfig(Options(), env(tmp_path, KUBECONFIG=""))
    assert loaded.source == "default"
    assert [f.path for f in loaded.files] == [str(home_config)]
    assert list_contexts(Options(), env(tmp_path)) == ["home"]


def test_no_kubeconfig_anywhere(tmp_path: Path) -> None:
    loaded = load_kubeconfig(Options(), env(tmp_path))
    assert loaded.files == ()
    assert loaded.contexts == {}


# ---------------------------------------------------------------------------------------------
# Merging like client-go


def test_first_file_wins_per_name_and_provenance_is_recorded(tmp_path: Path) -> None:
    first = write(
        tmp_path / "one" / "first.yaml",
        doc(
            clusters={"prod": {"server": "https://first:6443"}},
            contexts={"prod": {"cluster": "prod", "user": "admin"}},
        ),
    )
    second = write(
        tmp_path / "two" / "second.yaml",
        doc(
            clusters={"prod": {"server": "https://second:6443"}, "dev": {"server": "https://dev:6443"}},
            users={"admin": {"token": "second-token-value"}},
            contexts={"prod": {"cluster": "dev", "user": "nobody"}},
            current="prod",
        ),
    )
    third = write(tmp_path / "third.yaml", doc(current="dev", contexts={"dev": {"cluster": "dev"}}))
    kubeconfig = os.pathsep.join(str(p) for p in (first, second, third))
    loaded = load_kubeconfig(Options(), env(tmp_path, KUBECONFIG=kubeconfig))
    # Whole entries from the first file that names them, never a field-by-field mix.
    assert loaded.clusters["prod"].server == "https://first:6443"
    assert loaded.clusters["prod"].origin == str(first)
    assert loaded.contexts["prod"].cluster == "prod"
    assert loaded.clusters["dev"].origin == str(second)
    # current-context from the first file that sets it; the Python client takes the last one.
    assert (loaded.current_context, loaded.current_context_origin) == ("prod", str(second))
    assert (loaded.python_current_context, loaded.python_current_context_origin) == ("dev", str(third))
    selection = select(loaded, None)
    assert selection.provenance() == {
        "context": "prod",
        "context_file": str(first),
        "cluster": "prod",
        "user": "admin",
        "cluster_file": str(first),
        "user_file": str(second),
    }
    assert list_contexts(Options(), env(tmp_path, KUBECONFIG=kubeconfig)) == ["dev", "prod"]


def test_relative_paths_resolve_against_the_file_that_names_them(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a" / "config",
        doc(
            clusters={"c": {"server": "https://x", "certificate-authority": "pki/ca.crt"}},
            contexts={"main": {"cluster": "c", "user": "u"}},
            current="main",
        ),
    )
    b = write(
        tmp_path / "b" / "nested" / "config",
        doc(
            users={
                "u": {
                    "client-certificate": "../certs/u.crt",
                    "client-key": "/abs/u.key",
                    "tokenFile": "token",
                    "exec": {"command": "./bin/plugin", "apiVersion": "client.authentication.k8s.io/v1"},
                },
                "v": {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}},
            }
        ),
    )
    loaded = load_kubeconfig(Options(), env(tmp_path, KUBECONFIG=f"{a}{os.pathsep}{b}"))
    assert loaded.clusters["c"].certificate_authority == str(tmp_path / "a" / "pki" / "ca.crt")
    user = loaded.users["u"]
    assert user.client_certificate == os.path.join(str(tmp_path / "b" / "nested"), "../certs/u.crt")
    assert user.client_key == "/abs/u.key"
    assert user.token_file == str(tmp_path / "b" / "nested" / "token")
    assert user.exec is not None and user.exec.command == os.path.join(
        str(tmp_path / "b" / "nested"), "./bin/plugin"
    )
    # A bare command name is looked up on PATH, never resolved against the file.
    assert loaded.users["v"].exec is not None and loaded.users["v"].exec.command == "aws"


def test_broken_file_is_recorded_and_the_others_still_merge(tmp_path: Path) -> None:
    good = write(tmp_path / "good", doc(contexts={"a": {"cluster": "c"}}, current="a"))
    bad = write(tmp_path / "bad", "clusters: [\n")
    loaded = load_kubeconfig(Options(), env(tmp_path, KUBECONFIG=f"{bad}{os.pathsep}{good}"))
    assert [f.path for f in loaded.broken_files] == [str(bad)]
    assert loaded.current_context == "a"


def test_structure_problems_are_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c",
        {
            "kind": "Config",
            "clusters": [
                {"name": "c", "cluster": {"server": 5, "insecure-skip-tls-verify": "yes", "bogus": 1}},
                {"name": "c", "cluster": {}},
                "junk",
            ],
            "users": {"not": "a list"},
        },
    )
    loaded = load_kubeconfig(Options(kubeconfig=str(path)), env(tmp_path))
    problems = {(p.where, p.fatal) for p in loaded.files[0].problems}
    assert ("clusters[0].cluster.server", True) in problems
    assert ("clusters[0].cluster.insecure-skip-tls-verify", True) in problems
    assert ("clusters[0].cluster.bogus", False) in problems
    assert ("clusters[1].name", True) in problems  # duplicate name
    assert ("clusters[2]", True) in problems
    assert ("users", True) in problems


# ---------------------------------------------------------------------------------------------
# Selection and the probes


def _ctx(tmp_path: Path, kubeconfig: Path, context: str | None = None) -> Context:
    return Context(
        options=Options(kubeconfig=str(kubeconfig), context=context),
        environment=env(tmp_path, PATH=os.environ.get("PATH", "")),
        target=Target(Mode.KUBECONFIG),
    )


def test_selection_identifies_the_target_with_secrets_redacted(tmp_path: Path) -> None:
    pki = make_pki()
    path = write(
        tmp_path / "config",
        doc(
            clusters={
                "c": {"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(pki.ca.cert_pem)}
            },
            users={
                "u": {
                    "token": "canary-token-0123456789",
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": "x",
                        "env": [{"name": "SECRET", "value": "canary-env-value-42"}],
                    },
                },
                "other": {"password": "canary-other-password"},
            },
            contexts={"main": {"cluster": "c", "user": "u"}, "second": {"cluster": "c"}},
            current="main",
        ),
    )
    ctx = _ctx(tmp_path, path)
    selection = asyncio.run(ctx.probe(SELECTION))
    assert selection.context_name == "main" and selection.cluster_name == "c" and selection.user_name == "u"
    assert ctx.identity["context"] == "main"
    assert ctx.identity["server"] == "https://127.0.0.1:6443"
    text = repr(ctx.identity)
    for canary in ("canary-token-0123456789", "canary-env-value-42", "canary-other-password"):
        assert canary not in text
        # Registered so the runner scrubs them from any text, even from users not selected.
        assert ctx.secrets.scrub(f"x {canary} y") == "x <redacted> y"
    assert ctx.identity["config"]["users"][0]["name"] == "u"

    second = _ctx(tmp_path, path, context="second")
    assert asyncio.run(second.probe(SELECTION)).context_name == "second"


def test_access_spec_from_files(tmp_path: Path) -> None:
    pki = make_pki()
    write(tmp_path / "pki" / "ca.crt", pki.ca.cert_pem)
    write(tmp_path / "pki" / "u.crt", pki.client.cert_pem)
    write(tmp_path / "pki" / "u.key", pki.client.key_pem)
    write(tmp_path / "token", "file-token-abcdef\n")
    path = write(
        tmp_path / "config",
        doc(
            clusters={
                "c": {
                    "server": "https://127.0.0.1:6443",
                    "certificate-authority": "pki/ca.crt",
                    "tls-server-name": "kubernetes",
                    "proxy-url": "http://127.0.0.1:3128",
                }
            },
            users={"u": {"client-certificate": "pki/u.crt", "client-key": "pki/u.key", "tokenFile": "token"}},
            contexts={"main": {"cluster": "c", "user": "u"}},
            current="main",
        ),
    )
    ctx = _ctx(tmp_path, path)
    spec = asyncio.run(ctx.probe(KUBECONFIG_ACCESS))
    assert spec.server == "https://127.0.0.1:6443"
    assert spec.ca_pem == pki.ca.cert_pem
    assert spec.ca_source == str(tmp_path / "pki" / "ca.crt")
    assert spec.tls_server_name == "kubernetes" and spec.proxy_url == "http://127.0.0.1:3128"
    creds = spec.credentials
    assert creds.client_cert_pem == pki.client.cert_pem
    assert creds.client_key_pem is not None and creds.client_key_pem.reveal() == pki.client.key_pem.decode()
    # client-go trims the token file.
    assert creds.token is not None and creds.token.reveal() == "file-token-abcdef"
    assert "file-token-abcdef" not in repr(spec)
    assert ctx.secrets.scrub("file-token-abcdef") == "<redacted>"
    assert spec.origin == f"context main in {path}"


def test_access_unavailable_without_a_server(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config", doc(clusters={"c": {}}, contexts={"main": {"cluster": "c"}}, current="main")
    )
    with pytest.raises(AccessUnavailable, match="no server"):
        asyncio.run(_ctx(tmp_path, path).probe(KUBECONFIG_ACCESS))


def test_server_without_scheme_is_plain_http_like_kubectl(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters={"c": {"server": "127.0.0.1:6443", "insecure-skip-tls-verify": True}},
            contexts={"main": {"cluster": "c"}},
            current="main",
        ),
    )
    spec = asyncio.run(_ctx(tmp_path, path).probe(KUBECONFIG_ACCESS))
    assert spec.server == "http://127.0.0.1:6443"


def test_loader_output_is_json_like(tmp_path: Path) -> None:
    # The selected config goes into the JSON report: it must survive a YAML→JSON round trip.
    path = write(
        tmp_path / "config", "current-context: main\ncontexts:\n- name: main\n  context: {cluster: c}\n"
    )
    ctx = _ctx(tmp_path, path)
    asyncio.run(ctx.probe(SELECTION))
    import json

    assert json.loads(json.dumps(ctx.identity["config"]))["contexts"][0]["context"] == {"cluster": "c"}
    assert yaml.safe_load(path.read_text())["current-context"] == "main"


def test_yaml_block_nesting_is_refused_at_the_depth_limit(fast: bool) -> None:
    # Block style (no flow brackets): libyaml's own 1000-level guard does not apply here.
    text = "".join("  " * i + "a:\n" for i in range(100)) + "  " * 100 + "b: 1\n"
    result = load_yaml_bytes(text.encode(), fast=fast)
    assert isinstance(result, YamlError) and result.kind == "too-deep"


def test_yaml_large_kubeconfig_parses_in_reasonable_time() -> None:
    # A 2000-cluster, ~4 MB kubeconfig (big organisations have these) stays well inside a check's budget.
    ca = b64(b"x" * 1500)
    clusters = "".join(
        f"- name: c{i}\n  cluster:\n    server: https://10.0.0.{i % 250}\n    certificate-authority-data: {ca}\n"
        for i in range(2000)
    )
    contexts = "".join(f"- name: x{i}\n  context: {{cluster: c{i}}}\n" for i in range(2000))
    data = f"clusters:\n{clusters}contexts:\n{contexts}".encode()
    assert len(data) > 4_000_000
    started = time.monotonic()
    result = load_yaml_bytes(data)
    assert isinstance(result, YamlDocument) and len(result.data["clusters"]) == 2000
    limit = 5.0 if yaml.__with_libyaml__ else 30.0
    assert time.monotonic() - started < limit
