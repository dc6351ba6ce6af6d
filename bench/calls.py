"""Counting function calls: a cost figure that does not drift with the machine's speed.

CPU time on a shared machine varies by tens of percent from one minute to the next; the number
of Python and C function calls a request makes does not. Install before any thread that should
be counted starts (threading.setprofile reaches only threads started afterwards).
"""

import sys
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_of(filename: str) -> str:
    """The package a code object belongs to: site-packages/<name>/..., else the project's."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith(str(ROOT)):
        return "voucherflow:" + filename[len(str(ROOT)) + 1 :].split("/", 1)[0]
    return "stdlib"


class CallCounter:
    def __init__(self) -> None:
        self.calls = 0
        self.by_package: Counter = Counter()

    def _tally(self, frame, event_name, _arg) -> None:  # noqa: ANN001
        if event_name in ("call", "c_call"):
            self.calls += 1
            self.by_package[package_of(frame.f_code.co_filename)] += 1

    def install(self) -> "CallCounter":
        threading.setprofile(self._tally)
        sys.setprofile(self._tally)
        return self

    def reset(self) -> None:
        self.calls = 0
        self.by_package.clear()

    def remove(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)

    def summary(self, n: int) -> str:
        top = ", ".join(f"{k} {v / n:.0f}" for k, v in self.by_package.most_common(8))
        return f"{self.calls / n:.0f} function calls (all threads; by package: {top})"
