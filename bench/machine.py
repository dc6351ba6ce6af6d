"""How fast this machine's CPU is right now, measured beside a benchmark.

The benchmarks run on shared machines whose speed drifts (a neighbour's load, the host's
clock): the same code has cost 13.6 and 41 ms of CPU per request on two days. A probe thread
times a fixed pure-Python loop once a second in its own thread CPU time (GIL waits excluded)
and reports the median, so CPU-per-operation figures of two runs can be compared as ratios to it.
"""

import statistics
import threading
import time

_LOOP = 200_000


def reference_loop_ms() -> float:
    """Thread CPU time of one fixed loop of integer, string and dict work, in ms."""
    t0 = time.thread_time()
    d: dict[int, str] = {}
    for i in range(_LOOP):
        d[i & 1023] = str(i)
    return (time.thread_time() - t0) * 1000


class CpuProbe:
    """Time the reference loop every `interval` seconds while the benchmark runs."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(reference_loop_ms())

    def __enter__(self) -> "CpuProbe":
        self.samples.append(reference_loop_ms())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def median_ms(self) -> float:
        return round(statistics.median(self.samples), 1)
