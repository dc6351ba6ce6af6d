"""Job durations as Prometheus-style histogram counters, shared across worker processes.

Kept in Redis (hash per job name) when Redis is configured, else in this process's memory.
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
    for b in BUCKETS:
        if seconds <= b:
            fields[f"le_{b}"] = 1.0
    if settings.embedded_jobs:
        with _lock:
            for f, v in fields.items():
                _local[name][f] += v
        return
    redis = get_redis(settings.redis_url)
    pipe = redis.pipeline()
    for f, v in fields.items():
        pipe.hincrbyfloat(_key(name), f, v)
    pipe.sadd("voucherflow:jobstats", name)
    pipe.execute()


def read_job_stats(settings: Settings | None = None) -> dict[str, dict[str, float]]:
    settings = settings or get_settings()
    if settings.embedded_jobs:
        with _lock:
            return {k: dict(v) for k, v in _local.items()}
    redis = get_redis(settings.redis_url)
    out = {}
    for raw in redis.smembers("voucherflow:jobstats"):
        name = raw.decode()
        out[name] = {k.decode(): float(v) for k, v in redis.hgetall(_key(name)).items()}
    return out
