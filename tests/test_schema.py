"""The shipped report schema: it is valid, it accepts what kdoctor writes and rejects what breaks the contract."""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kdoctor.report import SCHEMA_ID
from kdoctor.schema import REPORT_SCHEMA_FILE, load_report_schema
from tests.lab.tools import missing
from tests.reportvalidation import (
    assert_valid_report,
    empty_report,
    multi_report,
    schema_errors,
    single_report,
)

HOP_KINDS = [
    "direct",
    "http-proxy",
    "socks-proxy",
    "kubectl-proxy",
    "apiserver-proxy",
    "load-balancer",
    "tls-intercepting-proxy",
    "kube-proxy",
]


def _doc() -> dict[str, Any]:
    return multi_report().to_json_dict()


def _result(doc: dict[str, Any], check_id: str, target: int = 0) -> dict[str, Any]:
    return next(r for r in doc["targets"][target]["results"] if r["id"] == check_id)


def test_schema_is_draft_2020_12_and_pins_the_contract() -> None:
    schema = load_report_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"] == {"const": SCHEMA_ID}
    assert schema["$defs"]["hop"]["properties"]["kind"]["enum"] == HOP_KINDS
    # Each call hands out a fresh copy.
    schema["title"] = "changed"
    assert load_report_schema()["title"] == "kdoctor report"


def test_reports_kdoctor_writes_are_valid() -> None:
    for report in (single_report(), multi_report(), empty_report()):
        assert_valid_report(report.to_json_dict())
        assert_valid_report(json.loads(json.dumps(report.to_json_dict())))


def test_optional_parts_may_be_absent() -> None:
    doc = _doc()
    del doc["plugin_errors"]
    for target in doc["targets"]:
        del target["config"]
        # Added in 0.2 without a new schema id: a report from 0.1 has no root_cause and stays valid.
        del target["root_cause"]
    assert_valid_report(doc)


def test_root_cause_is_in_every_target() -> None:
    doc = _doc()
    assert doc["targets"][0]["root_cause"] == {
        "id": "tls.chain",
        "summary": _result(doc, "tls.chain")["summary"],
        "hint": _result(doc, "tls.chain")["hint"],
    }
    assert doc["targets"][1]["root_cause"] is None


def test_proxy_path_without_hops_is_rejected() -> None:
    doc = _doc()
    del _result(doc, "proxy.path")["details"]["hops"]
    assert any("'hops' is a required property" in e for e in schema_errors(doc))
    doc = _doc()
    _result(doc, "proxy.path")["details"]["hops"] = []
    assert schema_errors(doc)


@pytest.mark.parametrize("status", ["skip", "error"])
def test_proxy_path_that_was_not_judged_needs_no_hops(status: str) -> None:
    doc = _doc()
    result = _result(doc, "proxy.path", target=1)
    result["status"] = status
    result["details"] = {}
    doc["summary"] = {"pass": 5, "warn": 2, "fail": 1, "skip": 3, "error": 1}
    doc["summary"][status] += 1
    if status == "error":
        doc["targets"][1]["status"] = "fail"
    assert_valid_report(doc)


@pytest.mark.parametrize(
    "hop",
    [
        {"kind": "vpn", "evidence": "x"},
        {"kind": "direct"},
        {"kind": "direct", "evidence": 3},
        {"kind": "direct", "evidence": "x", "extra": 1},
        "direct",
    ],
)
def test_malformed_hops_are_rejected(hop: object) -> None:
    doc = _doc()
    _result(doc, "proxy.path")["details"]["hops"].append(hop)
    assert schema_errors(doc)


def test_every_hop_kind_is_accepted() -> None:
    doc = _doc()
    _result(doc, "proxy.path")["details"]["hops"] = [{"kind": k, "evidence": f"saw {k}"} for k in HOP_KINDS]
    assert_valid_report(doc)


def test_hops_are_only_pinned_for_proxy_path() -> None:
    doc = _doc()
    _result(doc, "tls.chain")["details"]["hops"] = "whatever a check wants"
    assert_valid_report(doc)


def _mutations() -> list[tuple[str, Any]]:
    def set_path(path: str, value: Any) -> Any:
        def apply(doc: dict[str, Any]) -> None:
            *parents, last = path.split("/")
            node: Any = doc
            for part in parents:
                node = node[int(part)] if part.isdigit() else node[part]
            if value is KeyError:
                del node[int(last) if last.isdigit() else last]
            else:
                node[int(last) if last.isdigit() else last] = value

        return apply

    return [
        ("wrong result status", set_path("targets/0/results/0/status", "ok")),
        ("status in caps", set_path("targets/0/results/0/status", "PASS")),
        ("skip as a report status", set_path("status", "skip")),
        ("wrong schema id", set_path("schema", "kdoctor.dev/report/v2")),
        ("bad mode", set_path("targets/0/mode", "incluster")),
        ("id without family", set_path("targets/0/results/0/id", "kubeconfig")),
        ("id with capitals", set_path("targets/0/results/0/id", "TLS.chain")),
        ("id with space", set_path("targets/0/results/0/id", "tls.ch ain")),
        ("negative duration", set_path("targets/0/results/0/duration_ms", -1)),
        ("duration as string", set_path("duration_ms", "84 ms")),
        ("details not an object", set_path("targets/0/results/0/details", [])),
        ("missing hint", set_path("targets/0/results/0/hint", KeyError)),
        ("missing summary key", set_path("summary/error", KeyError)),
        ("negative count", set_path("summary/pass", -1)),
        ("server not a string", set_path("targets/0/server", 6443)),
        ("missing context key", set_path("targets/0/context", KeyError)),
        ("unknown top-level key", set_path("token", "abc")),
        ("unknown result key", set_path("targets/0/results/0/authorization", "Bearer x")),
        ("plugin error not a string", set_path("plugin_errors", {"acme": {"error": 1}})),
        ("started_at not a date-time", set_path("started_at", "yesterday")),
        ("target status disagrees with results", set_path("targets/0/status", "warn")),
        ("healthy target claims fail", set_path("targets/1/status", "fail")),
        ("report status disagrees with targets", set_path("status", "pass")),
        ("config not an object", set_path("targets/0/config", "prod")),
        ("root cause without hint", set_path("targets/0/root_cause", {"id": "tls.chain", "summary": "x"})),
        ("root cause with an extra key", set_path("targets/0/root_cause/details", {})),
        ("root cause id not an id", set_path("targets/0/root_cause/id", "TLS chain")),
        ("root cause as a string", set_path("targets/0/root_cause", "tls.chain")),
        (
            "root cause on a healthy target",
            set_path("targets/1/root_cause", {"id": "tls.chain", "summary": "x", "hint": ""}),
        ),
    ]


@pytest.mark.parametrize(("name", "mutate"), _mutations(), ids=[name for name, _ in _mutations()])
def test_contract_violations_are_rejected(name: str, mutate: Any) -> None:
    doc = _doc()
    mutate(doc)
    assert schema_errors(doc), name


def test_helper_checks_counts_and_duplicate_ids() -> None:
    doc = _doc()
    doc["summary"]["pass"] += 1
    with pytest.raises(AssertionError, match="does not count the results"):
        assert_valid_report(doc)
    doc = _doc()
    doc["targets"][1]["results"].append(copy.deepcopy(doc["targets"][1]["results"][0]))
    doc["summary"]["pass"] += 1
    with pytest.raises(AssertionError, match="repeats check ids"):
        assert_valid_report(doc)
    with pytest.raises(AssertionError, match="does not match its schema"):
        assert_valid_report({"schema": SCHEMA_ID})


def test_the_id_pattern_matches_the_design() -> None:
    pattern = load_report_schema()["$defs"]["result"]["properties"]["id"]["pattern"]
    assert pattern == r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9.-]*$"
    for good in ("tls.chain", "kube-proxy.vip", "dns.kubernetes.default", "auth.401"):
        assert re.match(pattern, good)


def test_schema_file_ships_in_the_wheel() -> None:
    # The wheel's file list as hatchling computes it from pyproject (no build, no network).
    try:
        wheel = importlib.import_module("hatchling.builders.wheel")
    except ImportError:
        missing("hatchling")
        return
    root = Path(__file__).resolve().parent.parent
    builder = wheel.WheelBuilder(str(root))
    shipped = {f.distribution_path for f in builder.recurse_included_files()}
    assert f"kdoctor/schema/{REPORT_SCHEMA_FILE}" in shipped
    assert "kdoctor/schema/__init__.py" in shipped
