"""Authorization bench on PostgreSQL: claim + decide with N concurrent authorizers over the real
HTTP API, and posting throughput against the simulated core over HTTP.

    python -m bench.authorization [--authorizers 50] [--vouchers 2000] [--api-workers 2]
        [--think-ms 1000] [--no-saturation] [--postings 2000] [--posting-processes 4]
        [--posting-fork]

Claims and decisions are measured three ways:
  * statements and commits per claim / decide, counted in-process (TestClient, same app);
  * saturation: zero think time, `--vouchers` pairs: throughput (pairs/s) and server CPU per pair,
    the uvicorn process tree from /proc and the bench database's PostgreSQL backends (their pids
    from pg_stat_activity, /proc/<pid>/stat utime+stime sampled every 50 ms);
  * latency: `--think-ms` mean think time between claim and decision (uniform 0.5-1.5x, starts
    staggered), `--vouchers` more pairs: p50/p95/p99 of claim, decide and claim + decide.
With zero think time N closed-loop clients see latency = N / throughput (Little's law), so
latency targets apply to the think-time phase.

Needs PostgreSQL (VOUCHERFLOW_TEST_PG_ADMIN, default postgres@127.0.0.1) and Redis
(VOUCHERFLOW_BENCH_REDIS, default db 11, flushed at the end: the API enqueues postings there,
nothing consumes them;
posting jobs go to VOUCHERFLOW_BENCH_POSTING_REDIS, default db 13, flushed before and after).
Creates and drops its own database. Prints figures; asserts nothing.
"""

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from rq.job import Job
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from authorization.core_sim import luhn_valid
from authorization.handoff import route_after_entry
from bench.calls import CallCounter
from bench.machine import CpuProbe, GcPauses, freeze_long_lived
from storage.audit import append_event
from storage.authorization_models import AuthorizationRule, CorePosting, PostingOutbox
from storage.db import get_engine, session_scope
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to, start_lifecycle
from storage.migrate import upgrade_head
from storage.models import Branch, User, Voucher
from storage.passwords import hash_password
from storage.seed import seed_demo
from storage.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get(
    "VOUCHERFLOW_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Not the tests' database (15): a benchmark beside a test run must not touch its jobs.
REDIS = os.environ.get("VOUCHERFLOW_BENCH_REDIS", "redis://127.0.0.1:6379/11")
POSTING_REDIS = os.environ.get("VOUCHERFLOW_BENCH_POSTING_REDIS", "redis://127.0.0.1:6379/13")


def account(i: int) -> str:
    body = f"62{i:013d}"
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# What an entered wire transfer brings to the authorizer's view: 14 fields (3 of them the
# posting needs) and the entry timeline, a claim and a key event for each of 16 keys.
OTHER_FIELDS = 11
ENTRY_KEYS = 16


def make_vouchers(url: str, n: int, *, offset: int) -> list[uuid.UUID]:
    ids = []
    with session_scope(url) as s:
        teller = s.scalar(select(User).where(User.username == "teller1"))
        for i in range(offset, offset + n):
            v = Voucher(
                branch_id=teller.branch_id,
                uploaded_by_id=teller.id,
                status=VoucherStatus.RECEIVED,
                original_key=f"originals/bench-{i}",
                sha256=hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
                size_bytes=1,
                detected_format="png",
                width=1,
                height=1,
                form="wire_transfer",
                serial=f"WT{i:010d}",
            )
            s.add(v)
            s.flush()
            start_lifecycle(s, v, actor_id=teller.id)
            move_to(s, v, VoucherStatus.PROCESSING, actor_id=None)
            move_to(s, v, VoucherStatus.AWAITING_ENTRY, actor_id=None)
            for name, value in (
                ("remitter_account", account(2 * i)),
                ("beneficiary_account", account(2 * i + 1)),
                ("amount", "100.00"),
                *((f"other_field_{k}", f"value {k}") for k in range(OTHER_FIELDS)),
            ):
                s.add(VoucherField(voucher_id=v.id, name=name, field_type="x", value=value))
            # The timeline an entered voucher brings: a claim and a key per keyed field.
            for task in range(ENTRY_KEYS):
                for kind in ("entry_task_claimed", "entry_key_submitted"):
                    details = {"task": task, "kind": "key", "token": 1, "fields": ["amount"]}
                    append_event(s, v, kind=kind, actor_id=None, details=details)
            s.flush()
            route_after_entry(s, v, actor_id=None)
            ids.append(v.id)
            if len(ids) % 200 == 0:
                s.commit()
        s.commit()
    return ids


def make_authorizers(url: str, n: int) -> list[str]:
    names = [f"bench_auth{i}" for i in range(n)]
    with session_scope(url) as s:
        pw = hash_password("bench")
        for name in names:
            s.add(User(username=name, password_hash=pw, roles=["authorizer"], authorizer_level=2))
        s.commit()
    return names


def serve_api(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERFLOW_")}
    env.update(
        VOUCHERFLOW_DATABASE_URL=url,
        VOUCHERFLOW_REDIS_URL=REDIS,
        VOUCHERFLOW_CORE_URL="http://127.0.0.1:9",  # postings are only enqueued here
        VOUCHERFLOW_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("BENCH_API_LOG", os.devnull), "w"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("API did not start")


async def send(
    client: httpx.AsyncClient, out: dict, method: str, path: str, **kw
) -> httpx.Response:  # noqa: ANN003
    """Under heavy load the server may close an idle keep-alive connection as we reuse it:
    retry (GET /next resumes the same claim; a repeated decision answers 409, counted)."""
    for attempt in range(3):
        try:
            return await client.request(method, path, **kw)
        except httpx.TransportError:
            out["retries"].append(1)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def authorizer_loop(
    client: httpx.AsyncClient, token: str, think_s: float, out: dict, rng: random.Random
) -> None:
    """One authorizer: claim, look at the voucher for a while (think), decide, claim the next.

    Think times are drawn uniformly from 0.5..1.5 x the mean and the first claim is staggered
    over one mean think time, so that 50 people are not 50 clients firing in lockstep.
    """
    headers = {"Authorization": f"Bearer {token}"}
    if think_s:
        await asyncio.sleep(rng.uniform(0, think_s))
    while True:
        t0 = time.perf_counter()
        r = await send(client, out, "GET", "/api/authorization/next", headers=headers)
        t1 = time.perf_counter()
        if r.status_code == 204:
            return
        r.raise_for_status()
        claim = r.json()
        if think_s:
            await asyncio.sleep(rng.uniform(0.5 * think_s, 1.5 * think_s))
        t2 = time.perf_counter()
        d = await send(
            client,
            out,
            "POST",
            f"/api/authorization/tasks/{claim['task']['id']}/decision",
            json={"decision": "approve", "token": claim["token"]},
            headers=headers,
        )
        t3 = time.perf_counter()
        if d.status_code == 409:
            out["conflicts"].append(1)
        else:
            d.raise_for_status()
        out["claim"].append((t1 - t0) * 1000)
        out["decide"].append((t3 - t2) * 1000)
        out["both"].append((t1 - t0 + t3 - t2) * 1000)


async def loop_lag(lag: list[float], every_s: float = 0.01) -> None:
    """How late the load generator's own event loop wakes a 10 ms sleep (ms): a stall here
    delays every response in flight and would count as server latency."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(every_s)
        lag.append((time.perf_counter() - t0 - every_s) * 1000)


async def run_authorizers(base: str, tokens: list[str], think_s: float, seed: int) -> dict:
    out: dict = {"claim": [], "decide": [], "both": [], "retries": [], "conflicts": []}
    rngs = [random.Random(seed * 1000 + i) for i in range(len(tokens))]
    # A client (one keep-alive connection) per authorizer, as each person has a browser: one
    # shared pool of 50 connections costs httpcore ~10 ms of CPU per pair in this process
    # (it re-checks every pooled connection on each request), which inflated the latencies.
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in tokens]
    lag: list[float] = []
    watch = asyncio.create_task(loop_lag(lag))
    try:
        with GcPauses() as out["gc_pauses"]:
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    authorizer_loop(client, tok, think_s, out, rng)
                    for client, tok, rng in zip(clients, tokens, rngs, strict=True)
                )
            )
            out["elapsed_s"] = time.perf_counter() - started
    finally:
        watch.cancel()
        out["loop_lag"] = lag
        await asyncio.gather(*(c.aclose() for c in clients))
    return out


# --- server CPU: the uvicorn process tree and the bench database's PostgreSQL backends -------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of one process in seconds (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def machine_busy_s() -> float:
    """CPU seconds all cores spent outside idle and iowait since boot (/proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK


def tree_cpu_s(root: int) -> float:
    return sum(c for c in (proc_cpu_s(p) for p in process_tree(root)) if c is not None)


class BackendCpu:
    """CPU of the PostgreSQL backends serving one database, sampled every 50 ms: backends come
    and go (pool overflow), a new one counts from zero (its connection setup is a real cost)."""

    def __init__(self, database: str):
        self.database = database
        self.engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.seen: dict[int, tuple[float, float]] = {}  # pid -> (first reading, last reading)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _pids(self, conn) -> list[int]:  # noqa: ANN001
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": self.database}
        )
        return [r[0] for r in rows]

    def _sample(self, conn, *, first: bool = False) -> None:  # noqa: ANN001
        for pid in self._pids(conn):
            cpu = proc_cpu_s(pid)
            if cpu is None:
                continue
            start, _ = self.seen.get(pid, (cpu if first else 0.0, cpu))
            self.seen[pid] = (start, cpu)

    def __enter__(self) -> "BackendCpu":
        with self.engine.connect() as conn:
            self._sample(conn, first=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.wait(0.05):
                self._sample(conn)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        with self.engine.connect() as conn:
            self._sample(conn)
        self.engine.dispose()

    @property
    def cpu_s(self) -> float:
        return sum(last - start for start, last in self.seen.values())


def xact_counts(url: str) -> tuple[int, int]:
    """(commits, rollbacks) of the bench database (pg_stat_database, flushed within ~1 s)."""
    eng = create_engine(url, poolclass=NullPool)
    with eng.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(
            text(
                "SELECT xact_commit, xact_rollback FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
        ).one()
    eng.dispose()
    return int(row[0]), int(row[1])


def count_statements(url: str, pairs: int) -> None:
    """Statements and commits per claim / decide, in-process through the same API (TestClient):
    robust figures, unlike latency on a shared 2-core machine."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from api.app import create_app
    from storage.settings import get_settings

    warm_up = 10  # pairs not counted: FastAPI builds each router's route table on first use
    make_vouchers(url, warm_up + pairs + 2, offset=2_000_000)
    # the posting enqueuer reads the process settings: enqueue to Redis as the server does
    os.environ.update(
        VOUCHERFLOW_DATABASE_URL=url,
        VOUCHERFLOW_REDIS_URL=REDIS,
        VOUCHERFLOW_CORE_URL="http://127.0.0.1:9",
    )
    get_settings.cache_clear()
    settings = get_settings()
    engine = get_engine(url)
    counts = {"stmts": 0, "commits": 0}

    def on_execute(*_a: object) -> None:
        counts["stmts"] += 1

    def on_commit(*_a: object) -> None:
        counts["commits"] += 1

    claim, decide, commits = [], [], []
    counter = CallCounter().install()  # before the TestClient's threads start
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/auth/login", json={"username": "bench_auth0", "password": "bench"})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for _ in range(warm_up):
            r = client.get("/api/authorization/next", headers=headers)
            task = r.json()
            client.post(
                f"/api/authorization/tasks/{task['task']['id']}/decision",
                json={"decision": "approve", "token": task["token"]},
                headers=headers,
            ).raise_for_status()
        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)
        counter.reset()
        try:
            for _ in range(pairs):
                counts.update(stmts=0, commits=0)
                r = client.get("/api/authorization/next", headers=headers)
                if r.status_code == 204:
                    break
                claim.append(counts["stmts"])
                task = r.json()
                counts["stmts"] = 0
                d = client.post(
                    f"/api/authorization/tasks/{task['task']['id']}/decision",
                    json={"decision": "approve", "token": task["token"]},
                    headers=headers,
                )
                d.raise_for_status()
                decide.append(counts["stmts"])
                commits.append(counts["commits"])
        finally:
            counter.remove()
            event.remove(engine, "before_cursor_execute", on_execute)
            event.remove(engine, "commit", on_commit)
    print(
        f"statements (in-process, {len(claim)} pairs, auth lookup included): claim "
        f"{statistics.mean(claim):.1f}, decide {statistics.mean(decide):.1f}, per pair "
        f"{statistics.mean(claim) + statistics.mean(decide):.1f}; commits per pair "
        f"{statistics.mean(commits):.1f}; per pair "
        f"{counter.summary(max(1, len(claim)))}"
    )


def run_phase(
    url: str,
    database: str,
    api: subprocess.Popen,
    base: str,
    tokens: list[str],
    *,
    vouchers: int,
    offset: int,
    think_ms: int,
    label: str,
    seed: int,
) -> None:
    make_vouchers(url, vouchers, offset=offset)
    time.sleep(1.2)  # pg_stat_database settles
    xact0 = xact_counts(url)
    cpu0, own0, busy0 = tree_cpu_s(api.pid), proc_cpu_s(os.getpid()), machine_busy_s()
    freeze_long_lived()
    with BackendCpu(database) as pg, CpuProbe() as probe:
        out = asyncio.run(run_authorizers(base, tokens, think_ms / 1000, seed))
    cpu = tree_cpu_s(api.pid) - cpu0
    own, busy = proc_cpu_s(os.getpid()) - own0, machine_busy_s() - busy0
    time.sleep(1.2)
    xact1 = xact_counts(url)
    n = len(out["both"])
    print(
        f"{label}: {len(tokens)} authorizers, think {think_ms} ms (uniform 0.5-1.5x, staggered "
        f"start): {n} claim+decide pairs in {out['elapsed_s']:.1f}s -> {n / out['elapsed_s']:.1f} "
        f"pairs/s ({len(out['retries'])} transport retries, {len(out['conflicts'])} 409s)"
    )
    for key in ("claim", "decide", "both"):
        v = out[key]
        print(
            f"  {key:<7} p50 {statistics.median(v):7.1f} ms   p95 {pct(v, 0.95):7.1f} ms   "
            f"p99 {pct(v, 0.99):7.1f} ms   max {max(v):7.1f} ms"
        )
    lag = out["loop_lag"] or [0.0]
    print(
        f"  load generator's event loop: late by p99 {pct(lag, 0.99):.1f} ms, max "
        f"{max(lag):.1f} ms ({sum(x > 20 for x in lag)} wake-ups more than 20 ms late); its "
        f"garbage collections: {len(out['gc_pauses'].pauses)}, longest "
        f"{out['gc_pauses'].longest_ms()} ms"
    )
    commits = (xact1[0] - xact0[0]) / n
    rollbacks = (xact1[1] - xact0[1]) / n
    el = out["elapsed_s"]
    others = busy - cpu - pg.cpu_s - own
    print(
        f"  machine: {busy / el:.2f} of {os.cpu_count()} cores busy: API {cpu / el:.2f}, its "
        f"PostgreSQL backends {pg.cpu_s / el:.2f}, load generator {own / el:.2f}, "
        f"other processes {others / el:.2f}"
        + ("  << measured under load" if others / el > 0.2 else "")
        + f"; reference loop {probe.median_ms()} ms (bench.machine: lower is faster)"
    )
    print(
        f"  server CPU per pair: uvicorn tree {cpu / n * 1000:.1f} ms + PostgreSQL backends "
        f"{pg.cpu_s / n * 1000:.1f} ms = {(cpu + pg.cpu_s) / n * 1000:.1f} ms "
        f"({len(pg.seen)} backend pids seen); per pair {commits:.1f} commits, "
        f"{rollbacks:.1f} rollbacks"
    )


def bench_claims(url: str, database: str, args: argparse.Namespace) -> None:
    with session_scope(url) as s:
        s.add(AuthorizationRule(name="bench", queue="bench", flags=[], min_level=1))
        s.commit()
    names = make_authorizers(url, args.authorizers)
    count_statements(url, 20)
    if args.statements_only:
        return
    port = free_port()
    api = serve_api(url, port, args.api_workers)
    try:
        base = f"http://127.0.0.1:{port}"
        tokens = []
        for name in names:
            r = httpx.post(f"{base}/api/auth/login", json={"username": name, "password": "bench"})
            tokens.append(r.json()["access_token"])
        # warm-up: every worker's connections and code paths, not measured
        make_vouchers(url, 2 * len(tokens), offset=3_000_000)
        asyncio.run(run_authorizers(base, tokens, 0, seed=0))
        phases = [("saturation", 0)] if args.saturation else []
        phases.append(("latency", args.think_ms))
        for i, (label, think_ms) in enumerate(phases):
            run_phase(
                url,
                database,
                api,
                base,
                tokens,
                vouchers=args.vouchers,
                offset=(i + 4) * 1_000_000,
                think_ms=think_ms,
                label=label,
                seed=i + 1,
            )
    finally:
        api.terminate()
        api.wait(timeout=20)


def serve_core(url: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERFLOW_")}
    env.update(
        VOUCHERFLOW_DATABASE_URL=url,
        VOUCHERFLOW_CORE_AUTO_OPEN_ACCOUNTS="true",
        PYTHONPATH=str(ROOT),
    )
    cmd = [sys.executable, "-m", "uvicorn", "authorization.core_sim:build_core_app", "--factory"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/postings/none", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("core simulator did not start")


def start_posting_workers(url: str, core_url: str, n: int, *, fork: bool) -> list[subprocess.Popen]:
    """`voucherflow worker posting` processes, as production runs them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERFLOW_")}
    env.update(
        VOUCHERFLOW_DATABASE_URL=url,
        VOUCHERFLOW_REDIS_URL=POSTING_REDIS,
        VOUCHERFLOW_CORE_URL=core_url,
        VOUCHERFLOW_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    cmd = [sys.executable, "-m", "cli.main", "worker", "posting"]
    cmd.append("--fork" if fork else "--no-fork")
    return [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL) for _ in range(n)]


def bench_posting(url: str, args: argparse.Namespace) -> None:
    """Approved vouchers' posting jobs run by real RQ workers against the simulated core over
    HTTP. The workers are up and idle before the jobs are enqueued; throughput is counted from
    the jobs' own start and end times, CPU per posting over the workers (and any work-horses),
    the core simulator and the database's backends while the jobs run."""
    from redis import Redis
    from rq import Worker

    with session_scope(url) as s:
        s.execute(text("UPDATE authorization_rule SET active = false"))
        s.commit()
    voucher_ids = make_vouchers(url, args.postings, offset=1_000_000)
    ids = [str(v) for v in voucher_ids]
    # Imported only now: importing workers.queues registers the after-commit enqueuer, and the
    # vouchers above must not be posted in this process (they are enqueued below).
    from workers.queues import enqueue_posting, posting_job_id

    port = free_port()
    core = serve_core(url, port)
    core_url = f"http://127.0.0.1:{port}"
    redis = Redis.from_url(POSTING_REDIS)
    redis.flushdb()
    settings = Settings(database_url=url, redis_url=POSTING_REDIS, core_url=core_url)
    workers = start_posting_workers(url, core_url, args.posting_processes, fork=args.posting_fork)
    try:
        deadline = time.monotonic() + 120
        while len(Worker.all(connection=redis)) < len(workers):
            if time.monotonic() > deadline:
                raise SystemExit("posting workers did not start")
            time.sleep(0.2)
        workers_before = sum(tree_cpu_s(w.pid) for w in workers)
        core_before = tree_cpu_s(core.pid)
        with BackendCpu(url.rsplit("/", 1)[1]) as pg, CpuProbe() as probe:
            for vid in ids:
                enqueue_posting(vid, settings=settings)
            with session_scope(url) as s:
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    s.execute(text("SELECT pg_stat_clear_snapshot()"))
                    open_rows = s.scalar(
                        select(func.count())
                        .select_from(PostingOutbox)
                        .where(
                            PostingOutbox.voucher_id.in_(voucher_ids),
                            PostingOutbox.status.not_in(("posted", "rejected")),
                        )
                    )
                    s.rollback()
                    if not open_rows:
                        break
                    time.sleep(0.2)
        workers_cpu = sum(tree_cpu_s(w.pid) for w in workers) - workers_before
        core_cpu = tree_cpu_s(core.pid) - core_before
    finally:
        for w in [*workers, core]:
            w.terminate()
        for w in [*workers, core]:
            w.wait(timeout=30)
    jobs = Job.fetch_many([posting_job_id(v) for v in ids], connection=redis)
    spans = [(j.started_at, j.ended_at) for j in jobs if j and j.started_at and j.ended_at]
    elapsed = (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds()
    redis.flushdb()
    with session_scope(url) as s:
        posted = s.scalar(
            select(func.count())
            .select_from(PostingOutbox)
            .where(PostingOutbox.voucher_id.in_(voucher_ids), PostingOutbox.status == "posted")
        )
        core_rows = s.scalar(select(func.count()).select_from(CorePosting))
    mode = "no fork" if not args.posting_fork else "a forked work-horse per job"
    n = max(1, len(ids))
    print(
        f"posting: {len(ids)} jobs, {args.posting_processes} RQ workers "
        f"(`voucherflow worker posting`, {mode}), JSON/HTTP to the simulated core (separate "
        f"uvicorn process): first job start to last job end {elapsed:.1f}s -> "
        f"{len(ids) / elapsed:.0f} vouchers/s ({posted} posted, {core_rows} core postings, "
        f"{len(ids) - len(spans)} jobs unfinished)"
    )
    print(
        f"  CPU per posting: workers {1000 * workers_cpu / n:.1f} ms (RQ and the job) + core "
        f"simulator {1000 * core_cpu / n:.1f} ms + PostgreSQL backends "
        f"{1000 * pg.cpu_s / n:.1f} ms; reference loop {probe.median_ms()} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--authorizers", type=int, default=50)
    parser.add_argument("--vouchers", type=int, default=2000)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--think-ms", type=int, default=1000, help="mean think time (latency)")
    parser.add_argument(
        "--saturation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run at zero think time first: throughput and CPU per pair",
    )
    parser.add_argument("--postings", type=int, default=2000)
    parser.add_argument("--posting-processes", type=int, default=4)
    parser.add_argument(
        "--posting-fork",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="workers fork a work-horse per job (the imaging workers' mode)",
    )
    parser.add_argument("--skip-claims", action="store_true")
    parser.add_argument(
        "--statements-only",
        action="store_true",
        help="only the in-process counts per claim + decide (statements, commits, calls)",
    )
    args = parser.parse_args()
    name = f"vf_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade_head(url)
        with session_scope(url) as s:
            seed_demo(s, password="bench")
            s.commit()
            assert s.scalar(select(Branch.id).limit(1))
        if not args.skip_claims:
            bench_claims(url, name, args)
        if not args.statements_only:
            bench_posting(url, args)
    finally:
        from redis import Redis

        Redis.from_url(REDIS).flushdb()  # the postings the API enqueued, never consumed
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
