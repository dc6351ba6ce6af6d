"""What one key costs the server, in-process and single-threaded: statements, commits and CPU
per submission (each `POST /api/entry/tasks/{id}?next=true`, the claim of the next task
included), for keyers who key every task right.

Deterministic counts (statements per key) and CPU with no HTTP stack, no other threads and no
GIL hand-offs: the figure to compare two versions of the keying path on a noisy machine. The CPU
is printed beside the reference loop (bench.machine) measured in the same run. Jobs go to Redis
(VOUCHERFLOW_TEST_REDIS, default db 14, flushed) and are not run.
Run: python -m bench.entry_hotpath --vouchers 80 --keyers 50
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, text
from starlette.testclient import TestClient

from bench.calls import CallCounter
from bench.entry import (
    REDIS,
    Options,
    Truth,
    confirmed_key,
    create_database,
    drop_database,
    lookup_task,
    make_vouchers,
    pg_backend_cpu,
    seed_users,
    submit_body,
)
from bench.entry_keyers import keyed_form
from bench.machine import reference_loop_ms
from storage.blobs import LocalBlobStore
from storage.db import get_engine
from storage.migrate import upgrade_head


def _key(url: str, truth: Truth, task: dict) -> dict:
    vid, _ = lookup_task(url, truth, task["id"])
    values = {}
    for f in task["fields"]:
        canonical, ftype, _ = truth.fields[(vid, f["name"])]
        values[f["name"]] = confirmed_key(keyed_form(canonical, ftype))
    return submit_body(task, values)


def plan_counts(engine) -> dict[int, tuple[int, int]]:  # noqa: ANN001
    """Generic and custom plans so far of the prepared statements of every idle pooled
    connection, by server process (pg_prepared_statements is per connection). A custom plan is
    made at each execution; a generic one once, then reused."""
    conns = [engine.connect() for _ in range(engine.pool.checkedin())]
    try:
        out = {}
        for conn in conns:
            pid, generic, custom = conn.execute(_PLANS).one()
            out[pid] = (int(generic), int(custom))
            conn.rollback()
        return out
    finally:
        for conn in conns:
            conn.close()


_PLANS = text(
    "SELECT pg_backend_pid(), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) "
    "FROM pg_prepared_statements"
)


def run(vouchers: int, keyers: int, trace: int = 0, count_calls: bool = False) -> None:
    name, url = create_database()
    data_dir = tempfile.mkdtemp(prefix="vf_hotpath_")
    try:
        upgrade_head(url)
        opts = Options(vouchers=vouchers, keyers=keyers, arbiters=0, error_rate=0.0)
        seed_users(url, opts)
        truth = Truth()
        make_vouchers(url, LocalBlobStore(Path(data_dir) / "blobs"), opts, truth, lambda n: None)
        with get_engine(url).connect() as conn:  # statistics, as a live system's tables have
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        get_engine(url).dispose()
        os.environ.update(
            VOUCHERFLOW_DATABASE_URL=url,
            VOUCHERFLOW_DATA_DIR=data_dir,
            VOUCHERFLOW_REDIS_URL=REDIS,
            VOUCHERFLOW_LOG_LEVEL="WARNING",
        )
        from redis import Redis

        from api.app import create_app
        from storage.settings import get_settings
        from workers.queues import enqueue_posting  # noqa: F401  (registers the enqueuer)

        get_settings.cache_clear()
        engine = get_engine(url)
        counts = {"stmts": 0, "commits": 0, "all": 0}  # all: every statement of the loop
        seen: list[str] = []

        def on_execute(_conn, _cursor, statement, *_a: object) -> None:  # noqa: ANN001
            counts["stmts"] += 1
            counts["all"] += 1
            seen.append(" ".join(statement.split())[:150])

        def on_commit(*_a: object) -> None:
            counts["commits"] += 1

        counter = CallCounter().install() if count_calls else None
        with TestClient(create_app(get_settings())) as client:
            headers = []
            for i in range(keyers):
                r = client.post(
                    "/api/auth/login", json={"username": f"bkeyer{i:03d}", "password": "bench"}
                )
                headers.append({"Authorization": f"Bearer {r.json()['access_token']}"})
            pending: list[dict | None] = [None] * keyers
            stmts, commits, refused = [], [], 0
            event.listen(engine, "before_cursor_execute", on_execute)
            event.listen(engine, "commit", on_commit)
            if counter:
                counter.reset()  # the logins above not counted
            ref = [reference_loop_ms()]  # before and after the measured loop, not in it
            plans0 = plan_counts(engine)
            counts["all"] = 0
            pg0, cpu0, wall0 = pg_backend_cpu(name), time.process_time(), time.perf_counter()
            idle = 0
            while idle < keyers:
                idle = 0
                for i, h in enumerate(headers):
                    task = pending[i]
                    counts.update(stmts=0, commits=0)
                    seen.clear()
                    if task is None:
                        r = client.get("/api/entry/next", headers=h)
                        if r.status_code == 204:
                            idle += 1
                            continue
                        task = r.json()
                    r = client.post(
                        f"/api/entry/tasks/{task['id']}?next=true",
                        json=_key(url, truth, task),
                        headers=h,
                    )
                    if r.status_code != 200:
                        refused += 1
                        pending[i] = None
                        continue
                    pending[i] = r.json().get("next")
                    stmts.append(counts["stmts"])
                    if len(stmts) == trace:
                        print(f"statements of key {trace}:", *seen, sep="\n  ")
                    commits.append(counts["commits"])
            if counter:
                counter.remove()
            plans1 = plan_counts(engine)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            ref.append(reference_loop_ms())
            pg = sum(c - pg0.get(pid, 0.0) for pid, c in pg_backend_cpu(name).items())
            event.remove(engine, "before_cursor_execute", on_execute)
            event.remove(engine, "commit", on_commit)
        n = len(stmts)
        ref_ms = statistics.median(ref)
        print(
            f"entry hot path, in-process: {n} keys by {keyers} keyers over {vouchers} vouchers "
            f"in {wall:.1f}s ({refused} refused)"
        )
        print(
            f"  per key (submit with ?next=true, a GET /next when it answered none): "
            f"{statistics.mean(stmts):.2f} statements, {statistics.mean(commits):.2f} commits"
        )
        print(
            f"  CPU per key: this process {cpu / n * 1000:.2f} ms (app + TestClient), "
            f"PostgreSQL {pg / n * 1000:.2f} ms; reference loop {ref_ms:.1f} ms "
            f"-> {cpu / n * 1000 / ref_ms:.3f} reference loops per key"
        )
        generic = sum(g - plans0.get(pid, (0, 0))[0] for pid, (g, _) in plans1.items())
        custom = sum(c - plans0.get(pid, (0, 0))[1] for pid, (_, c) in plans1.items())
        print(
            f"  prepared statements' executions per key: {generic / n:.2f} on a generic plan, "
            f"{custom / n:.2f} planned at execution (custom plans); "
            f"{(counts['all'] - generic - custom) / n:.2f} unprepared"
        )
        if counter:
            print(f"  per key: {counter.summary(n)}")
        Redis.from_url(REDIS).flushdb()
    finally:
        get_engine(url).dispose()
        drop_database(name)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vouchers", type=int, default=80)
    p.add_argument("--keyers", type=int, default=50)
    p.add_argument("--trace", type=int, default=0, help="print the statements of key N")
    p.add_argument(
        "--calls",
        action="store_true",
        help="count function calls per key (slow; deterministic, unlike CPU time)",
    )
    a = p.parse_args(argv)
    run(a.vouchers, a.keyers, a.trace, a.calls)


if __name__ == "__main__":
    main()
