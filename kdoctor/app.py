"""`kdoctor run` end to end: choose targets, run their checks, scrub, render, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

from kdoctor import __version__
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.core import Mode
from kdoctor.exit_codes import ExitCode, exit_code_for
from kdoctor.kubeconfig import PRELOADED, load_kubeconfig
from kdoctor.kubeconfig import select as select_context
from kdoctor.observer import NullObserver, RunObserver
from kdoctor.probes.inpod import detect
from kdoctor.redact import SecretRegistry
from kdoctor.registry import DependencyError, RegisteredCheck, Registry, closest_ids, load_registry, select
from kdoctor.report import Report, TargetReport
from kdoctor.rootcause import retarget_skips
from kdoctor.runner import run_target
from kdoctor.threads import DaemonExecutor
from kdoctor.timefmt import iso_utc

if TYPE_CHECKING:
    # lazy: Rich only for a person at a terminal
    # lazy: Rich's live display loads only on a terminal
    from kdoctor.render.live import LiveProgress

#: How many targets of --all-contexts are checked at once when they only use the network: waiting
#: on the network costs nothing, so 200 contexts (some of them hanging until the timeout) are
#: checked in about the time of the slowest (with 128, 200 hanging contexts took two timeouts). Lowered to fit the open-file limit (see `_target_limit`).
TARGET_CONCURRENCY = 256
#: How many targets whose user runs a credential plugin (exec, auth-provider) are checked at once:
#: each may start a process (a cloud CLI) that costs CPU and memory, so these stay few.
PLUGIN_TARGET_CONCURRENCY = 8
#: Sockets one target may hold at a time (its connections, the DNS queries, the evidence handshakes).
_FDS_PER_TARGET = 8


@dataclass(frozen=True)
class OutputOptions:
    """How the report is shown and written."""

    format: str | None = None  # None: rich on a TTY, text otherwise
    report_file: str | None = None
    fail_on: str = "fail"
    width: int | None = None
    verbose: bool = False


@dataclass
class RunOutcome:
    """The report of a run, its exit code, and the tracebacks --debug shows."""

    report: Report
    tracebacks: dict[str, str]


def choose_format(requested: str | None, stdout: TextIO, env: dict[str, str] | None = None) -> str:
    if requested:
        return requested
    no_color = bool((env or {}).get("NO_COLOR"))
    isatty = getattr(stdout, "isatty", lambda: False)
    return "rich" if isatty() and not no_color else "text"


def plan_targets(options: Options, environment: Environment) -> list[Target]:
    return _plan(options, environment)[0]


def _plan(options: Options, environment: Environment) -> tuple[list[Target], set[str]]:
    """The targets, and the names of the contexts whose user runs a credential plugin."""
    if detect(options, environment):
        return [Target(Mode.IN_CLUSTER)], set()
    if options.all_contexts:
        loaded = load_kubeconfig(options, environment)
        PRELOADED.set((options, environment, loaded))  # seen by the targets' tasks, made after this
        names = loaded.context_names
        if names:
            plugins = set()
            for name in names:
                user = select_context(loaded, name).user
                if user is not None and (user.exec is not None or user.auth_provider):
                    plugins.add(name)
            return [Target(Mode.KUBECONFIG, name) for name in names], plugins
    return [Target(Mode.KUBECONFIG, options.context)], set()


def _target_limit() -> int:
    """TARGET_CONCURRENCY, or fewer when the open-file limit could not hold that many targets."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return PLUGIN_TARGET_CONCURRENCY
    if soft == resource.RLIM_INFINITY:
        return TARGET_CONCURRENCY
    return max(PLUGIN_TARGET_CONCURRENCY, min(TARGET_CONCURRENCY, (soft - 64) // _FDS_PER_TARGET))


async def collect(
    options: Options,
    environment: Environment,
    checks: Sequence[RegisteredCheck],
    *,
    registry_errors: dict[str, str] | None = None,
    observer: RunObserver | None = None,
) -> RunOutcome:
    """Run every target and build the (scrubbed) report. Never raises for findings."""

    # A hung system-resolver lookup must not hold the process after the verdict (see threads.py).
    asyncio.get_running_loop().set_default_executor(DaemonExecutor())
    started_at = environment.now()
    started = time.perf_counter()
    targets, plugin_contexts = _plan(options, environment)
    limit = asyncio.Semaphore(_target_limit())
    plugin_limit = asyncio.Semaphore(PLUGIN_TARGET_CONCURRENCY)
    secrets = SecretRegistry()

    async def one(target: Target) -> tuple[TargetReport, dict[str, str]]:
        if target.context in plugin_contexts:
            async with plugin_limit:
                return await checked(target)
        return await checked(target)

    async def checked(target: Target) -> tuple[TargetReport, dict[str, str]]:
        async with limit:
            ctx = Context(options=options, environment=environment, target=target, secrets=secrets)
            label = target.context or ("in-cluster" if target.mode is Mode.IN_CLUSTER else "current context")
            run = await run_target(
                ctx, checks, observer=observer, label=label, show_not_applicable=bool(options.selected)
            )
            identity = ctx.identity
            report = TargetReport(
                context=identity.get("context", target.context),
                cluster=identity.get("cluster"),
                user=identity.get("user"),
                server=identity.get("server"),
                mode=target.mode.value,
                results=run.results,
                config=identity.get("config", {}),
            )
            prefix = f"{label}/" if len(targets) > 1 else ""
            return report, {prefix + k: v for k, v in run.tracebacks.items()}

    done = await asyncio.gather(*(one(t) for t in targets))
    tracebacks = {k: secrets.scrub(v) for _, tb in done for k, v in tb.items()}
    graph = {c.id: c.depends_on for c in checks}
    report = Report(
        kdoctor_version=__version__,
        started_at=iso_utc(started_at),
        duration_ms=(time.perf_counter() - started) * 1000,
        targets=[with_root_cause(scrub_target(t, secrets), graph) for t, _ in done],
        plugin_errors=dict(registry_errors or {}),
    )
    return RunOutcome(report=report, tracebacks=tracebacks)


def scrub_target(target: TargetReport, secrets: SecretRegistry) -> TargetReport:
    """The last line of defence: every known secret value removed from every string of a target."""
    results = [
        replace(
            r,
            summary=secrets.scrub(r.summary),
            hint=secrets.scrub(r.hint),
            details=secrets.scrub_data(dict(r.details)),
        )
        for r in target.results
    ]
    return replace(
        target,
        # The header too: a server URL may carry user:password (Go sends it as basic auth).
        context=_scrub_optional(target.context, secrets),
        cluster=_scrub_optional(target.cluster, secrets),
        user=_scrub_optional(target.user, secrets),
        server=_scrub_optional(target.server, secrets),
        results=results,
        config=secrets.scrub_data(dict(target.config)),
    )


def _scrub_optional(text: str | None, secrets: SecretRegistry) -> str | None:
    return None if text is None else secrets.scrub(text)


def with_root_cause(target: TargetReport, depends_on: Mapping[str, Sequence[str]]) -> TargetReport:
    """`target` with its root cause, and skip reasons that name it rather than a skipped neighbour."""
    results = retarget_skips(target.results, depends_on, lambda r, text: replace(r, summary=text))
    return replace(target, results=results, depends_on=dict(depends_on))


def run_command(
    options: Options,
    output: OutputOptions,
    *,
    environment: Environment | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    registry: Registry | None = None,
) -> int:
    """`kdoctor run`: returns the process exit code."""
    environment = environment or Environment.from_os()
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    # Importing a family costs start-up time: with --check, only the families named are loaded.
    try:
        registry = registry or load_registry(only=options.selected)
    except DependencyError as exc:
        print(f"error: the built-in checks cannot run: {exc}", file=stderr)
        return ExitCode.USAGE
    try:
        checks = select(registry, options.selected, options.skipped)
    except ValueError as exc:
        with contextlib.suppress(DependencyError):
            registry = load_registry()  # the message lists every valid id, not just the loaded families
        close = closest_ids(registry, exc.args[0])
        guess = f" Did you mean {' or '.join(close)}?" if close else ""
        print(
            f"error: unknown check id or family {exc.args[0]!r}.{guess}\n"
            f"Valid families: {', '.join(registry.families())}\nValid ids: {', '.join(registry.ids)}",
            file=stderr,
        )
        return ExitCode.USAGE
    if not checks and (options.selected or options.skipped):
        named = [*(f"--check {n}" for n in options.selected), *(f"--skip {n}" for n in options.skipped)]
        print(f"error: {' '.join(named)} leaves no check to run.", file=stderr)
        return ExitCode.USAGE
    fmt = choose_format(output.format, stdout, dict(environment.env))
    observer = _observer(fmt, stdout, _reporting_total(options, environment, checks))
    try:
        with observer:
            outcome = asyncio.run(
                collect(options, environment, checks, registry_errors=registry.errors, observer=observer)
            )
    except Exception as exc:  # a bug outside any check: still no traceback unless asked for
        # The message itself may quote a credential; the name of the error is enough without --debug.
        print(f"kdoctor: internal error ({type(exc).__name__}); --debug shows the traceback", file=stderr)
        if options.debug:
            # lazy: needed only for an internal error under --debug
            import traceback

            traceback.print_exc(file=stderr)
        return ExitCode.INTERNAL
    report = outcome.report
    # lazy: the renderers (and Rich) load only once there is a report to show
    from kdoctor.render import render

    code = ExitCode.OK
    if output.report_file:
        try:
            with open(output.report_file, "w", encoding="utf-8") as fh:
                render(report, "json", fh)
        except OSError as exc:
            print(f"error: cannot write the report to {output.report_file}: {exc.strerror}", file=stderr)
            code = ExitCode.USAGE
    render(report, fmt, stdout, width=output.width, verbose=output.verbose)
    for name, error in registry.errors.items():
        print(f"warning: check plugin {name} failed to load and was left out: {error}", file=stderr)
    if options.debug:
        for check_id, text in outcome.tracebacks.items():
            print(f"--- traceback of {check_id} ---\n{text}", file=stderr)
    if code:
        return code
    statuses = [r.status for r in report.results]
    return exit_code_for(statuses, output.fail_on)


def _reporting_total(
    options: Options, environment: Environment, checks: Sequence[RegisteredCheck]
) -> int | None:
    """How many checks will report on the one target: those that apply to it (the spinner's total).

    None with --all-contexts: the number of targets is known only once the kubeconfig is read.
    """
    if options.all_contexts:
        return None
    targets = plan_targets(options, environment)
    if len(targets) != 1:
        return None
    ctx = Context(options=options, environment=environment, target=targets[0])
    return sum(1 for c in checks if _applies(c, ctx))


def _applies(entry: RegisteredCheck, ctx: Context) -> bool:
    try:
        return entry.check.applies(ctx) is None
    except Exception:
        return True  # the runner reports the crash as an `error`: it counts


def _observer(fmt: str, stdout: TextIO, total: int | None) -> NullObserver | LiveProgress:
    """The live spinner for a person at a terminal; nothing for pipes, files and CI logs."""
    if fmt != "rich" or not getattr(stdout, "isatty", lambda: False)():
        return NullObserver()
    from kdoctor.render.live import LiveProgress

    return LiveProgress(stream=stdout, total=total)
