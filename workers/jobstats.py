"""Job durations as Prometheus-style histogram counters, shared across worker processes.

Kept in Redis (hash per job name) when Redis is configured, else in this process's memory.
Each job adds to one bucket (the smallest that holds its duration), its count and its sum:
three increments, not one per bucket; read_job_stats gives the cumulative `le_` counts.
"""

import threading
from collections import defaultdict

from storage.settings import Settings, get_settings
from workers.queues import get_redis

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_local: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
_lock = threading.Lock()


def _key(name: str) -> str:
    return f"voucherflow:jobstats:{name}"


def record_job_duration(name: str, seconds: float, *, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    fields = {"count": 1.0, "sum": seconds}
    bucket = next((b for b in BUCKETS if seconds <= b), None)
    if bucket is not None:
        fields[f"in_{bucket}"] = 1.0
    if settings.embedded_jobs:
        with _lock:
            for f, v in fields.items():
                _local[name][f] += v
        return
    redis = get_redis(settings.redis_url)
    pipe = redis.pipeline(transaction=False)  # counters: no MULTI/EXEC needed
    for f, v in fields.items():
        pipe.hincrbyfloat(_key(name), f, v)
    pipe.sadd("voucherflow:jobstats", name)
    pipe.execute()


def read_job_stats(settings: Settings | None = None) -> dict[str, dict[str, float]]:
    settings = settings or get_settings()
    if settings.embedded_jobs:
        with _lock:
            raw = {k: dict(v) for k, v in _local.items()}
    else:
        redis = get_redis(settings.redis_url)
        raw = {}
        for name in redis.smembers("voucherflow:jobstats"):
            stored = redis.hgetall(_key(name.decode()))
            raw[name.decode()] = {k.decode(): float(v) for k, v in stored.items()}
    return {name: _cumulative(stats) for name, stats in raw.items()}


def _cumulative(stats: dict[str, float]) -> dict[str, float]:
    """count, sum and `le_<bucket>`: the jobs that took at most that long."""
    out = {"count": stats.get("count", 0.0), "sum": stats.get("sum", 0.0)}
    running = 0.0
    for b in BUCKETS:
        running += stats.get(f"in_{b}", 0.0)
        out[f"le_{b}"] = running
    return out
