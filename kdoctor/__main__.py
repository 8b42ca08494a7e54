"""Console-script entry point for `kdoctor` and `kubectl-doctor`, and `python -m kdoctor`."""

from __future__ import annotations

import gc
import os
import sys

#: A short-lived process allocates a few hundred thousand objects while importing ~300 modules and
#: frees almost none: the default gen-0 threshold (700) runs the collector hundreds of times for
#: nothing. Cycles still get collected, just in bigger batches.
_GC_THRESHOLD = (50_000, 50, 100)


def main() -> None:
    # `--version` must stay fast: answer it before importing typer and everything behind it.
    if sys.argv[1:] == ["--version"]:
        from kdoctor import __version__  # lazy: start-up time

        print(f"kdoctor {__version__}")
        _exit(0)
    gc.set_threshold(*_GC_THRESHOLD)
    code: object = 0
    try:
        code = _dispatch(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # `kdoctor run | head`: the reader left; say nothing more, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    _exit(code)


def _dispatch(argv: list[str]) -> object:
    """`run` with known flags goes straight to the engine; everything else through typer."""
    # lazy: start-up time (`--version` imports nothing more)
    from kdoctor.fastpath import default_to_run, execute, parse_run

    argv = default_to_run(argv)
    if argv[:1] == ["run"]:
        values = parse_run(argv[1:])
        if values is not None:
            _freeze_engine()
            return execute(values)
    from kdoctor.cli import main as cli_main  # lazy: typer and click, only off the fast path

    cli_main()
    return 0


def _freeze_engine() -> None:
    """Import the engine, then keep the collector off everything allocated so far.

    The modules, classes and functions of the engine (some 27,000 objects) live as long as the
    process; without this the first collection of a run walks them all (~15 ms of a 250 ms run)
    and finds nothing to free. Frozen objects are never collected; objects made later are, as before.
    """
    import kdoctor.app  # noqa: F401  (lazy: only a run needs the engine)

    gc.freeze()


def _exit(code: object) -> None:
    """Exit with `code` as sys.exit would, without the interpreter's teardown once output is flushed.

    Tearing down ~450 modules (and a last garbage collection over them) takes ~45 ms and has nothing
    left to do: every file the run wrote is closed by then, asyncio.run has joined its worker
    threads, and stdout/stderr are flushed here. If flushing fails (a closed pipe), the ordinary
    exit path runs, so the exit status and message stay what Python gives.
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.exit(str(code))  # a message: Python prints it and exits 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    os._exit(status & 0xFF)


if __name__ == "__main__":
    main()
