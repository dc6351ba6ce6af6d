"""Engine and session factory. One engine per process; sessions are opened per use case."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


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
    return create_engine(url, pool_size=20, max_overflow=30, pool_pre_ping=True, pool_use_lifo=True)


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


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
