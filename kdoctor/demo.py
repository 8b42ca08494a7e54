"""`kdoctor demo`: start the built-in emulated cluster on loopback and run the doctor against it.

No cluster needed: the emulator (kdoctor.emulator) serves real TLS on 127.0.0.1 with the chosen
fault, a temporary kubeconfig points at it, and the doctor runs in this process with an environment
of its own (no proxy variables, no ~/.kube from the user) so the report shows exactly the fault.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kdoctor.app import OutputOptions, run_command
from kdoctor.context import Environment, Options
from kdoctor.emulator.scenarios import SCENARIOS
from kdoctor.emulator.scenarios import list_scenarios as _list_scenarios
from kdoctor.exit_codes import ExitCode

DEFAULT_SCENARIO = "healthy"


def list_scenarios() -> list[tuple[str, str]]:
    """(name, one-line description) of every demo scenario, in display order."""
    return _list_scenarios()


def run_demo(
    scenario: str = DEFAULT_SCENARIO,
    *,
    output: str | None,
    stdout: TextIO,
    stderr: TextIO,
    timeout: float,
    report_file: str | None = None,
    fail_on: str = "fail",
    selected: Sequence[str] = (),
    skipped: Sequence[str] = (),
    debug: bool = False,
    width: int | None = None,
    user: str = "token",
    verbose: bool = False,
) -> int:
    """Run the doctor against the emulator started with `scenario`; returns the exit code."""
    if scenario not in SCENARIOS:
        names = ", ".join(SCENARIOS)
        print(f"error: unknown scenario {scenario!r}; one of: {names}", file=stderr)
        return ExitCode.USAGE
    # lazy: the emulator and its PKI load only once a known scenario is chosen
    from kdoctor.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="kdoctor-demo-") as tmp, Emulator(scenario) as cluster:
        home = Path(tmp)
        # The default location under the demo's own HOME: the doctor finds it as kubectl would, and
        # the report does not speak of a --kubeconfig flag the user never gave.
        (home / ".kube").mkdir()
        kubeconfig = cluster.write_kubeconfig(
            home / ".kube" / "config", user=user, context_name="kdoctor-demo"
        )
        print(
            f"kdoctor demo: scenario {scenario!r}: {cluster.description}\n"
            f"  demo cluster {cluster.url}, kubeconfig {kubeconfig}",
            file=stderr,
        )
        stderr.flush()
        return _run_doctor(
            kubeconfig,
            home=home,
            output=output,
            stdout=stdout,
            stderr=stderr,
            timeout=timeout,
            report_file=report_file,
            fail_on=fail_on,
            selected=tuple(selected),
            skipped=tuple(skipped),
            debug=debug,
            width=width,
            verbose=verbose,
        )


def demo_environment(home: Path) -> dict[str, str]:
    """The demo's environment: PATH and HOME only (plus NO_COLOR if the user set it).

    Nothing from the user's shell that changes the path to the cluster (HTTPS_PROXY, KUBECONFIG)
    may leak in: the demo must show the scenario's fault and nothing else.
    """
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home)}
    if os.environ.get("NO_COLOR"):
        env["NO_COLOR"] = os.environ["NO_COLOR"]
    return env


def _run_doctor(
    kubeconfig: Path,
    *,
    home: Path,
    output: str | None,
    stdout: TextIO,
    stderr: TextIO,
    timeout: float,
    report_file: str | None,
    fail_on: str,
    selected: tuple[str, ...],
    skipped: tuple[str, ...],
    debug: bool,
    width: int | None,
    verbose: bool = False,
) -> int:
    """The one call into the engine (`kdoctor.app.run_command`), as `kdoctor run` would make it."""
    options = Options(
        kubeconfig=None if kubeconfig == home / ".kube" / "config" else str(kubeconfig),
        in_cluster=False,
        timeout=timeout,
        debug=debug,
        selected=selected,
        skipped=skipped,
    )
    environment = Environment(env=demo_environment(home), home=home)
    return run_command(
        options,
        OutputOptions(format=output, report_file=report_file, fail_on=fail_on, width=width, verbose=verbose),
        environment=environment,
        stdout=stdout,
        stderr=stderr,
    )
