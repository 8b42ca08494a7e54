"""Console-script entry point for `kdoctor` and `kubectl-doctor`, and `python -m kdoctor`."""

from __future__ import annotations

import sys


def main() -> None:
    # `--version` must stay fast: answer it before importing typer and everything behind it.
    if sys.argv[1:] == ["--version"]:
        from kdoctor import __version__

        print(f"kdoctor {__version__}")
        return
    from kdoctor.cli import main as cli_main

    try:
        cli_main()
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `kdoctor run | head`: the reader left; say nothing more, like other Unix tools.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
