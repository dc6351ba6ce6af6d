"""Shared fixtures on real services: a fresh PostgreSQL database, Redis db 15, moto's S3 server.

PostgreSQL and Redis must be running (.ci/run starts them); tests fail, never skip, without them.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.db import get_engine
from storage.migrate import upgrade_head
from storage.settings import get_settings
from tests.support import WorkerProcess, apply_env, free_port, reset_database

PG_ADMIN_URL = os.environ.get(
    "VOUCHERFLOW_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("VOUCHERFLOW_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"vf_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade_head(url)
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    from redis import Redis

    client = Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()


@pytest.fixture
def service_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str, redis_url: str, s3_endpoint: str
) -> dict[str, str]:
    """Production-like configuration: PostgreSQL, Redis/RQ and S3 (moto)."""
    reset_database(pg_url)
    env = {
        "database_url": pg_url,
        "redis_url": redis_url,
        "s3_endpoint": s3_endpoint,
        "s3_access_key": "testing",
        "s3_secret_key": "testing",
        "s3_bucket": f"vf-{uuid.uuid4().hex[:8]}",
        "data_dir": str(tmp_path / "var"),
        "worker_monitoring_interval_s": "1",
        "job_heartbeat_stale_s": "4",
    }
    apply_env(monkeypatch, env)
    yield env
    get_settings.cache_clear()


@pytest.fixture
def pg_inline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> dict[str, str]:
    """PostgreSQL with a local blob folder and jobs run synchronously in-process."""
    reset_database(pg_url)
    env = {
        "database_url": pg_url,
        "data_dir": str(tmp_path / "var"),
        "inline_jobs_sync": "true",
    }
    apply_env(monkeypatch, env)
    yield env
    get_settings.cache_clear()


@pytest.fixture
def client(request: pytest.FixtureRequest):  # noqa: ANN201
    """A TestClient on whichever environment fixture the test asked for first."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    env = "service_env" if "service_env" in request.fixturenames else "pg_inline_env"
    request.getfixturevalue(env)
    with TestClient(create_app(get_settings())) as c:
        yield c


@pytest.fixture
def start_worker(service_env: dict[str, str]):  # noqa: ANN201
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        w = WorkerProcess(service_env, args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
