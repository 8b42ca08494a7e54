"""Tags and numbers the way kubectl's YAML library reads them: asked of kubectl first, then of kdoctor.

A value that does not fit its tag (`!!int "abc"`, `!!bool "maybe"`) makes kubectl refuse the file,
and kdoctor says so (`bad-tag`) instead of crashing; a local tag (`!custom`) is ignored by both; a
number too large for int64/float64 stays text for both.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kdoctor.yamlload import YamlDocument, YamlError, load_yaml_bytes
from tests.lab.tools import plain_kubectl

BASE = (
    "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: {server}}}\n"
    "contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"
    "users:\n- name: u\n  user: {{token: {token}}}\n"
)
CASES = {
    # name: (server, token, kubectl loads it, the server kubectl reads or None)
    "int-not-a-number": ("https://127.0.0.1:1", '!!int "abc"', False, None),
    "bool-maybe": ("https://127.0.0.1:1", '!!bool "maybe"', False, None),
    "float-not-a-number": ("https://127.0.0.1:1", '!!float "abc"', False, None),
    "local-tag": ("https://127.0.0.1:1", '!custom "abc"', True, "https://127.0.0.1:1"),
    "foreign-tag": ('!<tag:example.com,2000:x> "https://127.0.0.1:1"', "x", True, "https://127.0.0.1:1"),
    "5000-digits": ("9" * 5000, "x", True, "9" * 5000),
    "hex-beyond-uint64": ("0x" + "f" * 32, "x", True, "0x" + "f" * 32),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_kdoctor_reads_tags_as_kubectl_does(name: str, tmp_path: Path) -> None:
    server, token, loads, seen = CASES[name]
    text = BASE.format(server=server, token=token)
    path = tmp_path / "config"
    path.write_text(text)
    kubectl = plain_kubectl()
    view = subprocess.run(
        [kubectl, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
        env={"KUBECONFIG": str(path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (view.returncode == 0) == loads, f"kubectl: {view.stderr}"
    result = load_yaml_bytes(text.encode())
    if not loads:
        assert isinstance(result, YamlError) and result.kind == "bad-tag", result
        assert "kubectl refuses the file" in result.message and result.line == 12
        return
    assert view.stdout == seen
    assert isinstance(result, YamlDocument), result
    assert result.data["clusters"][0]["cluster"]["server"] == seen


@pytest.mark.parametrize(
    "text",
    ['a: !!map "123"', "a: !!omap abc", "a: !!pairs abc", "a: !!str [1]", "a: !!seq {b: 1}", "a: !!set [1]"],
)
def test_a_tag_that_does_not_fit_its_node_is_an_error_not_a_crash(text: str) -> None:
    result = load_yaml_bytes(text.encode())
    assert isinstance(result, YamlError) and result.line == 1, result


def test_python_tags_are_still_refused() -> None:
    result = load_yaml_bytes(b"a: !!python/object/apply:os.system ['true']\n")
    assert isinstance(result, YamlError) and result.kind == "unsafe-tag"
