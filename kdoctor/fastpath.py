"""A fast path for `kdoctor run` with known, well-formed flags: parsed here, without importing typer.

typer stays the command line of record: help, errors, completion and every other command. This parser
accepts only what it can parse exactly as typer would (the same flags, the same defaults, the same
validation) and returns None for anything else (an unknown flag, a bad value, --help, `-ojson`), so
that typer handles it and prints its own message. Importing typer and click and building the command
costs ~40 ms, a third of a healthy run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The -o choices (typer's callback in kdoctor.cli checks against the same tuple).
OUTPUT_FORMATS = ("rich", "text", "json", "junit", "markdown")

_VALUE_FLAGS = {
    "--kubeconfig": "kubeconfig",
    "--context": "context",
    "--serviceaccount-dir": "serviceaccount_dir",
    "--resolv-conf": "resolv_conf",
    "-o": "output",
    "--output": "output",
    "--report": "report",
    "--check": "check",
    "--skip": "skip",
    "--timeout": "timeout",
    "--fail-on": "fail_on",
    "--client": "client",
}
_SWITCHES: dict[str, tuple[str, bool]] = {
    "--all-contexts": ("all_contexts", True),
    "--in-cluster": ("in_cluster", True),
    "--no-in-cluster": ("in_cluster", False),
    "--no-exec": ("no_exec", True),
    "--debug": ("debug", True),
    "-v": ("verbose", True),
    "--verbose": ("verbose", True),
}
_REPEATABLE = ("check", "skip")


#: Options that belong to the top-level command, not to `run`.
_TOP_LEVEL_OPTIONS = ("-h", "--help", "--version")


def default_to_run(args: list[str]) -> list[str]:
    """Bare `kdoctor` (and `kubectl doctor`) is `kdoctor run`, like `flutter doctor`; so is a
    command line that starts with an option of `run` (`kdoctor --context prod`). `-h`, `--help`
    and `--version` stay the top-level ones."""
    if not args or (args[0].startswith("-") and args[0] not in _TOP_LEVEL_OPTIONS):
        return ["run", *args]
    return args


def parse_run(argv: Sequence[str]) -> dict[str, Any] | None:
    """The keyword arguments of `kdoctor run` for `argv` (after `run`), or None: let typer parse it."""
    values: dict[str, Any] = {"check": [], "skip": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in _SWITCHES:
            name, switch = _SWITCHES[arg]
            values[name] = switch
            continue
        flag, eq, inline = arg.partition("=")
        if flag not in _VALUE_FLAGS or (eq and flag == "-o"):
            return None  # unknown flag, a positional argument, --help, -ojson, `--`: typer's business
        if eq:
            value = inline
        elif i < len(argv):
            value = argv[i]
            i += 1
        else:
            return None  # missing value: typer says so
        name = _VALUE_FLAGS[flag]
        if name in _REPEATABLE:
            values[name].append(value)
        else:
            values[name] = value
    return _validated(values)


def _validated(values: dict[str, Any]) -> dict[str, Any] | None:
    output = values.get("output")
    if output is not None and output not in OUTPUT_FORMATS:
        return None
    if values.get("fail_on", "fail") not in ("fail", "warn"):
        return None
    if values.get("client", "kubectl") not in ("kubectl", "python"):
        return None
    if "timeout" in values:
        try:
            timeout = float(values["timeout"])
        except ValueError:
            return None
        if not 0.1 <= timeout <= 300:  # also false for nan
            return None
        values["timeout"] = timeout
    return values


def execute(values: dict[str, Any]) -> int:
    """`kdoctor run` with parsed flags (from here or from typer): the process exit code."""
    # lazy: the engine loads only once a run is certain (help and errors never pay for it)
    from kdoctor.app import OutputOptions, run_command
    from kdoctor.context import DEFAULT_RESOLV_CONF, DEFAULT_SERVICEACCOUNT_DIR, Options

    options = Options(
        kubeconfig=values.get("kubeconfig"),
        context=values.get("context"),
        all_contexts=bool(values.get("all_contexts", False)),
        in_cluster=values.get("in_cluster"),
        serviceaccount_dir=values.get("serviceaccount_dir", DEFAULT_SERVICEACCOUNT_DIR),
        resolv_conf=values.get("resolv_conf", DEFAULT_RESOLV_CONF),
        timeout=float(values.get("timeout", 5.0)),
        no_exec=bool(values.get("no_exec", False)),
        debug=bool(values.get("debug", False)),
        client=values.get("client", "kubectl"),
        selected=tuple(values.get("check") or ()),
        skipped=tuple(values.get("skip") or ()),
    )
    output = OutputOptions(
        format=values.get("output"),
        report_file=values.get("report"),
        fail_on=values.get("fail_on", "fail"),
        verbose=bool(values.get("verbose", False)),
    )
    return run_command(options, output)
