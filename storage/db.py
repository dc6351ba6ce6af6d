"""Engine and session factory. One engine per process; sessions are opened per use case."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

# A pooled connection checked in less than this long ago is handed out without a ping.
PING_AFTER_IDLE_S = 2.0
_CHECKED_IN = "voucherflow_checked_in"


def _note_checkin(_dbapi_conn: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(engine: Engine):  # noqa: ANN202
    """SQLAlchemy's pool_pre_ping, for connections that sat idle: pool_pre_ping pings at every
    checkout, a round trip to PostgreSQL before each API request's first statement (1.2 per
    key under bench.entry). A connection handed back less than PING_AFTER_IDLE_S ago was
    working then; one idle longer (the server restarted, a firewall dropped it, it timed out)
    is pinged, and if it is gone the pool replaces it (DisconnectionError), as with
    pool_pre_ping. What this gives up: a server that dies within those seconds fails the next
    statement on each such connection instead of being caught by the ping; SQLAlchemy then
    invalidates that connection and every older one of the pool, and the request gets an
    error (it wrote nothing), as a request in flight when the server went away does."""
    dialect = engine.dialect

    def ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                raise exc.DisconnectionError() from error
            raise

    return ping


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=20, max_overflow=30, pool_use_lifo=True)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle(engine))
    return engine


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


class RequestSession(Session):
    """A session that keeps the pooled connection it first used until it is closed, across its
    transactions. A keyer's submission commits the key, then claims the next task in a second
    transaction: a plain session checks a connection out of the pool for each, and a checkout
    may ping the server (_ping_if_idle), one round trip more per transaction. Meant for
    short-lived sessions (one per API request): an idle one would keep its connection.

    `get_bind()` answers the held connection, which has the engine's dialect; what is cached per
    database keys by `.engine`, the same for an engine and its connections."""

    _held: Connection | None = None

    def get_bind(self, mapper: Any = None, **kw: Any) -> Connection:  # type: ignore[override]
        held = self._held
        if kw.get("bind") is not None:
            return super().get_bind(mapper, **kw)
        if held is None or held.closed or held.invalidated:
            engine = super().get_bind(mapper, **kw)
            held = self._held = engine if isinstance(engine, Connection) else engine.connect()
        return held

    def close(self) -> None:
        try:
            super().close()
        finally:
            held, self._held = self._held, None
            if held is not None:
                held.close()


@lru_cache(maxsize=8)
def get_request_sessionmaker(url: str) -> sessionmaker[RequestSession]:
    """Sessions for API requests (RequestSession)."""
    return sessionmaker(bind=get_engine(url), class_=RequestSession, expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that rolls back on error; the caller commits explicitly."""
    session = get_sessionmaker(url)()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def end_unwritten(session: Session) -> None:
    """End a transaction that wrote nothing: a search that found no work, a claim that lost its
    race. It commits, which to the database is the same as a rollback (locks released, a new
    snapshot next), because psycopg 3 forgets every prepared statement of a connection when a
    ROLLBACK succeeds on it: it cannot tell what the transaction created or dropped, so it sends
    DEALLOCATE ALL and each statement is then parsed and planned afresh until it has run five
    more times. In bench.entry, claims that found nothing rolled back 366 times in 2,100 keys
    and a fifth of the hot statements ran unprepared (docs/decisions.md, "Hot paths").

    Objects the ORM would still write (new, changed or deleted ones) are rolled back as before:
    a commit must never be what makes them permanent."""
    if session.new or session.dirty or session.deleted:
        session.rollback()
    else:
        session.commit()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
