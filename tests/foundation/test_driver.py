"""Statements run on the driver (storage.driver): in the session's own transaction, with the
values the statement binds itself, seen by SQLAlchemy's execute listeners, failing as SQLAlchemy
would (a driver error is a DBAPIError, a lost connection is invalidated and replaced), and
never with a parameter that would need rendering at execution time."""

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from storage.db import get_engine
from storage.driver import DriverStatement, fetch_all, fetch_one, keep_in_step, plain_row
from storage.models import User
from tests.foundation.test_pool_ping import terminate

_META = MetaData()
_THING = Table(
    "driver_test_thing",
    _META,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True, nullable=False),
    Column("state", String(10), nullable=False),
    Column("extra", JSON),
)
# The state is bound by the statement itself, not by the caller.
_ADD = DriverStatement(
    insert(_THING).values(name=bindparam("name"), state="new").returning(_THING.c.id)
)
_BY_NAME = DriverStatement(
    select(_THING.c.name, _THING.c.state).where(_THING.c.name == bindparam("name"))
)


@pytest.fixture
def engine(pg_url: str) -> Engine:
    engine = get_engine(pg_url)
    _META.create_all(engine)
    yield engine
    _META.drop_all(engine)
    engine.dispose()


def test_driver_statements_run_in_the_sessions_transaction(engine: Engine) -> None:
    with Session(engine) as session:
        (new_id,) = fetch_one(session, _ADD, {"name": "a"})
        assert isinstance(new_id, int)
        # The ORM session sees it: same connection, same transaction.
        assert session.execute(text("SELECT state FROM driver_test_thing")).scalar() == "new"
        assert fetch_all(session, _BY_NAME, {"name": "a"}) == [("a", "new")]
        assert fetch_one(session, _BY_NAME, {"name": "nobody"}) is None
        session.rollback()
        assert fetch_all(session, _BY_NAME, {"name": "a"}) == []  # rolled back with it


def test_a_json_parameter_is_sent_as_json(engine: Engine) -> None:
    add = DriverStatement(
        insert(_THING).values(name=bindparam("name"), state="new", extra=bindparam("extra"))
    )
    read = DriverStatement(select(_THING.c.extra).where(_THING.c.name == bindparam("name")))
    with Session(engine) as session:
        fetch_all(session, add, {"name": "j", "extra": {"金额": [1, 2]}})
        fetch_all(session, add, {"name": "n", "extra": None})
        assert fetch_one(session, read, {"name": "j"}) == ({"金额": [1, 2]},)
        assert fetch_one(session, read, {"name": "n"}) == (None,)  # SQL NULL, not JSON null
        session.rollback()


def test_execute_listeners_see_driver_statements_on_the_connections_one_cursor(
    engine: Engine,
) -> None:
    seen: list[tuple[str, object]] = []

    def note(_conn, cursor, statement, *_args) -> None:  # noqa: ANN001
        seen.append((statement, cursor))

    event.listen(engine, "before_cursor_execute", note)
    try:
        with Session(engine) as session:
            fetch_one(session, _BY_NAME, {"name": "a"})
            fetch_all(session, _BY_NAME, {"name": "b"})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    driver = [cursor for statement, cursor in seen if "driver_test_thing" in statement]
    assert len(driver) == 2 and driver[0] is driver[1]  # one cursor, kept with the connection


def test_a_driver_error_is_sqlalchemys_and_the_session_goes_on(engine: Engine) -> None:
    with Session(engine) as session:
        fetch_one(session, _ADD, {"name": "twice"})
        with pytest.raises(IntegrityError) as raised:
            fetch_one(session, _ADD, {"name": "twice"})
        assert not raised.value.connection_invalidated
        session.rollback()
        assert fetch_one(session, _ADD, {"name": "twice"}) is not None  # usable again
        session.rollback()


def test_a_lost_connection_is_invalidated_and_the_pool_replaces_it(engine: Engine) -> None:
    engine.dispose()
    with Session(engine) as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        session.commit()
        terminate(engine, pid)
        with pytest.raises(DBAPIError) as raised:
            fetch_one(session, _BY_NAME, {"name": "a"})
        assert raised.value.connection_invalidated
        session.rollback()
        # The next transaction gets a working connection, not the dead one.
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert fetch_one(session, _BY_NAME, {"name": "a"}) is None


def test_a_statement_needing_rendering_at_execution_is_refused(engine: Engine) -> None:
    expanding = DriverStatement(
        select(_THING.c.id).where(_THING.c.name.in_(bindparam("names", expanding=True)))
    )
    with Session(engine) as session, pytest.raises(ValueError, match="expanding"):
        fetch_all(session, expanding, {"names": ["a", "b"]})


def test_plain_rows_carry_the_entitys_names_and_compare_by_identity() -> None:
    Row = plain_row("Row", (User.id, User.username))
    a, b = Row(1, "x"), Row(1, "x")
    assert (a.id, a.username) == (1, "x")
    assert a != b and len({a, b}) == 2  # keys of a settlement's outcomes, as entities are
    keep_in_step(a, "username", "y")
    assert a.username == "y"


def test_keep_in_step_leaves_an_entity_unchanged_for_the_unit_of_work(engine: Engine) -> None:
    user = User(username="u", display_name="U", password_hash="x", roles=[])
    with Session(engine) as session:
        session.add(user)
        session.flush()
        keep_in_step(user, "display_name", "written elsewhere")
        assert user.display_name == "written elsewhere"
        assert user not in session.dirty  # committed value: no UPDATE will follow
        session.rollback()
