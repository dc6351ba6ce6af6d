"""The RQ worker process: preload heavy libraries once, then fork a work-horse per job.

Imaging jobs always get a work-horse of their own: a hostile image that crashes or bloats the
process takes the work-horse with it, not the worker. Posting jobs read no untrusted input; a
worker serving only the posting (and default) queues may run them in its own process
(`--no-fork`), keeping its database pool and its HTTP connection to the core open across jobs
instead of paying a fork, a connection and a client per posting.
"""

import logging

from redis import Redis
from rq import Queue, SimpleWorker, Worker

from storage.settings import get_settings
from workers.queues import ALL_QUEUES, QUEUE_IMAGING

log = logging.getLogger(__name__)


def preload() -> None:
    """Import OpenCV, the OCR engines and the pipeline before forking (copy-on-write)."""
    import importlib

    for module in ("cv2", "numpy", "workers.tasks", "workers.pipeline", "imaging.ocr"):
        try:
            importlib.import_module(module)
        except ImportError:
            log.warning("preload skipped", extra={"module": module})
    try:
        from imaging.ocr import preload_engines  # type: ignore[attr-defined]

        preload_engines()
    except (ImportError, AttributeError):
        pass


def worker_class(queue_names: list[str], *, fork: bool) -> type[Worker]:
    """Worker (a forked work-horse per job) or, without fork, SimpleWorker; never for imaging."""
    if fork:
        return Worker
    if QUEUE_IMAGING in queue_names:
        raise SystemExit(
            "--no-fork is for the posting and default queues: imaging jobs read untrusted images "
            "and run in a work-horse process of their own"
        )
    return SimpleWorker


def run_worker(
    queue_names: list[str] | None = None, *, burst: bool = False, fork: bool = True
) -> None:
    import os

    from storage.jsonlog import configure_logging

    settings = get_settings()
    if not settings.redis_url:
        raise SystemExit("VOUCHERFLOW_REDIS_URL is not set: embedded mode runs jobs in-process")
    names = list(queue_names or ALL_QUEUES)
    cls = worker_class(names, fork=fork)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    configure_logging(settings.log_level)
    if QUEUE_IMAGING in names:
        preload()
    connection = Redis.from_url(settings.redis_url)
    queues = [Queue(name, connection=connection) for name in names]
    cls(
        queues,
        connection=connection,
        job_monitoring_interval=settings.worker_monitoring_interval_s,
    ).work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
