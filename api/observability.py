"""Request ids, JSON logs and Prometheus metrics. Logs carry ids and codes, never customer data."""

import logging
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from storage.db import session_scope
from storage.jsonlog import request_id_var
from storage.models import Voucher
from storage.settings import Settings
from workers.jobstats import BUCKETS, read_job_stats
from workers.queues import queue_depths


class Metrics:
    def __init__(self, settings: Settings):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "voucherflow_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "voucherflow_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(settings))


class _StateCollector:
    """Read at scrape time: vouchers by status, queue depths, job durations (all processes)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def collect(self):  # noqa: ANN201 - prometheus collector protocol
        by_status = GaugeMetricFamily(
            "voucherflow_vouchers", "Vouchers by status", labels=["status"]
        )
        with session_scope(self.settings.effective_database_url) as session:
            rows = session.execute(select(Voucher.status, func.count()).group_by(Voucher.status))
            for status, count in rows:
                by_status.add_metric([status], count)
        yield by_status
        depth = GaugeMetricFamily("voucherflow_queue_depth", "Jobs waiting", labels=["queue"])
        for name, count in queue_depths(self.settings).items():
            depth.add_metric([name], count)
        yield depth
        hist = HistogramMetricFamily(
            "voucherflow_job_duration_seconds", "Job durations", labels=["job"]
        )
        for name, stats in read_job_stats(self.settings).items():
            buckets = [(str(b), stats.get(f"le_{b}", 0.0)) for b in BUCKETS]
            buckets.append(("+Inf", stats.get("count", 0.0)))
            hist.add_metric([name], buckets, sum_value=stats.get("sum", 0.0))
        yield hist


class RequestContextMiddleware:
    """Request id (X-Request-ID), one JSON log line and the metrics of every HTTP request.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which runs each request's app in a
    task of its own with memory streams between them: measurable on every request.
    """

    def __init__(self, app, metrics: Metrics):  # noqa: ANN001
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("voucherflow.http")

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = (
            next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
            or uuid.uuid4().hex
        )
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(elapsed)
            self.log.info(
                "request",
                extra={
                    "method": method,
                    "route": path,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                    "user_id": (scope.get("state") or {}).get("user_id"),
                },
            )
            request_id_var.reset(token)
