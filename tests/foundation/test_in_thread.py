"""api.in_thread: a hot endpoint's handler and its session live in one worker thread; the session
is closed there whatever the handler does (an error rolls back, the connection goes back to the
pool), and jobs its commits hand off run after the answer, never after a rollback."""

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.in_thread import in_thread
from storage.after_commit import JobHandoff
from storage.db import get_engine
from storage.migrate import upgrade_head


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'vf.db'}"
    upgrade_head(url)
    with get_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE probe (n INTEGER)"))
    return url


def build(url: str, enqueued: list[str]) -> tuple[FastAPI, dict[str, object]]:
    seen: dict[str, object] = {}
    handoff = JobHandoff("probe")
    handoff.register(enqueued.append)

    def handler(request: Request, session: Session, n: int, *, fail: bool) -> Response:
        seen["thread"] = threading.get_ident()
        seen["session"] = session
        session.execute(text("INSERT INTO probe (n) VALUES (:n)"), {"n": n})
        handoff.schedule(session, f"v{n}")
        if fail:
            raise RuntimeError("refused after a write")
        session.commit()
        seen["enqueued_at_answer"] = list(enqueued)
        return Response(content=str(n))

    app = FastAPI()
    app.state.settings = SimpleNamespace(effective_database_url=url)

    @app.post("/probe/{n}")
    async def probe(n: int, request: Request, fail: bool = False) -> Response:
        seen["loop_thread"] = threading.get_ident()
        return await in_thread(request, handler, n, fail=fail)

    return app, seen


def count(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(text("SELECT count(*) FROM probe")).scalar_one()


def test_handler_commits_in_a_worker_thread_and_jobs_follow_the_answer(url: str) -> None:
    enqueued: list[str] = []
    app, seen = build(url, enqueued)
    with TestClient(app) as client:
        answer = client.post("/probe/1")
    assert answer.status_code == 200 and answer.text == "1"
    assert seen["thread"] != seen["loop_thread"]
    assert seen["enqueued_at_answer"] == []  # committed, but not yet handed to the queue
    assert enqueued == ["v1"]  # handed over once the answer was out
    assert count(url) == 1
    assert not seen["session"].in_transaction()  # type: ignore[attr-defined]
    assert get_engine(url).pool.checkedout() == 0


def test_a_failing_handler_rolls_back_hands_nothing_over_and_returns_the_connection(
    url: str,
) -> None:
    enqueued: list[str] = []
    app, seen = build(url, enqueued)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/probe/2?fail=true")
    assert answer.status_code == 500
    assert count(url) == 0  # the write before the error is gone
    assert enqueued == []
    assert not seen["session"].in_transaction()  # type: ignore[attr-defined]
    assert get_engine(url).pool.checkedout() == 0
