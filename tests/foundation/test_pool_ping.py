"""Pooled PostgreSQL connections are pinged only after sitting idle (storage.db._ping_if_idle):
a connection handed back moments ago goes out as it is; an idle one that the server dropped is
replaced before the caller sees it; one dropped within the idle window fails one statement,
and the pool then replaces it."""

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from storage import db
from storage.db import get_engine


@pytest.fixture
def engine(pg_url: str) -> Engine:
    engine = get_engine(pg_url)
    engine.dispose()  # start from an empty pool
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_conn) -> bool:  # noqa: ANN001
        calls.append(1)
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return calls


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(engine: Engine, pid: int) -> None:
    """The server drops connection `pid` and waits until it is gone (asked on a connection of
    its own, not the pool's)."""
    admin = create_engine(engine.url, poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    admin.dispose()


def test_a_connection_back_moments_ago_is_not_pinged(engine: Engine, pings: list[int]) -> None:
    first = backend_pid(engine)
    assert pings == [1]  # a new connection is pinged once
    assert backend_pid(engine) == first  # LIFO: the same connection, handed out again
    assert pings == [1]


def test_an_idle_connection_the_server_dropped_is_replaced_unseen(
    engine: Engine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
    terminate(engine, pid)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every connection counts as idle
    assert backend_pid(engine) != pid  # the ping found it gone; the pool connected afresh
    assert len(pings) >= 2


def test_a_connection_dropped_within_the_window_fails_once_then_is_replaced(
    engine: Engine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    with engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
    terminate(engine, pid)
    with pytest.raises(DBAPIError) as failed, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    assert backend_pid(engine) != pid
