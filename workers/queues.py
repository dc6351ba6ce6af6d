"""The only code that enqueues. Jobs are named by dotted path and take ids, never objects.

With a Redis URL jobs go to RQ queues; without one (embedded default) the same job functions
run in-process on a single background thread (or synchronously, for tests).
"""

import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus

from authorization.posting import register_posting_enqueuer
from entry.completion import register_completion_enqueuer
from storage.settings import Settings, get_settings
from verification.seal_checks import register_seal_enqueuer

log = logging.getLogger(__name__)

QUEUE_IMAGING = "imaging"
QUEUE_POSTING = "posting"
QUEUE_DEFAULT = "default"
ALL_QUEUES = (QUEUE_IMAGING, QUEUE_POSTING, QUEUE_DEFAULT)

IMAGING_JOB = "workers.tasks.process_voucher"
POSTING_JOB = "workers.posting.post_voucher_job"
RECONCILE_JOB = "workers.tasks.reconcile"
SEAL_CHECK_JOB = "workers.verification_tasks.check_seal"

LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


@lru_cache(maxsize=4)
def get_redis(url: str) -> Redis:
    return Redis.from_url(url)


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class InlineRunner:
    """Embedded mode: run jobs in this process, after the caller's commit, one at a time."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, path: str, args: tuple, *, sync: bool) -> None:
        if sync:
            _run_inline(path, args)
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vf-job")
        self._pool.submit(_run_inline, path, args)

    def drain(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool:
            pool.shutdown(wait=True)


def _run_inline(path: str, args: tuple) -> None:
    try:
        resolve(path)(*args)
    except Exception:  # the reconciler picks the voucher up again; never kill the runner
        log.exception("inline job failed", extra={"job": path})


inline_runner = InlineRunner()


def enqueue(
    queue: str,
    path: str,
    *args: Any,
    job_id: str | None = None,
    settings: Settings | None = None,
    retry: Retry | None = None,
) -> str | None:
    """Enqueue `path(*args)`; with a job_id, a job already queued or running is not doubled."""
    settings = settings or get_settings()
    if settings.embedded_jobs:
        inline_runner.submit(path, args, sync=settings.inline_jobs_sync)
        return None
    redis = get_redis(settings.redis_url)
    if job_id and job_is_live(redis, job_id):
        return job_id
    q = Queue(queue, connection=redis)
    job = q.enqueue(
        path,
        *args,
        job_id=job_id,
        job_timeout=settings.job_timeout_s,
        retry=retry,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    return job.id


def job_is_live(redis: Redis, job_id: str) -> bool:
    """Whether a job with this id is queued, running, deferred or scheduled: its status field
    alone (one HGET; Job.fetch read and decoded the whole job, on every approval)."""
    status = redis.hget(Job.key_for(job_id), "status")
    return status is not None and status.decode() in LIVE_STATUSES


def imaging_job_id(voucher_id: object) -> str:
    return f"imaging-{voucher_id}"


def enqueue_processing(voucher_id: object, *, settings: Settings | None = None) -> None:
    enqueue(
        QUEUE_IMAGING,
        IMAGING_JOB,
        str(voucher_id),
        job_id=imaging_job_id(voucher_id),
        settings=settings,
        retry=Retry(max=2, interval=[5, 30]),
    )


def posting_job_id(voucher_id: object) -> str:
    return f"posting-{voucher_id}"


def enqueue_posting(voucher_id: object, *, settings: Settings | None = None) -> None:
    """Post one approved voucher; retries ask the core first (the outcome may be unknown)."""
    enqueue(
        QUEUE_POSTING,
        POSTING_JOB,
        str(voucher_id),
        job_id=posting_job_id(voucher_id),
        settings=settings,
        retry=Retry(max=5, interval=[1, 2, 5, 15, 60]),
    )


# Authorization writes outbox rows but may not import workers: it calls this after the commit.
register_posting_enqueuer(enqueue_posting)


def enqueue_verification(voucher_id: object, *, settings: Settings | None = None) -> None:
    """Score the voucher's seal (a pending SealCheck); the job routes the voucher afterwards."""
    enqueue(
        QUEUE_IMAGING,
        SEAL_CHECK_JOB,
        str(voucher_id),
        job_id=f"seal-{voucher_id}",
        settings=settings,
        retry=Retry(max=2, interval=[5, 30]),
    )


# Verification requests seal checks but may not import workers: it calls this after the commit.
register_seal_enqueuer(enqueue_verification)

COMPLETION_JOB = "workers.entry_jobs.complete_entry"


def enqueue_completion(voucher_id: object, *, settings: Settings | None = None) -> None:
    """Finish entry of a voucher whose last field settled (cross checks, verification, routing)."""
    enqueue(
        QUEUE_DEFAULT,
        COMPLETION_JOB,
        str(voucher_id),
        job_id=f"complete-{voucher_id}",
        settings=settings,
        retry=Retry(max=3, interval=[1, 5, 30]),
    )


# A keyer's submission hands the completion over after its commit: entry registers nothing here.
register_completion_enqueuer(enqueue_completion)


def queue_depths(settings: Settings | None = None) -> dict[str, int]:
    settings = settings or get_settings()
    if settings.embedded_jobs:
        return {}
    redis = get_redis(settings.redis_url)
    return {name: Queue(name, connection=redis).count for name in ALL_QUEUES}
