"""Exit codes, mapped from a report in exactly one place."""

from __future__ import annotations

import enum

from kdoctor.core import Status


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1  # something reached --fail-on
    USAGE = 2  # bad flag, unknown check id
    INTERNAL = 3  # some check ended in status `error`


def exit_code_for(statuses: list[Status], fail_on: str) -> ExitCode:
    """3 when any check errored, else 1 when something reached `fail_on` (fail|warn), else 0."""
    if Status.ERROR in statuses:
        return ExitCode.INTERNAL
    threshold = {Status.FAIL} if fail_on == "fail" else {Status.FAIL, Status.WARN}
    if any(s in threshold for s in statuses):
        return ExitCode.FINDINGS
    return ExitCode.OK
