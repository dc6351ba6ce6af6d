"""An arbiter's look for work reads its own indexes (migration 0009), not every open keying task:
the arbitration search walks ix_entry_task_arbitration, the sweep of stranded leases
ix_entry_task_lease_expiry. Checked from PostgreSQL's plans with sequential scans priced out,
so that what is proven is that the index can answer the statement (its predicate is implied)."""

from sqlalchemy import text

from entry.claims import _search_pg, _stranded_leases
from storage.db import get_engine
from storage.models import utcnow


def _plan(conn, sql: str, params: dict) -> str:  # noqa: ANN001
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute("EXPLAIN " + sql, params)
    return "\n".join(r[0] for r in cursor.fetchall())


def test_the_arbiters_search_and_sweep_use_their_indexes(pg_inline_env) -> None:  # noqa: ANN001
    engine = get_engine(pg_inline_env["database_url"])
    params = {"uid": 1, "now": utcnow(), "quota": 2}
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        for windowed in (True, False):
            sql = _search_pg(("arbitrate",), windowed).sql(conn)
            assert "ix_entry_task_arbitration" in _plan(conn, sql, params)
        sweep = str(_stranded_leases().compile(dialect=conn.dialect))
        assert "ix_entry_task_lease_expiry" in _plan(conn, sweep, {"now": utcnow(), "limit": 20})
        conn.rollback()
