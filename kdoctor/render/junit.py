"""The JUnit XML report: one <testsuite> per target, one <testcase> per check, for CI test UIs.

The shape follows the de-facto JUnit schema that Jenkins, GitLab, GitHub Actions reporters and
Azure DevOps read: ``<testsuites>`` → ``<testsuite name tests failures errors skipped time>`` →
``<properties>`` first, then ``<testcase classname name time>`` holding at most one of
``<failure>``, ``<error>``, ``<skipped>`` and optionally ``<system-out>``.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kdoctor.core import Status
from kdoctor.render.common import headline
from kdoctor.report import CheckResult, Report, TargetReport
from kdoctor.timefmt import iso_utc

# XML 1.0 allows only \t \n \r below U+0020, no surrogates and neither U+FFFE nor U+FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` with every character XML 1.0 cannot carry replaced by a visible ``\\xNN`` escape.

    A carriage return is escaped too: parsers would turn it into a newline.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\\x0d")
    return _XML_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}" if math.isfinite(ms) and ms >= 0 else "0.000"


def _details_text(details: Mapping[str, Any]) -> str:
    if not details:
        return ""
    return json.dumps(dict(details), indent=2, ensure_ascii=False, default=str)


def _body(result: CheckResult) -> str:
    # The summary is in `message` too, but some CI UIs show only the element's text.
    parts = [result.summary]
    if result.hint:
        parts.append(f"hint: {result.hint}")
    details = _details_text(result.details)
    if details:
        parts.append(f"details: {details}")
    return xml_safe("\n\n".join(parts))


def _testcase(parent: ET.Element, result: CheckResult, *, root: bool = False) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        {
            "classname": xml_safe(f"kdoctor.{result.family}"),
            "name": xml_safe(result.id),
            "time": _seconds(result.duration_ms),
        },
    )
    message = xml_safe(f"root cause: {result.summary}" if root else result.summary)
    if result.status is Status.FAIL:
        ET.SubElement(case, "failure", {"message": message, "type": "fail"}).text = _body(result)
    elif result.status is Status.ERROR:
        ET.SubElement(case, "error", {"message": message, "type": "error"}).text = _body(result)
    elif result.status is Status.SKIP:
        ET.SubElement(case, "skipped", {"message": message})
    elif result.status is Status.WARN:
        ET.SubElement(case, "system-out").text = "warn: " + _body(result)


def _testsuite(parent: ET.Element, target: TargetReport, timestamp: str) -> None:
    results = list(target.results)
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    suite = ET.SubElement(
        parent,
        "testsuite",
        {
            "name": xml_safe(target.label),
            "tests": str(len(results)),
            "failures": str(counts[Status.FAIL]),
            "errors": str(counts[Status.ERROR]),
            "skipped": str(counts[Status.SKIP]),
            "time": _seconds(sum(r.duration_ms for r in results)),
            "timestamp": timestamp,
        },
    )
    properties = ET.SubElement(suite, "properties")
    facts = {
        "context": target.context,
        "cluster": target.cluster,
        "user": target.user,
        "server": target.server,
        "mode": target.mode,
        "status": target.status.value,
    }
    root = target.root_cause
    if root is not None:
        facts["root_cause"] = f"{root.id}: {root.summary}"
        facts["fix"] = root.hint or None
    else:
        facts["headline"] = headline(target)[1]
    for name, value in facts.items():
        if value is not None:
            ET.SubElement(properties, "property", {"name": name, "value": xml_safe(value)})
    # The root cause is the first <failure> a CI UI shows; the other checks keep their order.
    first = [r for r in results if root is not None and r.id == root.id]
    for result in [*first, *(r for r in results if r not in first)]:
        _testcase(suite, result, root=bool(first) and result is first[0])
    # The suite's message: the one line that answers the question, as the text report ends.
    status, text = headline(target)
    ET.SubElement(suite, "system-out").text = xml_safe(f"{status.value}: {text}")


def _plugin_suite(parent: ET.Element, plugin_errors: Mapping[str, str], timestamp: str) -> None:
    # A family that failed to load ran no checks: shown as skipped so CI UIs list it without
    # turning a run whose exit code is 0 into a red build.
    suite = ET.SubElement(
        parent,
        "testsuite",
        {
            "name": "kdoctor plugins",
            "tests": str(len(plugin_errors)),
            "failures": "0",
            "errors": "0",
            "skipped": str(len(plugin_errors)),
            "time": "0.000",
            "timestamp": timestamp,
        },
    )
    for name, error in plugin_errors.items():
        case = ET.SubElement(
            suite, "testcase", {"classname": "kdoctor.plugins", "name": xml_safe(name), "time": "0.000"}
        )
        ET.SubElement(case, "skipped", {"message": xml_safe(f"plugin {name} failed to load: {error}")})


def _timestamp(started_at: str) -> str:
    try:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return ""
    # The JUnit schema (junit-10.xsd, ISO8601_DATETIME_PATTERN) takes a date-time without a zone:
    # the UTC one, without its "Z".
    return iso_utc(moment).removesuffix("Z")


def render_junit(report: Report) -> str:
    """The report as a JUnit XML document (UTF-8 declaration, trailing newline)."""
    timestamp = _timestamp(report.started_at)
    summary = report.summary
    root = ET.Element(
        "testsuites",
        {
            "name": "kdoctor",
            "tests": str(sum(summary.values()) + len(report.plugin_errors)),
            "failures": str(summary["fail"]),
            "errors": str(summary["error"]),
            "skipped": str(summary["skip"] + len(report.plugin_errors)),
            "time": _seconds(report.duration_ms),
        },
    )
    for target in report.targets:
        _testsuite(root, target, timestamp)
    if report.plugin_errors:
        _plugin_suite(root, report.plugin_errors, timestamp)
    for suite in root:
        if not suite.get("timestamp"):
            del suite.attrib["timestamp"]
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
