"""What one hot statement costs the API process in client CPU, three ways: through the ORM
(loading a Voucher entity), through SQLAlchemy Core on the session's connection, and on the
driver (storage.driver) — the claim's windowed search, run single-threaded in-process, each
execution in a transaction of its own that is committed (nothing is claimed).

The reason the keying hot path runs on the driver (docs/decisions.md, "Hot paths").
Run: python -m bench.entry_statement --vouchers 60
Needs PostgreSQL (VOUCHERFLOW_TEST_PG_ADMIN); creates and drops its own database.
"""

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import load_only

from bench.entry import Options, Truth, create_database, drop_database, make_vouchers, seed_users
from entry.claims import _search_pg
from entry.eligibility import load_pool
from storage.audit import HEAD_COLUMNS
from storage.blobs import LocalBlobStore
from storage.db import get_engine, get_request_sessionmaker
from storage.driver import fetch_one
from storage.migrate import upgrade_head
from storage.models import User, Voucher, utcnow

KINDS = ("key", "third_key", "whole_voucher")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vouchers", type=int, default=60)
    p.add_argument("--runs", type=int, default=500)
    args = p.parse_args()
    name, url = create_database()
    try:
        upgrade_head(url)
        opts = Options(vouchers=args.vouchers, keyers=50, arbiters=0)
        seed_users(url, opts)
        blobs = LocalBlobStore(Path(tempfile.mkdtemp(prefix="vf_statement_")))
        make_vouchers(url, blobs, opts, Truth(), lambda n: None)
        with get_engine(url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        session = get_request_sessionmaker(url)()
        user = session.scalar(select(User).where(User.username == "bkeyer001"))
        params = {"uid": user.id, "now": utcnow(), "quota": load_pool(session)[1]}
        session.commit()
        driver = _search_pg(KINDS, True)
        core = driver.statement
        # The same search loading the voucher as an entity (what the ORM path did).
        orm = core.with_only_columns(
            *core.selected_columns[:4], Voucher, maintain_column_froms=True
        ).options(load_only(*HEAD_COLUMNS))

        def by_orm() -> None:
            session.execute(orm, params).first()

        def by_core() -> None:
            session.connection().execute(core, params).first()

        def on_driver() -> None:
            fetch_one(session, driver, params)

        for _round in range(2):
            for way in (by_orm, by_core, on_driver):
                for _ in range(20):  # prepared on the connection, caches warm
                    way()
                    session.commit()
                cpu = time.process_time()
                for _ in range(args.runs):
                    way()
                    session.commit()
                ms = (time.process_time() - cpu) / args.runs * 1000
                print(f"  {way.__name__:10s} {ms:6.3f} ms of client CPU per search (and commit)")
        session.close()
    finally:
        get_engine(url).dispose()
        drop_database(name)


if __name__ == "__main__":
    main()
