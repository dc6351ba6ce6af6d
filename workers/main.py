"""The RQ worker process: preload heavy libraries once, then fork a work-horse per job."""

import logging

from redis import Redis
from rq import Queue, Worker

from storage.settings import get_settings
from workers.queues import ALL_QUEUES

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


def run_worker(queue_names: list[str] | None = None, *, burst: bool = False) -> None:
    import os

    from storage.jsonlog import configure_logging

    settings = get_settings()
    if not settings.redis_url:
        raise SystemExit("VOUCHERFLOW_REDIS_URL is not set: embedded mode runs jobs in-process")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    configure_logging(settings.log_level)
    preload()
    connection = Redis.from_url(settings.redis_url)
    queues = [Queue(name, connection=connection) for name in (queue_names or ALL_QUEUES)]
    Worker(
        queues,
        connection=connection,
        job_monitoring_interval=settings.worker_monitoring_interval_s,
    ).work(burst=burst, with_scheduler=True)
