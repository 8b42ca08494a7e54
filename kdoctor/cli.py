"""The command line: parse flags, build Options, delegate. No diagnostics logic lives here."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from kdoctor import __version__
from kdoctor.context import DEFAULT_RESOLV_CONF, DEFAULT_SERVICEACCOUNT_DIR
from kdoctor.exit_codes import ExitCode
from kdoctor.fastpath import OUTPUT_FORMATS, default_to_run

if TYPE_CHECKING:
    from kdoctor.registry import Registry

app = typer.Typer(
    name="kdoctor",
    help="Why can't I (or this pod) talk to this Kubernetes cluster, and what do I do about it?",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # -h as well as --help, on every command (`kdoctor -h`, `kdoctor run -h`), like most CLIs.
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"kdoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """kdoctor walks the access path link by link, the way kubectl would use it."""


def _output_choice(value: str | None) -> str | None:
    if value is not None and value not in OUTPUT_FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(OUTPUT_FORMATS)}")
    return value


def _client_choice(value: str) -> str:
    if value not in ("kubectl", "python"):
        raise typer.BadParameter("must be kubectl or python")
    return value


def _fail_on_choice(value: str) -> str:
    if value not in ("fail", "warn"):
        raise typer.BadParameter("must be fail or warn")
    return value


@app.command()
def run(
    kubeconfig: Annotated[
        str | None, typer.Option(help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Context to check (default: current-context).")] = None,
    all_contexts: Annotated[
        bool, typer.Option("--all-contexts", help="Check every context of the kubeconfig.")
    ] = False,
    in_cluster: Annotated[
        bool | None,
        typer.Option("--in-cluster/--no-in-cluster", help="Check the in-pod path (default: auto-detect)."),
    ] = None,
    serviceaccount_dir: Annotated[
        str, typer.Option(help="Service-account directory in a pod.")
    ] = DEFAULT_SERVICEACCOUNT_DIR,
    resolv_conf: Annotated[
        str, typer.Option(help="resolv.conf for the in-pod DNS checks.")
    ] = DEFAULT_RESOLV_CONF,
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            callback=_output_choice,
            help="rich|text|json|junit|markdown (default: rich on a TTY, else text).",
        ),
    ] = None,
    report: Annotated[str | None, typer.Option(help="Also write the JSON report to FILE.")] = None,
    check: Annotated[
        list[str] | None, typer.Option("--check", help="Only these check ids or families (repeatable).")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", help="Leave out these check ids or families (repeatable).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=300, help="Seconds per network operation.")] = 5.0,
    fail_on: Annotated[
        str, typer.Option(callback=_fail_on_choice, help="Exit 1 on fail (default) or on warn too.")
    ] = "fail",
    client: Annotated[
        str,
        typer.Option(
            callback=_client_choice,
            help="Whose behaviour to judge: kubectl (default) or python (the official Python client and httpx).",
        ),
    ] = "kubectl",
    no_exec: Annotated[bool, typer.Option("--no-exec", help="Never run exec credential plugins.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Tracebacks of checks that ended in error, to stderr.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("-v", "--verbose", help="Every check in full (default: passing families on one line)."),
    ] = False,
) -> None:
    """Check the access path to the cluster and report every link (what bare `kdoctor` does)."""
    # lazy: `kdoctor --help` and `--version` import no engine (start-up time)
    from kdoctor.fastpath import execute

    code = execute(
        {
            "kubeconfig": kubeconfig,
            "context": context,
            "all_contexts": all_contexts,
            "in_cluster": in_cluster,
            "serviceaccount_dir": serviceaccount_dir,
            "resolv_conf": resolv_conf,
            "output": output,
            "report": report,
            "check": check,
            "skip": skip,
            "timeout": timeout,
            "fail_on": fail_on,
            "client": client,
            "no_exec": no_exec,
            "debug": debug,
            "verbose": verbose,
        }
    )
    raise typer.Exit(code)


def _registry() -> Registry:
    """Every check family; exit 2 when the built-in checks cannot run (a dependency cycle)."""
    # lazy: `kdoctor --help` and `--version` import no engine (start-up time)
    from kdoctor.registry import DependencyError, load_registry

    try:
        return load_registry()
    except DependencyError as exc:
        print(f"error: the built-in checks cannot run: {exc}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE) from None


@app.command("checks")
def list_checks() -> None:
    """List every check: id, title, depends_on, and the package it comes from."""
    registry = _registry()
    for entry in registry.checks:
        deps = ", ".join(entry.depends_on) or "-"
        opt = " (opt-in)" if entry.check.opt_in else ""
        print(f"{entry.id:<28} {entry.title}{opt}\n{'':<28} depends on: {deps}; from: {entry.origin}")
    for name, error in registry.errors.items():
        print(f"warning: check plugin {name} failed to load: {error}", file=sys.stderr)


@app.command()
def explain(
    check_id: Annotated[str, typer.Argument(metavar="ID", help="A check id, e.g. tls.chain.")],
) -> None:
    """What a check looks at, what each outcome means, how to fix it."""
    registry = _registry()
    entry = registry.get(check_id)
    if entry is None:
        from kdoctor.registry import closest_ids

        close = closest_ids(registry, check_id)
        guess = f" Did you mean {' or '.join(close)}?" if close else ""
        print(
            f"error: unknown check id {check_id!r}.{guess} `kdoctor checks` lists every id.", file=sys.stderr
        )
        raise typer.Exit(ExitCode.USAGE)
    deps = ", ".join(entry.depends_on) or "nothing"
    print(f"{entry.id}: {entry.title}\n(from {entry.origin}; depends on {deps})\n\n{entry.doc}")


@app.command()
def demo(
    scenario: Annotated[str, typer.Argument(help="Scenario to run (see --list).")] = "healthy",
    list_: Annotated[bool, typer.Option("--list", help="List the scenarios.")] = False,
    output: Annotated[
        str | None, typer.Option("-o", "--output", callback=_output_choice, help="Output format.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=60, help="Seconds per network operation.")] = 5.0,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Every check in full.")] = False,
) -> None:
    """Start the built-in demo cluster on loopback and run the doctor against it."""
    # lazy: `kdoctor --help` and `--version` import no engine (start-up time)
    from kdoctor import demo as demo_mod

    if list_:
        for name, description in demo_mod.list_scenarios():
            print(f"{name:<22} {description}")
        raise typer.Exit(0)
    names = [n for n, _ in demo_mod.list_scenarios()]
    if scenario not in names:
        print(f"error: unknown scenario {scenario!r}; one of: {', '.join(names)}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE)
    raise typer.Exit(
        demo_mod.run_demo(
            scenario, output=output, stdout=sys.stdout, stderr=sys.stderr, timeout=timeout, verbose=verbose
        )
    )


@app.command("proxy-url")
def proxy_url(
    service: Annotated[
        str,
        typer.Argument(metavar="[https:]NAME[:PORT]", help="The service, as the apiserver proxy names it."),
    ],
    namespace: Annotated[str, typer.Option("-n", "--namespace", help="The service's namespace.")] = "default",
    kubeconfig: Annotated[str | None, typer.Option(help="Kubeconfig file for the server URL.")] = None,
    context: Annotated[str | None, typer.Option(help="Context whose server to use.")] = None,
    server: Annotated[str | None, typer.Option(help="Server URL (instead of the kubeconfig's).")] = None,
) -> None:
    """Print the apiserver proxy URL of a service, as the Kubernetes page builds it."""
    # lazy: `kdoctor --help` and `--version` import no engine (start-up time)
    from kdoctor.proxyurl import proxy_url_command

    try:
        print(proxy_url_command(service, namespace, server, kubeconfig=kubeconfig, context=context))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE) from None


def main() -> None:
    """Run the Typer app (`kdoctor` and `kubectl-doctor`)."""
    prog = "kubectl doctor" if sys.argv[0].endswith("kubectl-doctor") else "kdoctor"
    app(args=default_to_run(sys.argv[1:]), prog_name=prog)
