"""The Markdown renderer: what a support engineer pastes into a ticket."""

from __future__ import annotations

import io
import json
import re

from kdoctor.api import Status
from kdoctor.render import render
from kdoctor.render.markdown import md_cell, md_code, render_markdown
from kdoctor.report import CheckResult, Report, TargetReport
from tests.reportvalidation import assert_golden, empty_report, kind_report, multi_report, single_report


def _table_rows(markdown: str, header: str) -> list[list[str]]:
    """The rows of the table under `header`, cells split the way GFM splits them (on unescaped |)."""
    lines = markdown.splitlines()
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip() for cell in cells])
    return rows


def test_golden_files() -> None:
    assert_golden("markdown_single.md", render_markdown(single_report()))
    assert_golden("markdown_multi.md", render_markdown(multi_report()))


def test_header_and_summary_table() -> None:
    out = io.StringIO()
    render(single_report(), "markdown", out)
    md = out.getvalue()
    assert md.startswith("## kdoctor report: ✗ fail\n")
    assert "- kdoctor version: `0.1.0`" in md
    assert "- started: `2026-11-30T12:00:00Z`" in md
    assert "- result: 4 passed, 2 warnings, 1 failed, 3 skipped, 1 error" in md
    rows = _table_rows(md, "| check | status | summary |")
    assert [row[0] for row in rows] == [f"`{r.id}`" for r in single_report().targets[0].results]
    assert all(len(row) == 3 for row in rows)
    by_id = {row[0]: row for row in rows}
    assert by_id["`tls.chain`"][1] == "✗ fail"
    assert by_id["`auth.exec`"][1] == "‼ error"
    assert by_id["`tls.hostname`"][1] == "○ skip"
    assert (
        by_id["`proxy.path`"][2]
        == "HTTPS\\_PROXY=http://proxy.corp:3128 is used for 10.0.0.1 (not in NO\\_PROXY)"
    )
    assert "### Plugins that failed to load" in md
    assert "- `acme`: ModuleNotFoundError: No module named 'acme\\_checks'" in md


def test_a_section_for_each_non_passing_check_with_details() -> None:
    md = render_markdown(single_report())
    sections = re.findall(r"^#### (.*)$", md, flags=re.M)
    assert sections == [
        "! warn: `kubeconfig.permissions`",
        "! warn: `proxy.path`",
        "✗ fail: `tls.chain`",
        "‼ error: `auth.exec`",
    ]
    chain = md[md.index("#### ✗ fail: `tls.chain`") :]
    chain = chain[: chain.index("\n#### ")]
    assert "**Hint:** The chain is not from the cluster CA" in chain
    fenced = re.search(r"```json\n(.*?)\n```", chain, flags=re.S)
    assert fenced is not None
    assert json.loads(fenced.group(1)) == dict(single_report().targets[0].results[4].details)
    config = md[md.index("**Configuration used (secrets redacted):**") :]
    fenced = re.search(r"```json\n(.*?)\n```", config, flags=re.S)
    assert fenced is not None
    assert json.loads(fenced.group(1)) == dict(single_report().targets[0].config)


def test_skipped_checks_get_no_section_and_no_details() -> None:
    results = [
        CheckResult(
            "incluster.token", "t", Status.SKIP, "only inside a pod", hint="Run it in a pod: kubectl run ..."
        ),
        CheckResult("dns.cluster", "t", Status.SKIP, "skipped: incluster.token was skipped"),
        CheckResult(
            "proxy.env", "t", Status.SKIP, "no proxy variables", details={"checked": ["HTTPS_PROXY"]}
        ),
    ]
    report = Report(
        "0.1.0", "2026-11-30T12:00:00Z", 1.0, [TargetReport("a", "a", "u", None, "kubeconfig", results)]
    )
    md = render_markdown(report)
    assert re.findall(r"^#### (.*)$", md, flags=re.M) == []
    assert "HTTPS_PROXY" not in md
    assert "| `dns.cluster` | ○ skip | skipped: incluster.token was skipped |" in md


def test_root_cause_names_families_that_did_not_load() -> None:
    # As text and rich do: "every link works" must not hide links no check looked at.
    md = render_markdown(single_report())
    root = md[md.index("### Root cause") : md.index("context `prod`")]
    assert "‼ not checked: the check family acme did not load (see *Plugins that failed to load*)" in root
    healthy = render_markdown(kind_report("healthy"))
    assert "did not load" not in healthy


def test_root_cause_first_commands_as_code_and_no_certificate_blobs() -> None:
    md = render_markdown(kind_report("failing"))
    sections = re.findall(r"^###+ (.*)$", md, flags=re.M)
    assert sections[0] == "Root cause"
    root = md[md.index("### Root cause") :]
    assert root.startswith(
        "### Root cause\n\n✗ broken link `tls.chain`: x509: certificate signed by unknown authority"
    )
    # Commands render as code spans, not as escaped backticks.
    assert "(`export NO_PROXY=$NO_PROXY,10.0.0.1`)" in root
    assert "\\`" not in md
    # A certificate is its subject, issuer, fingerprint and dates: no PEM, serial, SANs or key data.
    assert '"issuer": "CN=corp-proxy-ca"' in md and '"sha256": "AB:CD:EF:01"' in md
    for blob in ("BEGIN CERTIFICATE", "serial", "dns_names", "key_type"):
        assert blob not in md


def test_all_contexts_root_causes_come_first() -> None:
    md = render_markdown(kind_report("mixed"))
    root = md[md.index("### Root cause") : md.index("| target |")]
    assert "- `prod`: ✗ broken link `tls.chain`:" in root
    assert "- `staging`: ! every link works (13 checks), with 1 warning: tls.expiry" in root
    assert "- `dev`: ✓ every link works (14 checks)" in root


def test_pipes_newlines_and_backticks_cannot_break_the_table() -> None:
    result = CheckResult(
        "kubeconfig.context",
        "t",
        Status.FAIL,
        "context a|b not found\nknown: `x|y`, <none>",
        hint="use ```kubectl config use-context```",
        details={"raw": "```\nbreakout\n```"},
    )
    report = Report(
        "0.1.0", "2026-11-30T12:00:00Z", 1.0, [TargetReport("a|b", None, None, None, "kubeconfig", [result])]
    )
    md = render_markdown(report)
    rows = _table_rows(md, "| check | status | summary |")
    assert len(rows) == 1
    assert len(rows[0]) == 3
    assert rows[0][2] == "context a\\|b not found<br>known: \\`x\\|y\\`, \\<none\\>"
    # The details fence is longer than any backtick run inside, so the block cannot be closed early.
    assert "````json\n" in md
    assert md_code("a`b") == "``a`b``"
    assert md_code("x|y", in_table=True) == "`x\\|y`"
    assert md_cell("a|b") == "a\\|b"


def test_several_targets_and_empty_report() -> None:
    md = render_markdown(multi_report())
    rows = _table_rows(md, "| target | server | status | pass | warn | fail | skip | error |")
    assert rows == [
        ["`prod`", "`https://10.0.0.1:6443`", "✗ fail", "4", "2", "1", "3", "1"],
        ["`staging\\|eu`", "-", "✓ pass", "2", "0", "0", "0", "0"],
    ]
    assert "### Target `prod`" in md
    assert "### Target `staging\\|eu`" not in md  # headings are not tables: no escaping needed
    assert "### Target `staging|eu`" in md
    empty = render_markdown(empty_report())
    assert empty.startswith("## kdoctor report: ✓ pass\n")
    assert "| check |" not in empty
