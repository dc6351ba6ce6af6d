"""A keyer's claim search once the database holds a bank's history: how long it takes, and with
which plan, when --history done vouchers (each with its done tasks and exposures) lie beside the
--vouchers in entry.

The claim reads a window of the most urgent tasks through their own index (entry.claims.WINDOW)
before it looks at every open task; this prints both, for every keyer of the bench, each planned
at every run (unprepared) and prepared (PostgreSQL's generic plan), each search committed in a
transaction of its own (nothing is claimed). Times are wall clock in this process (client
included), the plan from EXPLAIN (ANALYZE) for one keyer.
Run: python -m bench.entry_claim_scale --vouchers 300 --history 200000
Needs PostgreSQL (VOUCHERFLOW_TEST_PG_ADMIN); creates and drops its own database.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text

from bench.entry import Options, Truth, create_database, drop_database, make_vouchers, seed_users
from entry.claims import _search_pg
from entry.eligibility import load_pool
from storage.blobs import LocalBlobStore
from storage.db import get_engine, session_scope
from storage.migrate import upgrade_head
from storage.models import User, utcnow

KINDS = ("key", "third_key", "whole_voucher")

# Done vouchers copied from one voucher in entry, each with five done tasks and five exposures:
# the shape of a history, not its content.
_HISTORY = """
CREATE TEMP TABLE src AS SELECT * FROM voucher WHERE status = 'awaiting_entry' LIMIT 1;
UPDATE src SET status = 'posted';
ALTER TABLE src DROP COLUMN id, DROP COLUMN sha256;
CREATE TEMP TABLE big AS
  SELECT md5(g::text || 'history')::uuid AS id, md5(g::text) AS sha256, s.*
  FROM src s, generate_series(1, :n) g;
INSERT INTO voucher SELECT {columns} FROM big;
INSERT INTO entry_task (voucher_id, kind, field_group, status, fencing_token, sla_due_at,
                        created_at)
  SELECT b.id, 'key', 'who', 'done', 1, now() - interval '1 day', now() - interval '2 day'
  FROM big b, generate_series(1, 5);
INSERT INTO entry_exposure (voucher_id, user_id, field_id, field_group, at)
  SELECT b.id, u.id, (SELECT min(id) FROM voucher_field), 'who', now()
  FROM big b, (SELECT id FROM app_user ORDER BY id LIMIT 5) u;
"""


def add_history(url: str, n: int) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        columns = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'voucher' ORDER BY ordinal_position"
                )
            )
        ]
        for stmt in _HISTORY.format(columns=", ".join(columns)).split(";"):
            if stmt.strip():
                conn.execute(text(stmt), {"n": n} if ":n" in stmt else {})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def time_claims(url: str, windowed: bool, prepared: bool) -> tuple[list[float], list[str], str]:
    """Every keyer's search, four rounds, each in a transaction of its own that is committed
    (it locked a voucher, claimed nothing): a rollback would drop the connection's prepared
    statements. `prepared`: prepared at once (PostgreSQL plans it for the values given five
    times, then keeps a generic plan unless that looks dearer), else planned at every run."""
    times: list[float] = []
    with session_scope(url) as s:
        keyers = s.scalars(select(User).where(User.username.like("bkeyer%"))).all()
        quota = load_pool(s)[1]
        search = _search_pg(KINDS, windowed)
        sql = search.sql(s.connection())
        driver = s.connection().connection.driver_connection
        s.commit()
        for user in keyers * 4:
            params = {"uid": user.id, "now": utcnow(), "quota": quota}
            t = time.perf_counter()
            with driver.cursor() as cursor:
                cursor.execute(sql, params, prepare=prepared)
                cursor.fetchone()
            times.append((time.perf_counter() - t) * 1000)
            driver.commit()
        with driver.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
                " FROM pg_prepared_statements WHERE statement LIKE '%SKIP LOCKED%'"
            )
            generic, custom = cursor.fetchone()
        params = {"uid": keyers[0].id, "now": utcnow(), "quota": quota}
        with driver.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params, prepare=False)
            plan = [r[0] for r in cursor.fetchall()]
        driver.rollback()
        s.connection().invalidate()  # the next run starts on a connection with nothing prepared
    plans = f"{generic} generic plans, {custom} custom" if prepared else "planned each time"
    return times[len(keyers) :], plan, plans  # the first round warms the backend


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vouchers", type=int, default=300)
    p.add_argument("--history", type=int, default=200_000)
    p.add_argument("--keyers", type=int, default=50)
    args = p.parse_args()
    name, url = create_database()
    try:
        upgrade_head(url)
        opts = Options(vouchers=args.vouchers, keyers=args.keyers, arbiters=0)
        seed_users(url, opts)
        blobs = LocalBlobStore(Path(tempfile.mkdtemp(prefix="vf_claim_scale_")))
        make_vouchers(url, blobs, opts, Truth(), lambda n: None)
        t0 = time.perf_counter()
        add_history(url, args.history)
        print(
            f"{args.vouchers} vouchers in entry, {args.history} done vouchers of history "
            f"(added in {time.perf_counter() - t0:.0f} s), {args.keyers} keyers"
        )
        for windowed, label in ((True, "window first"), (False, "every open task")):
            for prepared in (False, True):
                times, plan, plans = time_claims(url, windowed, prepared)
                top = " / ".join(line.strip() for line in plan[:8] if "->" in line)[:300]
                print(
                    f"  {label:16s} {'prepared' if prepared else 'unprepared':10s} search p50 "
                    f"{statistics.median(times):7.2f} ms  mean {statistics.mean(times):7.2f} ms  "
                    f"max {max(times):7.2f} ms  ({len(times)} searches; {plans})"
                    + ("" if prepared else f"\n    plan: {top}")
                )
    finally:
        get_engine(url).dispose()
        drop_database(name)


if __name__ == "__main__":
    main()
