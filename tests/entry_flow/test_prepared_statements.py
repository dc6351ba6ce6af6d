"""What keeps a connection's prepared statements, and which statement is kept out of them.

Transactions that wrote nothing end with COMMIT (storage.db.end_unwritten): psycopg 3 drops
every prepared statement of a connection when a ROLLBACK succeeds on it, so a claim that found
no work, or a key refused before its first write, must not roll back. Objects the ORM would
still write are rolled back, never committed by it. The claim's search is prepared like every
other hot statement, and PostgreSQL runs it on a generic plan.
"""

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from entry.claims import claim_next
from storage.blobs import LocalBlobStore
from storage.db import end_unwritten, get_engine
from storage.models import User
from tests.entry_flow.vouchers import make_voucher, truth_values
from tests.support import login

_PREPARED = text("SELECT count(*) FROM pg_prepared_statements")


def _prepare_one(session: Session) -> None:
    """Run one parameterised query often enough (psycopg's threshold is 5) to be prepared."""
    for _ in range(6):
        session.execute(select(User.id).where(User.username == "keyer1")).all()


def test_psycopg_drops_prepared_statements_on_rollback_and_end_unwritten_keeps_them(
    pg_inline_env,
) -> None:  # noqa: ANN001
    engine = get_engine(pg_inline_env["database_url"])
    with engine.connect() as conn:
        session = Session(bind=conn)
        _prepare_one(session)
        assert conn.scalar(_PREPARED) >= 1
        session.rollback()  # what this guards against: the cache is gone
        assert conn.scalar(_PREPARED) == 0
        _prepare_one(session)
        end_unwritten(session)
        assert conn.scalar(_PREPARED) >= 1
        conn.rollback()


def test_end_unwritten_rolls_back_what_the_orm_would_still_write(pg_inline_env) -> None:  # noqa: ANN001
    engine = get_engine(pg_inline_env["database_url"])
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.username == "keyer1"))
        before = user.display_name
        user.display_name = "changed, never to be written"
        end_unwritten(session)
    with Session(engine) as session:
        assert session.scalar(select(User.display_name).where(User.username == "keyer1")) == before


def test_an_empty_claim_and_a_refused_key_end_without_a_rollback(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    rollbacks: list[int] = []

    def count(_conn) -> None:  # noqa: ANN001
        rollbacks.append(1)

    engine = get_engine(url)
    event.listen(engine, "rollback", count)
    try:
        keyer = login(client, "keyer1")
        assert client.get("/api/entry/next", headers=keyer).status_code == 204  # no work yet
        make_voucher(url, client.app.state.blobs, form="deposit_slip")
        task = client.get("/api/entry/next", headers=keyer).json()
        stale = client.post(
            f"/api/entry/tasks/{task['id']}",
            json={"value": "1", "token": task["token"] + 1},
            headers=keyer,
        )
        assert stale.status_code == 409
        bad = client.post(
            f"/api/entry/tasks/{task['id']}",
            json={"value": "", "token": task["token"]},  # every deposit-slip field is required
            headers=keyer,
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "required"
        assert rollbacks == []
        # Nothing was written: the lease is intact and the right token still keys the task.
        spec = task["fields"][0]
        good = client.post(
            f"/api/entry/tasks/{task['id']}",
            json={"value": truth_values("deposit_slip")[spec["name"]], "token": task["token"]},
            headers=keyer,
        )
        assert good.status_code == 200, good.text
    finally:
        event.remove(engine, "rollback", count)


def test_the_claims_search_is_prepared_like_the_statements_around_it(pg_inline_env) -> None:  # noqa: ANN001
    """The windowed claim search is prepared on a connection like the statements around it;
    PostgreSQL then plans it for the values given five times and keeps one generic plan when
    that does not look dearer (planning was 60 % of the search's server time;
    bench.entry_claim_scale prints both ways). On this test's few rows it plans each time."""
    url = pg_inline_env["database_url"]
    blobs = LocalBlobStore(pg_inline_env["data_dir"] + "/blobs")
    for _ in range(3):
        make_voucher(url, blobs, form="deposit_slip")
    engine = get_engine(url)
    with engine.connect() as conn:
        session = Session(bind=conn)
        keyers = session.scalars(select(User).where(User.username.like("keyer%"))).all()
        for i in range(8):  # committed, not rolled back: a rollback drops prepared statements
            assert claim_next(session, keyers[i % len(keyers)], kinds=("key", "third_key"))
            session.commit()
        prepared = conn.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
        conn.rollback()
    assert any(s.lstrip().startswith("WITH lease") for s in prepared)
    assert any("urgent" in s for s in prepared)
