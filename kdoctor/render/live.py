"""A live spinner naming the checks still running; transient, so only the report stays on screen.

Importing this module does not import Rich: `LiveProgress` imports it when it starts, and
`NullProgress` never does.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from kdoctor.observer import NullObserver

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

    from kdoctor.report import CheckResult

__all__ = ["LiveProgress", "NullProgress"]

#: `NullProgress` is the do-nothing observer, under the name the CLI pairs with `LiveProgress`.
NullProgress = NullObserver

_MAX_NAMED = 4


class LiveProgress:
    """A `kdoctor.observer.RunObserver` that shows ``⠋ 7/19 done · running: tls.chain, auth.whoami``.

    Use it as a context manager around the run. Pass the Console to draw on, or a stream (a
    Console is made for it). On a stream that is not a terminal it shows nothing at all, and the
    spinner line is erased when the context exits.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        stream: TextIO | None = None,
        total: int | None = None,
        refresh_per_second: float = 12.5,
    ) -> None:
        self._console = console
        self._stream = stream
        self._total = total
        self._refresh = refresh_per_second
        # Observer calls come from the event loop while Rich redraws from its own thread.
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], None] = {}
        self._labels: set[str] = set()
        self._done = 0
        self._live: Live | None = None
        self._spinner: Any = None

    # -- the observer ------------------------------------------------------------------------

    def started(self, target_label: str, check_id: str) -> None:
        """Name `check_id` among the running checks."""
        with self._lock:
            self._running[(target_label, check_id)] = None
            self._labels.add(target_label)

    def finished(self, target_label: str, result: CheckResult) -> None:
        """Drop the check from the running ones and count it done."""
        with self._lock:
            self._running.pop((target_label, result.id), None)
            self._labels.add(target_label)
            self._done += 1

    # -- what is drawn -----------------------------------------------------------------------

    def status_line(self) -> str:
        """The text beside the spinner, e.g. ``3/19 done · running: tls.chain, dns.server +2``."""
        with self._lock:
            running = list(self._running)
            several = len(self._labels) > 1
            done = self._done
        names = [f"{check} ({label})" if several else check for label, check in running]
        shown = ", ".join(names[:_MAX_NAMED])
        if len(names) > _MAX_NAMED:
            shown += f" +{len(names) - _MAX_NAMED}"
        # A total that turned out too small (several targets) is dropped rather than shown wrong.
        known_total = self._total is not None and done <= self._total
        count = f"{done}/{self._total} done" if known_total else f"{done} done"
        if shown:
            return f"{count} · running: {shown}"
        return count if done else f"{count} · starting checks"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # lazy: only when the live display is drawn
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, overflow="ellipsis")
        grid.add_row(self._spinner, Text(self.status_line(), style="dim"))
        yield grid

    # -- the context manager -----------------------------------------------------------------

    def __enter__(self) -> LiveProgress:
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner
        from rich.text import Text

        console = self._console or Console(file=self._stream, highlight=False)
        if not console.is_terminal or console.is_dumb_terminal:
            return self
        # An empty Text, not Rich's default "" (a markup string): parsing it would import Rich's emoji
        # table (~2 ms) to draw nothing.
        self._spinner = Spinner("dots", text=Text(), style="cyan")
        self._live = Live(
            self,
            console=console,
            transient=True,
            refresh_per_second=self._refresh,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
