"""`python tests/fuzz/rsswrap.py OUT -m kdoctor ARGS`: run kdoctor, then write its peak RSS (KiB) to OUT.

The rusage of a child counts the memory of the process that forked it (Linux carries the
parent's high-water mark across fork and exec), so a fuzz harness that is itself large would see
its own size. VmHWM in /proc/self/status belongs to this process's address space only.
"""

import atexit
import os
import runpy
import sys


def _write_peak(path: str) -> None:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                with open(path, "w", encoding="ascii") as out:
                    out.write(line.split()[1])


out = sys.argv[1]
atexit.register(_write_peak, out)
# kdoctor ends with os._exit once its output is flushed (no atexit handlers then): record first.
_real_exit = os._exit


def _exit_after_recording(status: int) -> None:
    _write_peak(out)
    _real_exit(status)


os._exit = _exit_after_recording  # type: ignore[assignment]
sys.argv = ["kdoctor", *sys.argv[4:]]
runpy.run_module("kdoctor", run_name="__main__", alter_sys=True)
