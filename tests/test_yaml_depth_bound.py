"""The cheap nesting bound that lets a big kubeconfig skip libyaml's event walk must never be below the
real depth: compared here with the depth libyaml itself reaches (up to its first error, which is all its
recursive composer would see), on hand-picked shapes and on randomly generated documents."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest
import yaml

from kdoctor import yamlload
from kdoctor.yamlload import MAX_DEPTH, load_yaml_bytes


def libyaml_depth(text: str) -> int:
    """Deepest nesting of collection events libyaml emits before the end or its first error."""
    depth = deepest = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                deepest = max(deepest, depth)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return deepest


def assert_sound(text: str) -> None:
    bound = yamlload._depth_bound(text)
    real = libyaml_depth(text)
    assert bound >= real, (bound, real, text[:200])
    assert yamlload._provably_shallow(text) == (bound <= MAX_DEPTH), (bound, text[:200])


def block_map(n: int, indent: int = 2) -> str:
    return "".join(" " * (indent * i) + f"k{i}:\n" for i in range(n)) + " " * (indent * n) + "leaf\n"


def indentless(n: int) -> str:
    # key:\n- key:\n  - ...: a sequence at its key's column, two levels per indentation step
    lines = []
    for i in range(n):
        lines.append(" " * (2 * i) + f"- k{i}:")
    lines.append(" " * (2 * n) + "- leaf")
    return "k:\n" + "\n".join(lines) + "\n"


CASES: dict[str, str] = {
    "kubeconfig": (
        "apiVersion: v1\nclusters:\n- name: a\n  cluster:\n    server: https://x\ncontexts:\n- name: c\n"
        "  context: {cluster: a, user: u}\nusers:\n- name: u\n  user:\n    exec:\n      args: [a, b]\n"
        "      env:\n      - name: X\n        value: y\n"
    ),
    "block-10": block_map(10),
    "block-40": block_map(40),
    "block-70-indent1": block_map(70, 1),
    "indentless-20": indentless(20),
    "indentless-40": indentless(40),
    "compact-seq-30": "- " * 30 + "x\n",
    "compact-seq-70": "- " * 70 + "x\n",
    "compact-wide-spaces": "-    " * 14 + "x\n",
    "compact-map-in-seq": "".join("  " * i + "- k:\n" for i in range(20)) + "  " * 20 + "- x\n",
    "explicit-keys": "? " * 20 + "a\n",
    "explicit-values": "? a\n: " + "- " * 30 + "x\n",
    "explicit-mixed": "? - - a\n  - b\n: - ? c\n    : - d\n",
    "flow-seq-70": "[" * 70 + "]" * 70 + "\n",
    "flow-map-70": "{a: " * 70 + "b" + "}" * 70 + "\n",
    "flow-pairs": "[" * 20 + "a: b" + "]" * 20 + "\n",
    "flow-pair-keys": "[[[[[a]: b]: c]: d]: e]\n",
    "flow-multiline": "k: [\n" + "[\n" * 30 + "x\n" + "]\n" * 30 + "]\n",
    "flow-in-block": block_map(12) + "  " * 12 + "z: " + "[" * 20 + "]" * 20 + "\n",
    "mixed": "a:\n  - b: [c, {d: [e, {f: g}]}]\n    h:\n    - - - i\n",
    "quoted-brackets": "a: \"[[[[[[[[[[[[[[[[[[\"\nb: '{{{{{{{{'\nc: x # ]]]]]]]\n",
    "quoted-closers": '"]]]]]]]]]]": ' + "[" * 40 + "]" * 40 + "\n",
    "quoted-key-deep": "\n".join("  " * i + f'"k{i}":' for i in range(30)) + "\n" + "  " * 30 + "x\n",
    "anchors-tags": "- &a !!seq\n  - &b !!map\n    k: &c [*a]\n",
    "tagged-keys": "".join("  " * i + f"!!str k{i}:\n" for i in range(25)) + "  " * 25 + "x\n",
    "cr-breaks": block_map(40).replace("\n", "\r"),
    "crlf-breaks": block_map(40).replace("\n", "\r\n"),
    "nel-breaks": block_map(40).replace("\n", "\x85"),
    "ls-breaks": block_map(40).replace("\n", "\u2028"),
    "bom-column-0": "".join("\ufeff" + " " * i + f"k{i}:\n" for i in range(30)),
    "tabs": "k:\n\t- a\n -\t- b\n",
    "document-markers": "--- " + "- " * 40 + "x\n...\n--- " + "[" * 5 + "]" * 5 + "\n",
    "two-documents": "a: b\n---\n" + block_map(40),
    "block-scalar": "a: |\n" + "".join("   " * i + "- - -\n" for i in range(20)) + "b:\n" + "- " * 10 + "x\n",
    "plain-multiline": "a: b\n   c\n  d: - - - - e\n",
    "comma-in-block": "a: b\n, - - - - - - - x\n",
    "unicode": "".join("  " * i + f"ключ{i}:\n" for i in range(20)) + "  " * 20 + "значение\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bound_is_never_below_libyaml_depth(name: str) -> None:
    assert_sound(CASES[name])


@pytest.mark.parametrize(
    "text",
    [block_map(70, 1), indentless(40), "- " * 70 + "x\n", "[" * 70 + "]" * 70, "{a: " * 70 + "b" + "}" * 70],
    ids=["block", "indentless", "compact", "flow-seq", "flow-map"],
)
def test_deep_documents_are_still_refused(text: str) -> None:
    assert libyaml_depth(text) > MAX_DEPTH
    result = load_yaml_bytes(text.encode())
    assert isinstance(result, yamlload.YamlError)
    assert result.kind == "too-deep"


def test_a_big_fleet_file_is_provably_shallow_and_alias_free() -> None:
    # the bench's shape (block style only): the fast path must apply to it, or the 10 MB load pays the
    # event walk. Flow collections count in full (`args: [a, b]` in every user), so a fleet file with
    # more than ~30 of them takes the exact walk: slower, still correct.
    text = (
        CASES["kubeconfig"].replace("{cluster: a, user: u}", "\n    cluster: a").replace("[a, b]", "a") * 200
    )
    assert yamlload._provably_shallow(text)
    assert not yamlload._may_have_alias(text)


@pytest.mark.parametrize(
    "text,maybe",
    [
        ("a: &x 1\nb: *x\n", True),
        ("a: [*x]\n", True),
        ("*x\n", True),
        ("a: {b:*x}\n", True),
        ("a: b*c\nd: '*'\n", True),  # a quoted star only over-approximates
        ("a: b*c\n", False),
        ("a: !t*x y\n", False),
        ("a: b\n", False),
    ],
)
def test_alias_presence_over_approximates(text: str, maybe: bool) -> None:
    assert yamlload._may_have_alias(text) is maybe
    has_alias = False
    with contextlib.suppress(yaml.YAMLError):  # aliases seen before a syntax error still count
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            has_alias = has_alias or isinstance(event, yaml.AliasEvent)
    assert not has_alias or yamlload._may_have_alias(text)


def test_aliases_found_by_the_fast_path_are_still_counted() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7)
    )
    assert yamlload._provably_shallow(bomb)
    result = load_yaml_bytes(bomb.encode())
    assert isinstance(result, yamlload.YamlError)
    assert result.kind == "alias-bomb"


def _random_value(rng: random.Random, depth: int) -> Any:
    if depth <= 0 or rng.random() < 0.15:
        return rng.choice(["x", "y", "n", "1", "[", "]", "{", "a: b", "- c", "? d", "*e", "", None, 3])
    if rng.random() < 0.5:
        return [_random_value(rng, depth - 1) for _ in range(rng.choice((1, 1, 1, 2)))]
    return {f"k{i}": _random_value(rng, depth - 1) for i in range(rng.choice((1, 1, 1, 2)))}


_FRAGMENTS = ["- ", "? ", ": ", "  ", "\t", "\n", "\r", "[", "]", "{", "}", ", ", "a", "b: ", "'q'", '"[x"', "&a ",
              "*a", "!!seq ", "# c", "|\n", "--- ", "...\n", "\x85", "\ufeff", "-", ":", "?"]  # fmt: skip


def test_bound_holds_on_random_documents() -> None:
    rng = random.Random(20261206)
    for _ in range(200):
        value = _random_value(rng, rng.randint(1, 30))
        for flow in (False, True, None):
            text = yaml.safe_dump(
                value, default_flow_style=flow, indent=rng.randint(2, 9), width=rng.randint(20, 200)
            )
            assert_sound(text)
            assert_sound(text.replace("\n", rng.choice(["\r\n", "\r", "\x85", "\u2028"])))
    for _ in range(3000):
        assert_sound("".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 80))))
