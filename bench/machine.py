"""How fast this machine's CPU is right now, measured beside a benchmark.

The benchmarks run on shared machines whose speed drifts (a neighbour's load, the host's
clock): the same code has cost 13.6 and 41 ms of CPU per request on two days. A probe process
times a fixed pure-Python loop every few seconds in its own CPU time and reports the median, so
CPU-per-operation figures of two runs can be compared as ratios to it. It is a process of its
own, not a thread: a thread would take the load generator's GIL and its CPU would be counted
as the load generator's.
"""

import gc
import statistics
import subprocess
import sys
import time

_LOOP = 100_000


def reference_loop_ms() -> float:
    """CPU time of one fixed loop of integer, string and dict work, in ms."""
    t0 = time.process_time()
    d: dict[int, str] = {}
    for i in range(_LOOP):
        d[i & 1023] = str(i)
    return (time.process_time() - t0) * 1000


class CpuProbe:
    """Time the reference loop every `interval` seconds, in a separate process, while the
    benchmark runs (about 1 % of one core)."""

    def __init__(self, interval: float = 2.0):
        self.interval = interval
        self.samples: list[float] = []
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "CpuProbe":
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.machine", str(self.interval)],
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.terminate()
        out, _ = self._proc.communicate(timeout=30)
        self.samples = [float(line) for line in out.split()]

    def median_ms(self) -> float | None:
        return round(statistics.median(self.samples), 1) if self.samples else None


def freeze_long_lived() -> None:
    """Move what a load generator built before its run (test data, ORM objects, modules) out
    of the collector's reach, as the API server does (api.server). A full collection over it
    held the GIL for 150 ms and delayed every response in flight: client time, not server."""
    gc.collect()
    gc.freeze()


class GcPauses:
    """The load generator's own garbage-collection pauses (ms) while it measures latency."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def _on_gc(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> "GcPauses":
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def longest_ms(self) -> float:
        return round(max(self.pauses, default=0.0), 1)


def main() -> None:
    """`python -m bench.machine SECONDS`: print the reference loop's ms every SECONDS."""
    interval = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    while True:
        print(round(reference_loop_ms(), 2), flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    main()
