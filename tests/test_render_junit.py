"""The JUnit renderer: parsed back, counted, and held to the structure CI parsers expect."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

from kdoctor.api import Status
from kdoctor.render import render
from kdoctor.render.junit import render_junit, xml_safe
from kdoctor.report import CheckResult, Report, TargetReport
from tests.reportvalidation import assert_golden, empty_report, multi_report, single_report

# The de-facto JUnit schema (Jenkins junit-10.xsd / Ant's junit.xsd): allowed attributes and children.
_SUITES_ATTRS = {"name", "tests", "failures", "errors", "skipped", "disabled", "time"}
_SUITE_ATTRS = {
    "name",
    "tests",
    "failures",
    "errors",
    "skipped",
    "disabled",
    "time",
    "timestamp",
    "hostname",
    "id",
    "package",
    "file",
    "log",
    "url",
    "version",
    "group",
}
_CASE_ATTRS = {"name", "classname", "time", "assertions", "status", "file", "line", "group"}
_CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err"}
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")


def assert_junit_structure(root: ET.Element) -> None:
    """The structural rules of the JUnit XSD, checked without a network or an XSD library."""
    assert root.tag == "testsuites"
    assert set(root.attrib) <= _SUITES_ATTRS
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root:
        assert suite.tag == "testsuite"
        assert set(suite.attrib) <= _SUITE_ATTRS
        assert suite.get("name")
        assert _DECIMAL.match(suite.get("time", "0"))
        if "timestamp" in suite.attrib:
            assert _TIMESTAMP.match(suite.attrib["timestamp"])
        children = list(suite)
        tags = [child.tag for child in children]
        # properties (at most once) come first, then testcases, then system-out/err.
        if "properties" in tags:
            assert tags.index("properties") == 0 and tags.count("properties") == 1
            for prop in children[0]:
                assert prop.tag == "property"
                assert set(prop.attrib) == {"name", "value"}
        cases = [child for child in children if child.tag == "testcase"]
        assert all(tag in ("properties", "testcase", "system-out", "system-err") for tag in tags)
        counted = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            assert set(case.attrib) <= _CASE_ATTRS
            assert case.get("name") and case.get("classname")
            assert _DECIMAL.match(case.get("time", "0"))
            outcome = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            assert len(outcome) <= 1
            assert {child.tag for child in case} <= _CASE_CHILDREN
            for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                counted[key] += outcome.count(tag)
        for key, value in counted.items():
            assert int(suite.attrib[key]) == value, (suite.get("name"), key)
            totals[key] += value
    for key, value in totals.items():
        assert int(root.attrib[key]) == value, key


def _parse(report: Report) -> ET.Element:
    out = io.StringIO()
    render(report, "junit", out)
    text = out.getvalue()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert_junit_structure(root)
    return root


def test_golden_files() -> None:
    assert_golden("junit_single.xml", render_junit(single_report()))
    assert_golden("junit_multi.xml", render_junit(multi_report()))


def test_one_suite_per_target_and_counts() -> None:
    root = _parse(multi_report())
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["prod", "staging|eu"]
    prod = suites[0]
    assert (prod.get("tests"), prod.get("failures"), prod.get("errors"), prod.get("skipped")) == (
        "11",
        "1",
        "1",
        "3",
    )
    assert prod.get("timestamp") == "2026-11-30T11:00:00"  # 12:00+01:00 in UTC
    assert {p.get("name"): p.get("value") for p in prod.iter("property")}["server"] == "https://10.0.0.1:6443"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "13",
        "1",
        "1",
        "3",
    )
    assert root.get("time") == "1.520"


def test_each_status_maps_to_its_element() -> None:
    root = _parse(single_report())
    cases = {c.get("name"): c for c in root.iter("testcase")}
    chain = cases["tls.chain"]
    assert chain.get("classname") == "kdoctor.tls"
    assert chain.get("time") == "0.002"
    failure = chain.find("failure")
    assert failure is not None
    # tls.chain is the root cause: the first testcase of its suite, and its message says so.
    assert next(root.iter("testcase")) is chain
    assert failure.get("message", "").startswith("root cause: x509: certificate signed by unknown authority")
    body = (failure.text or "").split("\n\n")
    assert "root cause: " + body[0] == failure.get("message")
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.findtext("system-out") or "").startswith("fail: broken link: tls.chain — x509: certificate")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (props["root_cause"] or "").startswith("tls.chain: x509: certificate signed by unknown authority")
    assert (props["fix"] or "").startswith("The chain is not from the cluster CA")
    assert body[1].startswith("hint: The chain is not from the cluster CA")
    assert '"issuer": "CN=corp-proxy-ca"' in (failure.text or "")
    error = cases["auth.exec"].find("error")
    assert error is not None
    assert error.get("message") == "RuntimeError: plugin wrote \\x1b[31mred\\x1b[0m to stdout\\x0d and exited"
    skipped = cases["tls.hostname"].find("skipped")
    assert skipped is not None and skipped.get("message") == "skipped: tls.chain failed"
    warn = cases["proxy.path"]
    assert [child.tag for child in warn] == ["system-out"]
    assert (warn.findtext("system-out") or "").startswith("warn: HTTPS_PROXY=http://proxy.corp:3128")
    assert list(cases["kubeconfig.file"]) == []
    # A family that failed to load is listed as skipped, not as an error.
    acme = cases["acme"]
    assert acme.get("classname") == "kdoctor.plugins"
    assert acme.find("skipped") is not None


def test_characters_xml_cannot_carry_are_escaped() -> None:
    nasty = 'nul\x00 bell\x07 esc\x1b cr\r ffff\uffff surrogate\udc80 <&> "quoted" ]]>'
    result = CheckResult("tls.chain", "t", Status.FAIL, nasty, hint=nasty, details={"raw": nasty})
    report = Report(
        "0.1.0", "2026-11-30T12:00:00Z", 1.0, [TargetReport(nasty, None, None, None, "in-cluster", [result])]
    )
    root = _parse(report)
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    expected = 'nul\\x00 bell\\x07 esc\\x1b cr\\x0d ffff\\xffff surrogate\\xdc80 <&> "quoted" ]]>'
    assert failure.get("message") == "root cause: " + expected
    assert xml_safe("tab\tnewline\n") == "tab\tnewline\n"


def test_empty_report_and_ascii_stream() -> None:
    root = _parse(empty_report())
    assert root.get("tests") == "0"
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    render(single_report(), "junit", stream)
    stream.flush()
    data = raw.getvalue()
    data.decode("ascii")
    root = ET.fromstring(data)
    assert_junit_structure(root)
    readyz = [c for c in root.iter("testcase") if c.get("name") == "apiserver.readyz"]
    assert len(readyz) == 1
    zoe = next(c for c in root.iter("testcase") if c.get("name") == "kubeconfig.permissions")
    assert "/home/zoë/.kube/config" in (zoe.findtext("system-out") or "")
