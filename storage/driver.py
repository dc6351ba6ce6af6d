"""Hot-path statements run on the driver: SQLAlchemy builds and compiles each one once, psycopg
runs it on the session's own connection (same transaction) and answers plain tuples.

Why: what a statement costs the API process in client CPU, in-process, for the claim's search
with its commit (`python -m bench.entry_statement`): through the ORM, loading a Voucher entity,
about 0.43 ms; through SQLAlchemy Core on the session's connection 0.30 ms; on the driver
0.16-0.21 ms. Half of an API process's CPU under bench.entry was SQLAlchemy and psycopg.

What is kept of SQLAlchemy: the statement itself (Core constructs, compiled for the engine's
dialect at first use; a statement needing rendering at execution time, an "expanding" IN, is
refused), the session's connection and transaction, the pool. `before_cursor_execute` and
`after_cursor_execute` listeners still see each statement (the benchmarks count statements
there). A driver error is raised as SQLAlchemy's DBAPIError, as SQLAlchemy would raise it, and
a connection the driver reports lost is invalidated, so that the pool does not hand it out again.

What the caller gives up: ORM entities (rows are tuples, the caller names the columns) and
SQLAlchemy's type processing beyond JSON. A parameter bound as JSON is wrapped in psycopg's
`Json` here, as SQLAlchemy's psycopg dialect does; every other parameter must be a value psycopg
adapts as the column needs. Results are psycopg's own (uuid.UUID, aware datetimes, parsed
JSON), which is what SQLAlchemy's PostgreSQL types answer too.
"""

from collections.abc import Mapping
from dataclasses import make_dataclass
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import JSON, Connection, exc, inspect
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Executable


class DriverStatement:
    """A statement compiled once for the dialect. psycopg prepares it on a connection from its
    fifth execution there, as it does SQLAlchemy's statements."""

    __slots__ = ("_fixed", "_json", "_sql", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._sql: str | None = None
        self._fixed: dict[str, Any] = {}
        self._json: tuple[str, ...] = ()

    def sql(self, conn: Connection) -> str:
        if self._sql is None:
            compiled = self.statement.compile(dialect=conn.dialect)
            text = str(compiled)
            if "POSTCOMPILE" in text or compiled.literal_execute_params:
                raise ValueError("a driver statement cannot hold an expanding parameter")
            # Values the statement binds itself (`.values(status="leased")`): sent with the
            # caller's parameters at every execution, as SQLAlchemy does.
            self._fixed = {
                name: bind.effective_value
                for name, bind in compiled.binds.items()
                if not bind.required and bind.callable is None
            }
            self._json = tuple(
                name for name, bind in compiled.binds.items() if isinstance(bind.type, JSON)
            )
            self._sql = text
        return self._sql

    def params(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        params = {**self._fixed, **given} if self._fixed or self._json else given
        for name in self._json:
            if params.get(name) is not None:
                params[name] = Json(params[name])
        return params


def fetch_all(session: Session, statement: DriverStatement, params: Mapping[str, Any]) -> list:
    """Run the statement on the session's connection; its rows as tuples."""
    return _run(session.connection(), statement, params, many=True)


def fetch_one(session: Session, statement: DriverStatement, params: Mapping[str, Any]) -> Any:
    """Run the statement on the session's connection; its first row as a tuple, or None."""
    return _run(session.connection(), statement, params, many=False)


def _run(conn: Connection, statement: DriverStatement, params: Mapping[str, Any], *, many: bool):  # noqa: ANN202
    sql = statement.sql(conn)
    params = statement.params(params)
    cursor = _cursor(conn)
    try:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, False)
        cursor.execute(sql, params)
        conn.dispatch.after_cursor_execute(conn, cursor, sql, params, None, False)
        return cursor.fetchall() if many else cursor.fetchone()
    except psycopg.Error as error:
        raise _translated(conn, error, sql, params) from error


_CURSOR = "voucherflow_driver_cursor"


def _cursor(conn: Connection) -> psycopg.Cursor:
    """The connection's one cursor for driver statements, kept with the pooled DBAPI connection
    (its `info` lives as long as that connection and is cleared when it is replaced): a new
    cursor per statement cost a fifth of a short statement's client time (it copies the
    connection's adapters and looks every column's loader up again)."""
    info = conn.connection.info
    cursor = info.get(_CURSOR)
    if cursor is None or cursor.closed:
        cursor = info[_CURSOR] = conn.connection.driver_connection.cursor()
    return cursor


def _translated(
    conn: Connection, error: psycopg.Error, sql: str, params: Mapping[str, Any]
) -> exc.DBAPIError:
    """SQLAlchemy's exception for a driver error; the connection invalidated if it is lost."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(error)
    return exc.DBAPIError.instance(
        sql,
        dict(params),
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )


def keep_in_step(obj: object, name: str, value: Any) -> None:
    """Set what a statement just wrote on the object that stands for the row: as the ORM's
    committed value on an entity (no UPDATE follows), as a plain attribute on a row read on
    the driver."""
    if hasattr(obj, "_sa_instance_state"):
        set_committed_value(obj, name, value)
    else:
        setattr(obj, name, value)


def entity_columns(entity: type) -> tuple[InstrumentedAttribute, ...]:
    """Every column attribute of a mapped class, in the mapper's order."""
    return tuple(getattr(entity, attr.key) for attr in inspect(entity).column_attrs)


def plain_row(name: str, columns: tuple[InstrumentedAttribute, ...]) -> type:
    """A class with one slot per column, under the entity's attribute names, built from a row's
    values in that order: what code written for the entity reads of it, and what a statement
    that wrote the row keeps in step (keep_in_step). Compared and hashed by identity, as
    entities are (a settlement keys its outcomes by key object)."""
    return make_dataclass(name, [(c.key, Any) for c in columns], slots=True, eq=False)
