"""The JSON renderer: exactly the report's contract, lossless on any stream."""

from __future__ import annotations

import enum
import io
import json
import math
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kdoctor.api import Status
from kdoctor.render import render
from kdoctor.render.json_render import _fallback, dumps_indented, render_json
from kdoctor.report import CheckResult, Report, TargetReport
from tests.reportvalidation import assert_valid_report, empty_report, multi_report, single_report


def test_json_is_the_contract_pretty_printed() -> None:
    for report in (single_report(), multi_report(), empty_report()):
        out = io.StringIO()
        render(report, "json", out)
        text = out.getvalue()
        assert text == json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n"
        doc = json.loads(text)
        assert doc == report.to_json_dict()
        assert_valid_report(doc)


def test_json_keeps_unicode_and_control_characters_exactly() -> None:
    doc = json.loads(render_json(single_report()))
    results = {r["id"]: r for r in doc["targets"][0]["results"]}
    assert results["apiserver.readyz"]["summary"] == "サーバーは正常です (all 14 checks ok)"
    # JSON carries the evidence as it was; escaping it is the job of terminal renderers.
    assert "\x1b[31mred" in results["auth.exec"]["summary"]
    assert '"サーバーは正常です' in render_json(single_report())


def test_ascii_stream_gets_escapes_and_the_same_document() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    render(single_report(), "json", stream)
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "\\u30b5" in text
    assert json.loads(text) == single_report().to_json_dict()


def _with_details(**details: object) -> Report:
    result = CheckResult("acme.widget", "t", Status.WARN, "odd details", details=details)
    target = TargetReport("c", "c", "u", "https://127.0.0.1:6443", "kubeconfig", [result])
    return Report("0.1.0", "2026-11-30T12:00:00Z", 1.0, [target])


def test_odd_details_from_plugins_do_not_break_the_report() -> None:
    report = _with_details(path=PurePosixPath("/etc/kube"), names={"b", "a"}, pair=("x", 1))
    doc = json.loads(render_json(report))
    assert doc["targets"][0]["results"][0]["details"] == {
        "path": "/etc/kube",
        "names": ["a", "b"],
        "pair": ["x", 1],
    }
    assert_valid_report(doc)


def test_lone_surrogates_are_escaped_not_fatal() -> None:
    report = _with_details(file="/home/u/\udcffconfig")
    text = render_json(report)
    text.encode("utf-8")
    assert json.loads(text)["targets"][0]["results"][0]["details"]["file"] == "/home/u/\udcffconfig"


# --- dumps_indented: the stdlib's indented text, faster -----------------------------------------


class _Colour(str, enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from([_Colour.RED, _Level.HIGH, PurePosixPath("/p"), frozenset({"b", "a"})])
)
_KEYS = st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(_KEYS, inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES, st.booleans())
def test_dumps_indented_writes_what_json_dumps_writes(value: object, ascii_only: bool) -> None:
    expected = json.dumps(value, indent=2, ensure_ascii=ascii_only, default=_fallback)
    assert dumps_indented(value, ensure_ascii=ascii_only, default=_fallback) == expected


def test_dumps_indented_on_every_golden_report() -> None:
    golden = sorted((Path(__file__).parent / "golden" / "reports").glob("*.json"))
    assert golden
    for path in golden:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for ascii_only in (False, True):
            expected = json.dumps(doc, indent=2, ensure_ascii=ascii_only)
            assert dumps_indented(doc, ensure_ascii=ascii_only, default=_fallback) == expected, path.name


def test_dumps_indented_refuses_what_json_refuses() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps_indented({"a": loop}, ensure_ascii=False, default=_fallback)
    with pytest.raises(TypeError):
        dumps_indented({("tuple", "key"): 1}, ensure_ascii=False, default=_fallback)
    assert dumps_indented([math.inf, -math.inf], ensure_ascii=False, default=_fallback) == (
        "[\n  Infinity,\n  -Infinity\n]"
    )
