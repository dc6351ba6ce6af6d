"""Authorization bench on PostgreSQL: claim + decide latency with N concurrent authorizers over
the real HTTP API, and posting throughput against the simulated core over HTTP.

    python -m bench.authorization [--authorizers 50] [--vouchers 2000] [--api-workers 2]
        [--postings 2000] [--posting-processes 4] [--posting-threads 4] [--think-ms 0]

Needs PostgreSQL (VOUCHERFLOW_TEST_PG_ADMIN, default postgres@127.0.0.1) and Redis
(VOUCHERFLOW_TEST_REDIS, default db 15; the API enqueues postings there, nothing consumes them).
Creates and drops its own database. Prints figures; asserts nothing.
"""

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

from authorization.core_sim import luhn_valid
from authorization.handoff import route_after_entry
from authorization.posting import HttpCoreAdapter, post_voucher
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
REDIS = os.environ.get("VOUCHERFLOW_TEST_REDIS", "redis://127.0.0.1:6379/15")


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
            ):
                s.add(VoucherField(voucher_id=v.id, name=name, field_type="x", value=value))
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
    client: httpx.AsyncClient, token: str, think_s: float, out: dict[str, list[float]]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        t0 = time.perf_counter()
        r = await send(client, out, "GET", "/api/authorization/next", headers=headers)
        t1 = time.perf_counter()
        if r.status_code == 204:
            return
        r.raise_for_status()
        claim = r.json()
        if think_s:
            await asyncio.sleep(think_s)
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
        if d.status_code != 409:
            d.raise_for_status()
        out["claim"].append((t1 - t0) * 1000)
        out["decide"].append((t3 - t2) * 1000)
        out["both"].append((t1 - t0 + t3 - t2) * 1000)


async def run_authorizers(base: str, tokens: list[str], think_s: float) -> dict:
    out: dict[str, list[float]] = {"claim": [], "decide": [], "both": [], "retries": []}
    limits = httpx.Limits(max_connections=len(tokens) + 5)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(authorizer_loop(client, t, think_s, out) for t in tokens))
        out["elapsed_s"] = time.perf_counter() - started
    return out


def bench_claims(url: str, args: argparse.Namespace) -> None:
    with session_scope(url) as s:
        s.add(AuthorizationRule(name="bench", queue="bench", flags=[], min_level=1))
        s.commit()
    t = time.perf_counter()
    make_vouchers(url, args.vouchers, offset=0)
    print(f"setup: {args.vouchers} vouchers routed in {time.perf_counter() - t:.1f}s")
    names = make_authorizers(url, args.authorizers)
    port = free_port()
    api = serve_api(url, port, args.api_workers)
    try:
        base = f"http://127.0.0.1:{port}"
        tokens = []
        for name in names:
            r = httpx.post(f"{base}/api/auth/login", json={"username": name, "password": "bench"})
            tokens.append(r.json()["access_token"])
        out = asyncio.run(run_authorizers(base, tokens, args.think_ms / 1000))
    finally:
        api.terminate()
        api.wait(timeout=20)
    n = len(out["both"])
    print(
        f"claim+decide, {args.authorizers} concurrent authorizers, {args.api_workers} API "
        f"worker(s), think {args.think_ms} ms: {n} vouchers in {out['elapsed_s']:.1f}s "
        f"({n / out['elapsed_s']:.0f}/s; {len(out['retries'])} transport retries)"
    )
    for key in ("claim", "decide", "both"):
        v = out[key]
        print(
            f"  {key:<7} p50 {statistics.median(v):6.1f} ms   p99 {pct(v, 0.99):6.1f} ms"
            f"   max {max(v):6.1f} ms"
        )


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


def post_chunk(job: tuple[str, str, list[str], int]) -> list[str]:
    """One posting worker process: the posting job function over HTTP, a few threads."""
    url, core_url, ids, threads = job
    settings = Settings(database_url=url, core_url=core_url)
    local = threading.local()

    def post(vid: str) -> str:
        if not hasattr(local, "adapter"):
            local.adapter = HttpCoreAdapter(core_url, 10)
        return post_voucher(vid, settings=settings, adapter=local.adapter)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(post, ids))


def bench_posting(url: str, args: argparse.Namespace) -> None:
    from multiprocessing import get_context

    with session_scope(url) as s:
        s.execute(text("UPDATE authorization_rule SET active = false"))
        s.commit()
    ids = [str(v) for v in make_vouchers(url, args.postings, offset=1_000_000)]
    port = free_port()
    core = serve_core(url, port)
    procs = args.posting_processes
    chunks = [
        (url, f"http://127.0.0.1:{port}", ids[i::procs], args.posting_threads) for i in range(procs)
    ]
    try:
        with get_context("spawn").Pool(procs) as pool:
            pool.map(abs, range(procs))  # processes up before the clock starts
            started = time.perf_counter()
            outcomes = [o for chunk in pool.map(post_chunk, chunks) for o in chunk]
            elapsed = time.perf_counter() - started
    finally:
        core.terminate()
        core.wait(timeout=20)
    with session_scope(url) as s:
        posted = s.scalar(
            select(func.count()).select_from(PostingOutbox).where(PostingOutbox.status == "posted")
        )
        core_rows = s.scalar(select(func.count()).select_from(CorePosting))
    print(
        f"posting: {len(ids)} vouchers, {procs} processes x {args.posting_threads} threads running "
        f"the posting job function, JSON/HTTP to the simulated core (separate uvicorn process): "
        f"{elapsed:.1f}s -> {len(ids) / elapsed:.0f} vouchers/s "
        f"({posted} posted, {core_rows} core postings, {sum(o != 'posted' for o in outcomes)} not)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--authorizers", type=int, default=50)
    parser.add_argument("--vouchers", type=int, default=2000)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--think-ms", type=int, default=0)
    parser.add_argument("--postings", type=int, default=2000)
    parser.add_argument("--posting-processes", type=int, default=4)
    parser.add_argument("--posting-threads", type=int, default=4)
    parser.add_argument("--skip-claims", action="store_true")
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
            bench_claims(url, args)
        bench_posting(url, args)
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
