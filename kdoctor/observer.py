"""The runner's observer protocol: how progress displays learn which checks start and finish.

The runner imports only this module, so running checks never pulls in Rich; the live spinner
(`kdoctor.render.live.LiveProgress`) implements the protocol on the rendering side.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kdoctor.report import CheckResult

__all__ = ["NullObserver", "RunObserver"]


@runtime_checkable
class RunObserver(Protocol):
    """Told by the runner when each check of each target starts and finishes.

    Calls arrive on the event loop's thread, in real time order; ``target_label`` is
    `TargetReport.label` of the target being checked.
    """

    def started(self, target_label: str, check_id: str) -> None:
        """A check began running (it is not called for checks skipped before they start)."""

    def finished(self, target_label: str, result: CheckResult) -> None:
        """A check produced its result (any status, skips included)."""


class NullObserver:
    """An observer that shows nothing; also a no-op context manager, like `LiveProgress`."""

    def started(self, target_label: str, check_id: str) -> None:
        """Ignore the start of a check."""

    def finished(self, target_label: str, result: CheckResult) -> None:
        """Ignore the end of a check."""

    def __enter__(self) -> NullObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
