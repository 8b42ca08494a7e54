"""The JSON renderer: exactly the report's contract, lossless on any stream."""

from __future__ import annotations

import io
import json
from pathlib import PurePosixPath

from kdoctor.api import Status
from kdoctor.render import render
from kdoctor.render.json_render import render_json
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
