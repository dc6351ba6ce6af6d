"""Hand-offs after commit: run at the commit, or collected and run once the answer is sent;
dropped on rollback; a failing enqueue neither undoes the commit nor stops the others."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.after_commit import JobHandoff, defer_until_response, run_deferred
from storage.db import session_scope
from storage.migrate import upgrade_head


@pytest.fixture
def session(tmp_path: Path):  # noqa: ANN201
    url = f"sqlite:///{tmp_path / 'vf.db'}"
    upgrade_head(url)
    with session_scope(url) as s:
        yield s


def handoff(calls: list[str], fail: set[str] = frozenset()) -> JobHandoff:  # noqa: B006
    h = JobHandoff("test")

    def enqueue(vid: str) -> None:
        if vid in fail:
            raise ConnectionError("redis down")
        calls.append(vid)

    h.register(enqueue)
    return h


def test_runs_at_commit_and_drops_on_rollback(session: Session) -> None:
    calls: list[str] = []
    h = handoff(calls)
    session.execute(text("SELECT 1"))  # as in use: scheduled inside a transaction that wrote
    h.schedule(session, "v1")
    session.rollback()
    assert calls == []
    session.execute(text("SELECT 1"))
    h.schedule(session, "v2")
    session.commit()
    assert calls == ["v2"]


def test_deferred_until_the_answer_is_sent(session: Session) -> None:
    calls: list[str] = []
    h = handoff(calls, fail={"v1"})
    deferred = defer_until_response(session)
    session.execute(text("SELECT 1"))
    h.schedule(session, "v1")
    h.schedule(session, "v2")
    session.commit()
    assert calls == [] and len(deferred) == 2  # committed, not yet enqueued
    run_deferred(deferred)  # v1's failure is logged (the reconciler's), v2 still goes
    assert calls == ["v2"]
