"""The command line as users and CI meet it: flags, exit codes, formats, plugins."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.clirun import install_plugin, kdoctor
from tests.reportvalidation import assert_valid_report

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_version(tmp_path: Path) -> None:
    from kdoctor import __version__

    done = kdoctor("--version", home=tmp_path)
    assert (done.code, done.stdout.strip()) == (0, f"kdoctor {__version__}")


def test_unknown_check_is_a_usage_error_listing_valid_ids(tmp_path: Path) -> None:
    done = kdoctor("run", "--check", "tls.nope", home=tmp_path)
    assert done.code == 2
    assert "unknown check id or family 'tls.nope'" in done.stderr
    assert "kubeconfig.found" in done.stderr  # the valid ids are listed


def test_bad_flag_values_are_usage_errors(tmp_path: Path) -> None:
    assert kdoctor("run", "-o", "yaml", home=tmp_path).code == 2
    assert kdoctor("run", "--fail-on", "never", home=tmp_path).code == 2
    assert kdoctor("explain", "no.such", home=tmp_path).code == 2


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "markdown", "rich"])
def test_exit_code_is_the_same_for_every_format(tmp_path: Path, fmt: str) -> None:
    missing = tmp_path / "nowhere" / "config"
    report = tmp_path / "report.json"
    done = kdoctor("run", "--kubeconfig", str(missing), "-o", fmt, "--report", str(report), home=tmp_path)
    assert done.code == 1, done.stderr
    doc = json.loads(report.read_text())
    assert_valid_report(doc)
    assert doc["status"] == "fail"
    found = next(r for r in doc["targets"][0]["results"] if r["id"] == "kubeconfig.found")
    assert found["status"] == "fail" and str(missing) in found["summary"]
    if fmt == "json":
        assert json.loads(done.stdout) == doc  # one report, rendered twice
    if fmt == "junit":
        suites = ET.fromstring(done.stdout)
        assert int(suites.get("failures", "0")) >= 1
    if fmt == "text":
        assert not ANSI.search(done.stdout)
        assert "kubeconfig.found" in done.stdout


def test_text_is_the_default_off_a_terminal(tmp_path: Path) -> None:
    done = kdoctor("run", "--kubeconfig", str(tmp_path / "missing"), home=tmp_path)
    assert done.code == 1
    assert not ANSI.search(done.stdout)
    assert "✗" in done.stdout


def test_broken_plugin_is_named_and_the_run_goes_on(tmp_path: Path) -> None:
    site = install_plugin(
        tmp_path / "site",
        "kdoctor-broken-plugin",
        {"broken": "kdoctor_no_such_module:CHECKS", "sample": "tests.lab.sample_checks:LEAKY"},
    )
    listing = kdoctor("checks", home=tmp_path, pythonpath=[site])
    assert listing.code == 0
    assert "broken (kdoctor_no_such_module:CHECKS)" in listing.stderr
    assert re.search(r"sample\.leaky .*\n.*from: kdoctor-broken-plugin", listing.stdout)
    assert re.search(r"kubeconfig\.found .*\n.*from: kdoctor\b", listing.stdout)

    done = kdoctor(
        "run", "--kubeconfig", str(tmp_path / "missing"), "-o", "json", home=tmp_path, pythonpath=[site]
    )
    assert done.code == 1  # the kubeconfig finding, not an internal error
    doc = done.json
    assert_valid_report(doc)
    assert "broken (kdoctor_no_such_module:CHECKS)" in doc["plugin_errors"]
    assert "broken (kdoctor_no_such_module:CHECKS)" in done.stderr
    # A third-party check's secret is scrubbed from the report even though the check put it there.
    leaky = next(r for r in doc["targets"][0]["results"] if r["id"] == "sample.leaky")
    assert "canary-sample-secret-0001" not in done.stdout
    assert leaky["summary"] == "token <redacted> seen"


def test_explain_prints_the_docstring(tmp_path: Path) -> None:
    done = kdoctor("explain", "kubeconfig.found", home=tmp_path)
    assert done.code == 0
    assert done.stdout.startswith("kubeconfig.found: ")
    assert "from kdoctor" in done.stdout
    assert len(done.stdout.splitlines()) > 4  # the documentation, not only the title


def test_debug_prints_tracebacks_of_errors_to_stderr(tmp_path: Path) -> None:
    site = install_plugin(
        tmp_path / "site", "kdoctor-crash-plugin", {"sample": "tests.lab.sample_checks:CHECKS"}
    )
    args = ("run", "--kubeconfig", str(tmp_path / "missing"), "--check", "sample", "-o", "json")
    plain = kdoctor(*args, home=tmp_path, pythonpath=[site])
    assert plain.code == 3
    assert "Traceback" not in plain.stderr + plain.stdout
    debug = kdoctor(*args, "--debug", home=tmp_path, pythonpath=[site])
    assert debug.code == 3
    assert "--- traceback of sample.crashes ---" in debug.stderr
    assert "RuntimeError: boom at line one" in debug.stderr


def test_bare_kdoctor_runs_the_doctor_and_help_still_prints_usage(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    bare = kdoctor(home=tmp_path, env={"KUBECONFIG": missing})
    run = kdoctor("run", home=tmp_path, env={"KUBECONFIG": missing})
    timing = re.compile(r" in [0-9.]+ m?s$", re.M)
    assert (bare.code, timing.sub("", bare.stdout)) == (run.code, timing.sub("", run.stdout))
    assert bare.code == 1
    assert "✗ broken link: kubeconfig.found" in bare.stdout
    # An option of `run` first is `run` too: `kubectl doctor --context prod`.
    flagged = kdoctor("-o", "json", home=tmp_path, env={"KUBECONFIG": missing})
    assert flagged.code == 1 and flagged.json["targets"][0]["root_cause"]["id"] == "kubeconfig.found"
    usage = kdoctor("--help", home=tmp_path)
    assert usage.code == 0 and usage.stdout.startswith("Usage: kdoctor [OPTIONS] COMMAND [ARGS]...")
    assert "run" in usage.stdout and "demo" in usage.stdout
    # -h is --help (not `run -h`, which used to be an unknown option and exit 2), on every command.
    short = kdoctor("-h", home=tmp_path)
    assert (short.code, short.stdout, short.stderr) == (0, usage.stdout, usage.stderr)
    run_help = kdoctor("run", "-h", home=tmp_path)
    assert run_help.code == 0 and run_help.stdout.startswith("Usage: kdoctor run [OPTIONS]")


def test_an_empty_selection_is_a_usage_error(tmp_path: Path) -> None:
    done = kdoctor("run", "--check", "tls", "--skip", "tls", home=tmp_path)
    assert done.code == 2
    assert done.stderr.strip() == "error: --check tls --skip tls leaves no check to run."
    assert done.stdout == ""


def test_an_unknown_check_id_suggests_the_closest(tmp_path: Path) -> None:
    done = kdoctor("run", "--check", "tls.chian", home=tmp_path)
    assert done.code == 2
    assert "unknown check id or family 'tls.chian'. Did you mean tls.chain?" in done.stderr
    explained = kdoctor("explain", "auth.identiy", home=tmp_path)
    assert explained.code == 2
    assert "Did you mean auth.identity? `kdoctor checks` lists every id." in explained.stderr


def test_verbose_shows_every_check_compact_folds_passing_families(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    compact = kdoctor("run", "--kubeconfig", missing, home=tmp_path).stdout
    verbose = kdoctor("run", "--kubeconfig", missing, "-v", home=tmp_path).stdout
    assert "  ○ kubeconfig.parse" in verbose and "  ○ kubeconfig.parse" not in compact
    assert "kubeconfig checks not run: kubeconfig.found failed" in " ".join(compact.split()) or (
        "not run: kubeconfig.found failed" in compact
    )
    # Same report, same ending.
    assert compact.splitlines()[-1] == verbose.splitlines()[-1]
