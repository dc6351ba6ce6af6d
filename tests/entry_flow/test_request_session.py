"""An API request holds one pooled connection across its transactions (storage.db.RequestSession):
a submission that commits its key and then claims the next task checks out, and pings, once.
The connection goes back to the pool when the request ends, and a lost one is replaced.
"""

from sqlalchemy import event, select, text

from storage.db import RequestSession, get_engine
from tests.entry_flow.vouchers import make_voucher, truth_values
from tests.support import login


def test_a_submission_and_the_following_claim_use_one_connection(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    engine = get_engine(url)
    make_voucher(url, client.app.state.blobs, form="deposit_slip")
    keyer = login(client, "keyer1")
    task = client.get("/api/entry/next", headers=keyer).json()
    checkouts: list[int] = []

    def count(*_args) -> None:  # noqa: ANN002
        checkouts.append(1)

    event.listen(engine, "checkout", count)
    try:
        name = task["fields"][0]["name"]
        answer = client.post(
            f"/api/entry/tasks/{task['id']}?next=true",
            json={"value": truth_values("deposit_slip")[name], "token": task["token"]},
            headers=keyer,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["next"] is not None  # two transactions: the key, then the claim
    finally:
        event.remove(engine, "checkout", count)
    assert checkouts == [1]
    assert engine.pool.checkedout() == 0  # handed back when the request ended


def test_a_request_session_replaces_a_lost_connection_and_hands_it_back(pg_inline_env) -> None:  # noqa: ANN001
    engine = get_engine(pg_inline_env["database_url"])
    session = RequestSession(bind=engine)
    try:
        first = session.scalar(text("SELECT pg_backend_pid()"))
        session.commit()
        assert session.scalar(text("SELECT pg_backend_pid()")) == first  # held across commits
        session.commit()
        session.get_bind().invalidate()  # the server went away
        assert session.scalar(select(1)) == 1
        assert session.scalar(text("SELECT pg_backend_pid()")) != first
        assert session.get_bind().engine is engine
    finally:
        session.close()
    assert engine.pool.checkedout() == 0
