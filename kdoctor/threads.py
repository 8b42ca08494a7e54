"""Blocking work off the event loop without ever holding the process at exit."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DaemonExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each call in a daemon thread of its own; shutdown() never waits.

    The loop's default executor runs blocking calls that cannot be cancelled: the getaddrinfo
    behind every connection by host name (asyncio, httpx and anyio all use it), file reads.
    A lookup the system resolver never answers lasts resolv.conf's timeout x attempts (10 s by
    default, 30 s and more in corporate set-ups); with a ThreadPoolExecutor, asyncio.run joins it
    and Python joins its threads at exit, so --timeout would give the verdict and the process
    would still wait. Abandoned daemon threads are simply dropped at exit.

    A ThreadPoolExecutor by type only (asyncio accepts nothing else as the default executor): its
    pool of joined worker threads is never started.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)

        threading.Thread(target=run, name="kdoctor-blocking-call", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None
