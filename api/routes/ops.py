"""Health and metrics endpoints for operators and probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.db import session_scope
from workers.queues import get_redis

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    checks: dict[str, str] = {}
    warnings: list[str] = []
    try:
        with session_scope(settings.effective_database_url) as session:
            session.execute(text("SELECT 1"))
            warnings += database_warnings(session)
        checks["database"] = "ok"
    except Exception as exc:  # a probe reports, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.redis_url:
        try:
            get_redis(settings.redis_url).ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    else:
        checks["redis"] = "not configured (in-process jobs)"
    try:
        request.app.state.blobs.check()
        checks["blobs"] = "ok"
    except Exception as exc:
        checks["blobs"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" or v.startswith("not configured") for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks, "warnings": warnings},
        status_code=200 if healthy else 503,
    )


def database_warnings(session: Session) -> list[str]:
    """What an operator should fix that does not stop the service (the probe stays 200).

    PostgreSQL without autovacuum keeps the statistics of the day the tables were last
    analyzed: the keying path's prepared statements keep generic plans made on them, and a
    claim's eligibility check made while the exposures table was nearly empty scanned it in full
    for every task it looked at (11 ms per claim at 11,000 open tasks, docs/decisions.md)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    if session.execute(text("SHOW autovacuum")).scalar_one() != "on":
        return ["autovacuum is off: table statistics go stale and query plans with them"]
    return []


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
