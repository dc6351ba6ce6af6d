"""Entry benchmark: synthetic vouchers keyed by K simulated keyers through the real HTTP API.

Prints residual error, human keys per field, next+submit latency, submissions/s and double
assignments. OCR readings are SIMULATED here (correct with high confidence, or wrong with low
confidence, rarely wrong with high confidence), not produced by the image pipeline.
Run: python -m bench.entry --vouchers 1000 --keyers 50 --error-rate 0.02
Needs PostgreSQL (VOUCHERFLOW_TEST_PG_ADMIN) and Redis (VOUCHERFLOW_TEST_REDIS, default db 14,
flushed at the end): a real RQ worker runs the entry-completion jobs there (its CPU is printed);
the seal-check and posting jobs of finished vouchers are queued there and not run.
Latency, throughput and CPU are counted after --warmup seconds of keying (a server that runs
for hours has its connections open, statements prepared and statistics made); accuracy and
double assignments over the whole run. `--warmup 0` measures from the first key.
"""

import argparse
import functools
import io
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import bindparam, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from bench.entry_keyers import SimKeyer, keyed_form, trap_value
from bench.lean_http import LeanClient, TransportError
from bench.machine import CpuProbe, GcPauses, freeze_long_lived
from entry.defaults import seed_entry_defaults
from entry.opening import open_entry
from entry.routing import OCR_TRUSTED_TYPES
from storage.audit import append_event
from storage.blobs import LocalBlobStore
from storage.builtin_forms import load_builtin_forms
from storage.db import get_engine, session_scope
from storage.entry_models import EntryKey, EntryRoutingRule, EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.migrate import upgrade_head
from storage.models import User, Voucher
from storage.passwords import hash_password
from storage.seed import seed_demo
from storage.voucher_types import seed_builtin_types
from synth.fills import make_fills
from verification.risk import record_image_hash

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get(
    "VOUCHERFLOW_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("VOUCHERFLOW_TEST_REDIS", "redis://127.0.0.1:6379/14")
HUMAN = ("key", "third_key", "whole_voucher")


@dataclass
class Options:
    vouchers: int = 500
    keyers: int = 50
    arbiters: int = 2
    # Tellers whose uploads are keyed (at teller1's branch, in turn), as a central back office
    # keys many tellers' uploads. With one uploader, voucher.uploaded_by_id has a single value
    # in PostgreSQL's statistics and the claim's plans are chosen on a skewed estimate: that is
    # how a slow generic plan of the claim's search stayed hidden (docs/decisions.md, "Hot
    # paths"). --uploaders 1 gives the old setting.
    uploaders: int = 20
    error_rate: float = 0.02
    correlated: float = 0.3
    qr_share: float = 0.3
    ocr_ok: float = 0.92  # correct, high confidence
    ocr_bad_confident: float = 0.003  # wrong (the field's trap misreading), high confidence
    forms: tuple[str, ...] = ("transfer_cheque", "deposit_slip", "wire_transfer")
    ocr_all_types: bool = False  # rule: OCR + one for names too (machine-printed vouchers)
    workers: int = 2
    seed: int = 7
    keep_db: bool = False
    timeout_s: float = 900
    # Seconds between the passes of the autovacuum stand-in (0: none), which analyzes the
    # tables keying fills once they changed as much as autovacuum waits for (see autoanalyze);
    # 60 s is autovacuum_naptime's default.
    analyze_every_s: float = 60.0
    # Seconds of keying before the measurement starts (connections opened, statements prepared,
    # tables holding keys and exposures, then analyzed): a bank's server runs for hours.
    warmup_s: float = 8.0
    think_ms: float = 0  # mean time a keyer takes to key a slice (uniform 0.5x..1.5x)
    # False (the workstation's way): each submission claims the next task too (?next=true);
    # True: GET /next then POST, two requests per key.
    two_requests: bool = False


@dataclass
class Truth:
    fields: dict[tuple[uuid.UUID, str], tuple[str, str, list[str]]] = field(default_factory=dict)
    field_ids: dict[int, tuple[uuid.UUID, str]] = field(default_factory=dict)
    task_map: dict[int, tuple[uuid.UUID, int | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Stats:
    pairs_ms: list[float] = field(default_factory=list)
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    closing_submit_ms: list[float] = field(default_factory=list)  # the key that ends entry
    handed: Counter = field(default_factory=Counter)
    submissions: int = 0
    refused: Counter = field(default_factory=Counter)
    misreadings: int = 0
    server_cpu_s: float = 0.0
    completion_cpu_s: float = 0.0  # the completion worker (entry's end, off the request path)
    pg_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    reference_loop_ms: float = 0.0  # bench.machine: this machine's speed during the run
    client_gc_longest_ms: float = 0.0  # the load generator's longest collection (all keyers wait)
    first_at: float | None = None
    last_at: float = 0.0
    counting: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def restart(self) -> None:
        """Forget the warm-up's latencies and counts (assignments are still checked over the
        whole run)."""
        with self.lock:
            for series in (self.pairs_ms, self.next_ms, self.submit_ms, self.closing_submit_ms):
                series.clear()
            self.submissions = 0
            self.first_at = None

    def stop(self) -> None:
        """Count nothing more (the run's end, when the queue drains)."""
        with self.lock:
            self.counting = False


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (240, 40), 255).save(buf, format="PNG")
    return buf.getvalue()


def create_database() -> tuple[str, str]:
    name = f"vf_bench_entry_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed_users(url: str, opts: Options) -> None:
    with session_scope(url) as s:
        seed_builtin_types(s)  # as `voucherflow migrate` does
        seed_demo(s, password="demo")
        seed_entry_defaults(s)
        if opts.ocr_all_types:
            s.add(
                EntryRoutingRule(
                    name="机打凭证 OCR+一人",
                    priority=50,
                    mode="slice",
                    field_policies={t: "ocr_plus_one" for t in ("name", "bank_name", "place")},
                    ocr_min_confidence=0.9,
                )
            )
        pw = hash_password("bench")
        for i in range(opts.keyers):
            s.add(User(username=f"bkeyer{i:03d}", password_hash=pw, roles=["keyer"]))
        for i in range(opts.arbiters):
            s.add(User(username=f"barbiter{i}", password_hash=pw, roles=["arbiter"]))
        branch = s.scalar(select(User.branch_id).where(User.username == "teller1"))
        for i in range(1, opts.uploaders):  # teller1 is the first
            s.add(
                User(
                    username=f"bteller{i:02d}", password_hash=pw, roles=["teller"], branch_id=branch
                )
            )
        s.commit()


def simulated_ocr(
    rng: random.Random, truth: str, ftype: str, key: str, choices: list[str], opts: Options
) -> tuple[str | None, float | None]:
    if not truth:
        return None, None
    roll = rng.random()
    if roll < opts.ocr_ok:
        return truth, 0.97
    if roll < opts.ocr_ok + opts.ocr_bad_confident:
        trap = trap_value(truth, ftype, key, choices)
        return (trap, 0.95) if trap else (truth, 0.95)
    return (truth if rng.random() < 0.5 else None), 0.4


def make_vouchers(url: str, blobs: LocalBlobStore, opts: Options, truth: Truth, progress) -> None:  # noqa: ANN001
    forms = load_builtin_forms()
    rng = random.Random(opts.seed)
    png = _png()
    today = date.today()
    with session_scope(url) as s:
        teller = s.scalar(select(User).where(User.username == "teller1"))
        tellers = [teller.id] + list(
            s.scalars(select(User.id).where(User.username.like("bteller%")).order_by(User.username))
        )
        for n in range(opts.vouchers):
            form = forms[opts.forms[n % len(opts.forms)]]
            fills = make_fills(form, rng, processing_date=today)
            with_qr = bool(form.get("qr")) and rng.random() < opts.qr_share
            vid = uuid.uuid4()
            v = Voucher(
                id=vid,
                branch_id=teller.branch_id,
                uploaded_by_id=tellers[n % len(tellers)],
                status="awaiting_entry",
                original_key=f"bench/{vid.hex}/original.png",
                sha256=vid.hex + vid.hex,
                size_bytes=len(png),
                detected_format="png",
                width=240,
                height=40,
                form=form["form"],
                serial=f"{form['serial']['prefix']}{n:010d}",
            )
            blobs.put_bytes(v.original_key, png, "image/png")
            s.add(v)
            append_event(s, v, kind="transition", actor_id=None, to_status="awaiting_entry")
            s.flush()
            # The imaging job stores each scan's dHash (workers.imaging_job); these stand-ins
            # share one tiny image, so each gets a hash of its own, as distinct scans would:
            # one shared hash made every voucher a near-duplicate of all before it. Taken from
            # the voucher's random id, not `rng`: the vouchers' fills stay what they were.
            record_image_hash(s, v, f"{vid.int & (2**64 - 1):016x}")
            for f in form["fields"]:
                canonical = fills[f["name"]].canonical
                choices = list(f.get("choices") or [])
                key = f"{vid}:{f['name']}"
                truth.fields[(vid, f["name"])] = (canonical, f["type"], choices)
                ocr_value, conf = (None, None)
                if f["type"] in OCR_TRUSTED_TYPES or opts.ocr_all_types:
                    ocr_value, conf = simulated_ocr(rng, canonical, f["type"], key, choices, opts)
                slice_key = f"bench/{vid.hex}/{f['name']}.png"
                blobs.put_bytes(slice_key, png, "image/png")
                s.add(
                    VoucherField(
                        voucher_id=vid,
                        name=f["name"],
                        label=f.get("label", ""),
                        field_type=f["type"],
                        required=bool(f.get("required")),
                        slice_key=slice_key,
                        ocr_value=ocr_value,
                        ocr_confidence=conf,
                        ocr_engine="simulated" if conf else None,
                        qr_value=(canonical or None) if with_qr else None,
                    )
                )
            s.flush()
            open_entry(s, v, settings=None)
            if n % 50 == 49:
                s.commit()
            progress(n + 1)
        s.commit()
        for fid, vid, name in s.execute(
            select(VoucherField.id, VoucherField.voucher_id, VoucherField.name)
        ):
            truth.field_ids[fid] = (vid, name)
        for tid, vid, fid in s.execute(
            select(EntryTask.id, EntryTask.voucher_id, EntryTask.field_id)
        ):
            truth.task_map[tid] = (vid, fid)


def lookup_task(url: str, truth: Truth, task_id: int) -> tuple[uuid.UUID, int | None]:
    with truth.lock:  # one lookup at a time: the shared PostgreSQL has few connections to spare
        hit = truth.task_map.get(task_id)
        if hit:
            return hit
        with session_scope(url) as s:
            t = s.get(EntryTask, task_id)
            hit = (t.voucher_id, t.field_id)
        truth.task_map[task_id] = hit
        return hit


def _service_env(url: str, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERFLOW_")}
    env.update(
        VOUCHERFLOW_DATABASE_URL=url,
        VOUCHERFLOW_DATA_DIR=data_dir,
        VOUCHERFLOW_LOG_LEVEL="WARNING",
        # Jobs go to Redis as in production. Entry completion (the job the last key of a voucher
        # hands over) is run by the completion worker below and its CPU is reported; the jobs
        # a finished voucher starts (seal check, posting) are not consumed here.
        VOUCHERFLOW_REDIS_URL=REDIS,
        PYTHONPATH=str(ROOT),
    )
    return env


def start_completion_worker(url: str, data_dir: str) -> subprocess.Popen:
    """`voucherflow worker default --no-fork`: finishes entry of vouchers whose last field
    settled (cross checks, verification, routing)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "worker", "default", "--no-fork"],
        cwd=ROOT,
        env=_service_env(url, data_dir),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )


def start_server(url: str, data_dir: str, port: int, workers: int) -> subprocess.Popen:
    env = _service_env(url, data_dir)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.server",
            "bench.entry_server:build_bench_app",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def wait_ready(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not start")


def logged_in(base: str, username: str) -> LeanClient:
    client = LeanClient(base, timeout=60)
    r = client.post("/api/auth/login", json={"username": username, "password": "bench"})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def keyer_loop(
    client: LeanClient,
    url: str,
    seed: int,
    opts: Options,
    truth: Truth,
    stats: Stats,
    done: threading.Event,
) -> None:
    sim = SimKeyer(seed, opts.error_rate, opts.correlated)
    following = None  # a task the last submission's answer leased to this keyer
    if opts.think_ms:
        # Keyers arrive over one mean think time, as in bench.authorization: fifty first
        # requests in the same millisecond would be a start-up queue, not the steady state.
        time.sleep(sim.rng.uniform(0, opts.think_ms / 1000))
    try:
        while not done.is_set():
            try:
                following = _key_one(client, url, sim, opts, truth, stats, following)
            except TransportError as exc:
                following = None  # its lease expires and returns it to the pool
                with stats.lock:
                    stats.refused[f"transport_{type(exc).__name__}"] += 1
                time.sleep(0.5)
    finally:
        client.close()


def _key_one(client, url, sim, opts, truth, stats, task=None):  # noqa: ANN001, ANN202
    """Take the task the last submission leased (or ask for one), read the truth as this keyer
    reads, submit; time next + submit. Returns the task the submission's answer leased."""
    t_next = 0.0
    if task is None:
        t0 = time.perf_counter()
        r = client.get("/api/entry/next")
        if r.status_code == 204:
            time.sleep(0.2)
            return None
        if r.status_code != 200:
            with stats.lock:
                stats.refused[f"next_http_{r.status_code}"] += 1
            return None
        task = r.json()
        t_next = time.perf_counter() - t0
        with stats.lock:
            if stats.counting:
                stats.next_ms.append(t_next * 1000)
    vid, _ = lookup_task(url, truth, task["id"])
    values, wrong = {}, 0
    for f in task["fields"]:
        canonical, ftype, choices = truth.fields[(vid, f["name"])]
        keyed, misread = sim.read(canonical, ftype, f"{vid}:{f['name']}", choices)
        wrong += misread
        values[f["name"]] = (
            {"value": keyed, "keystrokes": len(keyed) + 1} if keyed else {"flag": "blank"}
        )
    if opts.think_ms:
        time.sleep(opts.think_ms / 1000 * sim.rng.uniform(0.5, 1.5))  # keying the value
    t1 = time.perf_counter()
    status, closing, following = _submit(client, task, values, truth, vid, stats, opts)
    t_submit = time.perf_counter() - t1
    with stats.lock:
        stats.handed[task["id"]] += 1
        stats.misreadings += wrong
        if status != 200:
            stats.refused[f"http_{status}"] += 1
        if status == 200 and stats.counting:
            stats.submissions += 1
            stats.pairs_ms.append((t_next + t_submit) * 1000)
            (stats.closing_submit_ms if closing else stats.submit_ms).append(t_submit * 1000)
            now = time.perf_counter()
            stats.first_at = stats.first_at or now
            stats.last_at = now
    return following


def _submit(client, task, values, truth, vid, stats, opts):  # noqa: ANN001, ANN202
    """Submit; a refused value is looked at again and keyed right (validation caught it).
    Returns the status, whether this key ended the voucher's entry and the next task leased."""
    path = f"/api/entry/tasks/{task['id']}" + ("" if opts.two_requests else "?next=true")
    for _attempt in range(3):
        r = client.post(path, json=submit_body(task, values))
        if r.status_code != 422:
            answer = r.json() if r.status_code == 200 else {}
            closing = answer.get("voucher_state") is not None
            return r.status_code, closing, answer.get("next")
        err = r.json()["error"]
        with stats.lock:
            stats.refused[err["code"]] += 1
        names = list((err["details"].get("fields") or {}).keys()) or [err["details"].get("field")]
        for name in names:
            canonical, ftype, _ = truth.fields[(vid, name)]
            values[name] = confirmed_key(keyed_form(canonical, ftype))
    return r.status_code, False, None


def confirmed_key(value: str) -> dict:
    """A key typed right, its warning (if any) confirmed; an empty value keyed as blank."""
    if not value:
        return {"flag": "blank"}
    return {"value": value, "confirm_warning": True, "keystrokes": len(value) + 1}


def submit_body(task: dict, values: dict[str, dict]) -> dict:
    """The submission of `values` (field name -> key) for a slice or a whole-voucher task."""
    if task["kind"] == "whole_voucher":
        return {"token": task["token"], "values": values}
    (only,) = values.values()
    return {"token": task["token"], **only}


def arbiter_loop(client: LeanClient, url: str, truth: Truth, done: threading.Event) -> None:
    while not done.is_set():
        try:
            _arbitrate_one(client, url, truth)
        except TransportError:  # a dropped connection or an error answer: back off, go on
            time.sleep(0.5)


def _arbitrate_one(client: LeanClient, url: str, truth: Truth) -> None:
    r = client.get("/api/arbitration/next")
    if r.status_code == 204:
        time.sleep(0.2)
        return
    r.raise_for_status()
    task = r.json()
    vid, _ = lookup_task(url, truth, task["id"])
    canonical, _, _ = truth.fields[(vid, task["fields"][0]["name"])]
    body = {"token": task["token"], "decision": "value", "value": canonical}
    if not canonical:
        body = {"token": task["token"], "decision": "blank"}
    body["confirm_warning"] = True
    client.post(f"/api/arbitration/tasks/{task['id']}", json=body)


def open_entries(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(
            select(func.count()).select_from(VoucherEntry).where(VoucherEntry.state == "open")
        )


def residual_settled_by(url: str, field_ids: list[int]) -> list[str]:
    """How each wrongly settled field settled: its source (keyed, ocr, qr, arbiter) and the kind
    and outcome of each of its keys, in order ("agreed" keys carried the wrong value)."""
    if not field_ids:
        return []
    with session_scope(url) as s:
        rows = s.execute(
            select(VoucherField.id, VoucherField.source, EntryKey.kind, EntryKey.outcome)
            .join(EntryKey, EntryKey.field_id == VoucherField.id, isouter=True)
            .where(VoucherField.id.in_(field_ids))
            .order_by(VoucherField.id, EntryKey.id)
        ).all()
    by_field: dict[int, tuple[str, list[str]]] = {}
    for fid, source, kind, outcome in rows:
        src, keys = by_field.setdefault(fid, (source, []))
        if kind is not None:
            keys.append(f"{kind}:{outcome}")
    return [f"{src} <- {', '.join(keys) or 'no keys'}" for src, keys in by_field.values()]


def report(url: str, opts: Options, truth: Truth, stats: Stats, wall: float, out) -> dict:  # noqa: ANN001
    with session_scope(url) as s:
        settled = s.execute(
            select(
                VoucherField.voucher_id, VoucherField.name, VoucherField.value, VoucherField.id
            ).where(VoucherField.status == "settled")
        ).all()
        human = s.scalar(select(func.count()).select_from(EntryKey).where(EntryKey.kind.in_(HUMAN)))
        arbitrated = s.scalar(
            select(func.count()).select_from(EntryKey).where(EntryKey.kind == "arbitrate")
        )
        states = Counter(s.scalars(select(VoucherEntry.state)))
        by_source = Counter(s.scalars(select(VoucherField.source)))
        claimed_twice = s.execute(
            text(
                "select count(*) from (select details->>'task' t, details->>'token' k, count(*) "
                "from voucher_event where kind='entry_task_claimed' group by 1, 2 "
                "having count(*) > 1) x"
            )
        ).scalar()
        # Each submission's audit event names the fields its task is for (a cross-check of what
        # the server loaded against what the task row says), and no field waits without a task.
        misnamed = s.execute(
            text(
                "select count(*) from voucher_event e "
                "join entry_task t on t.id = (e.details->>'task')::int "
                "join voucher_field f on f.id = t.field_id "
                "where e.kind = 'entry_key_submitted' and (e.details->'fields'->>0) <> f.name"
            )
        ).scalar()
        taskless = s.execute(
            text(
                "select count(*) from voucher_field f join voucher v on v.id = f.voucher_id "
                "where v.status = 'awaiting_entry' and f.status = 'pending' and not exists ("
                "select 1 from entry_task t where t.voucher_id = f.voucher_id "
                "and t.status in ('open', 'leased') and (t.field_id = f.id or t.field_id is null))"
            )
        ).scalar()
    wrong_ids = [
        fid for vid, name, value, fid in settled if (value or "") != truth.fields[(vid, name)][0]
    ]
    wrong = len(wrong_ids)
    n_fields = len(truth.fields)
    pairs = sorted(stats.pairs_ms)
    span = (stats.last_at - stats.first_at) if stats.first_at else 0
    dup = sum(1 for n in stats.handed.values() if n > 1)
    figures = {
        "vouchers": opts.vouchers,
        "fields": n_fields,
        "settled_fields": len(settled),
        "residual_errors": wrong,
        "residual_per_10k": round(10_000 * wrong / max(1, len(settled)), 3),
        "residual_settled_by": residual_settled_by(url, wrong_ids),
        "human_keys": human,
        "human_keys_per_field": round(human / max(1, n_fields), 3),
        "arbitrated_fields": arbitrated,
        "sources": dict(by_source),
        "voucher_states": dict(states),
        "misreadings_keyed": stats.misreadings,
        "refused_by_validation": dict(stats.refused),
        "submissions": stats.submissions,
        "submissions_per_s": round(stats.submissions / span, 1) if span else None,
        "next_submit_p50_ms": round(statistics.median(pairs), 1) if pairs else None,
        "next_submit_p99_ms": _p99(pairs),
        "next_p99_ms": _p99(stats.next_ms),
        "next_requests": len(stats.next_ms),  # GET /next (a submission had leased none)
        "submit_p99_ms": _p99(stats.submit_ms),
        "closing_submit_p50_ms": (
            round(statistics.median(stats.closing_submit_ms), 1)
            if stats.closing_submit_ms
            else None
        ),
        "closing_submit_p99_ms": _p99(stats.closing_submit_ms),
        "server_cpu_ms_per_next_submit": (
            round(1000 * stats.server_cpu_s / stats.submissions, 1) if stats.submissions else None
        ),
        "completion_worker_cpu_ms_per_next_submit": (
            round(1000 * stats.completion_cpu_s / stats.submissions, 1)
            if stats.submissions
            else None
        ),
        "postgres_cpu_ms_per_next_submit": (
            round(1000 * stats.pg_cpu_s / stats.submissions, 1) if stats.submissions else None
        ),
        "simulated_keyers_cpu_ms_per_next_submit": (
            round(1000 * stats.client_cpu_s / stats.submissions, 1) if stats.submissions else None
        ),
        "reference_loop_ms (machine speed)": stats.reference_loop_ms,
        "load_generator_longest_gc_ms": stats.client_gc_longest_ms,
        "tasks_handed_out_twice_client": dup,
        "claims_with_same_token_server": claimed_twice,
        "events_naming_another_field": misnamed,
        "pending_fields_without_task": taskless,
        "wall_s": round(wall, 1),
    }
    out.print("[bold]Entry simulation[/bold] — OCR values are SIMULATED (not the image pipeline)")
    out.print(
        f"  keyers {opts.keyers}, arbiters {opts.arbiters}, uploaders {opts.uploaders}, "
        f"p={opts.error_rate}, "
        f"correlated share {opts.correlated}, QR share {opts.qr_share}, "
        f"forms {', '.join(opts.forms)}, API processes {opts.workers}, "
        f"keying time per slice {opts.think_ms:.0f} ms (mean), "
        + (
            f"figures from {opts.warmup_s:g} s of keying on (warm-up), "
            if opts.warmup_s
            else "figures from the first key (no warm-up), "
        )
        + (
            f"autovacuum's ANALYZE rule checked every {opts.analyze_every_s:g} s, "
            if opts.analyze_every_s
            else "no ANALYZE while keying, "
        )
        + (
            "next and submit as two requests, "
            if opts.two_requests
            else "each submission claims the next task (?next=true; GET /next only after none), "
        )
        + f"OCR+one for names: {opts.ocr_all_types}"
    )
    for k, v in figures.items():
        out.print(f"  {k:32s} {v}")
    return figures


def run(opts: Options, out) -> dict:  # noqa: ANN001
    from rich.progress import Progress

    name, url = create_database()
    data_dir = f"/tmp/{name}"
    server = completer = None
    try:
        upgrade_head(url)
        seed_users(url, opts)
        blobs = LocalBlobStore(Path(data_dir) / "blobs")
        truth, stats, done = Truth(), Stats(), threading.Event()
        with Progress(console=out, transient=False) as progress:
            t = progress.add_task("vouchers inserted (pipeline stand-in)", total=opts.vouchers)
            make_vouchers(url, blobs, opts, truth, lambda n: progress.update(t, completed=n))
        with get_engine(url).connect() as conn:
            # A live system's tables have statistics (autovacuum); a freshly loaded one not yet.
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        get_engine(url).dispose()
        port = _free_port()
        server = start_server(url, data_dir, port, opts.workers)
        completer = start_completion_worker(url, data_dir)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        # Log everybody in first: argon2 password checks are not part of next + submit.
        keyers = [logged_in(base, f"bkeyer{i:03d}") for i in range(opts.keyers)]
        arbiters = [logged_in(base, f"barbiter{i}") for i in range(opts.arbiters)]
        threads = [
            threading.Thread(
                target=keyer_loop,
                args=(client, url, opts.seed * 1000 + i, opts, truth, stats, done),
                daemon=True,
            )
            for i, client in enumerate(keyers)
        ] + [
            threading.Thread(target=arbiter_loop, args=(client, url, truth, done), daemon=True)
            for client in arbiters
        ]
        freeze_long_lived()  # the ground truth and the keyers' clients live to the end
        with CpuProbe() as probe, GcPauses() as gc_pauses, Progress(console=out) as progress:
            for th in threads:
                th.start()
            t = progress.add_task("vouchers through entry", total=opts.vouchers)
            measuring, started = not opts.warmup_s, time.perf_counter()
            analyzed_at = start = started
            counters = _cpu_counters(server, completer, name)
            stopped: float | None = None
            while time.perf_counter() - started < opts.timeout_s:
                elapsed = time.perf_counter() - started
                if opts.warmup_s and analyzed_at == started and elapsed >= opts.warmup_s / 2:
                    # Statistics as autovacuum would have made them by now, half-way through
                    # the warm-up: the plans it invalidates are made again before measuring.
                    autoanalyze(url, every_table=True)
                    analyzed_at = time.perf_counter()
                if not measuring and elapsed >= opts.warmup_s:
                    stats.restart()  # every figure counted from here
                    counters = _cpu_counters(server, completer, name)
                    measuring, start = True, time.perf_counter()
                if (
                    opts.analyze_every_s
                    and time.perf_counter() - analyzed_at > opts.analyze_every_s
                ):
                    autoanalyze(url)
                    analyzed_at = time.perf_counter()
                left = open_entries(url)
                progress.update(
                    t,
                    completed=opts.vouchers - left,
                    description=f"vouchers through entry ({stats.submissions} keys)"
                    + ("" if measuring else ", warming up"),
                )
                if measuring and stopped is None and left < opts.keyers:
                    # Fewer vouchers than keyers left: the queue drains, which a bank's
                    # doesn't at this rate. Figures stop here; keying goes on to the end.
                    stopped = time.perf_counter()
                    stats.stop()
                    final = _cpu_counters(server, completer, name)
                if left == 0:
                    break
                time.sleep(0.5)
        done.set()
        if stopped is None:
            stopped, final = time.perf_counter(), _cpu_counters(server, completer, name)
            stats.stop()
        wall = stopped - start
        stats.client_gc_longest_ms = gc_pauses.longest_ms()
        stats.reference_loop_ms = probe.median_ms()
        if not measuring:
            raise RuntimeError("every voucher was keyed while warming up: add vouchers")
        client_at_start, cpu_at_start, completer_at_start, pg_at_start = counters
        client_at_end, cpu_at_end, completer_at_end, pg_at_end = final
        stats.server_cpu_s = cpu_at_end - cpu_at_start
        stats.completion_cpu_s = completer_at_end - completer_at_start
        stats.client_cpu_s = client_at_end - client_at_start
        stats.pg_cpu_s = sum(cpu - pg_at_start.get(pid, 0.0) for pid, cpu in pg_at_end.items())
        for th in threads:
            th.join(timeout=10)
        return report(url, opts, truth, stats, wall, out)
    finally:
        for proc in (server, completer):
            if proc is not None:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=20)
        get_engine(url).dispose()
        if not opts.keep_db:
            drop_database(name)
        import redis

        redis.Redis.from_url(REDIS).flushdb()


def _cpu_counters(server, completer, database: str) -> tuple:  # noqa: ANN001
    """CPU so far of this process, the API, the completion worker and the database's backends."""
    return (
        time.process_time(),
        server_cpu_seconds(server.pid),
        server_cpu_seconds(completer.pid),
        pg_backend_cpu(database),
    )


# The tables keying fills or churns. A live system's have statistics that follow them.
_KEYING_TABLES = (
    "entry_task",
    "entry_exposure",
    "entry_key",
    "voucher_field",
    "voucher",
    "voucher_event",
)
_CHANGED = text(
    "SELECT relname, n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables"
    " WHERE relname IN :names"
).bindparams(bindparam("names", expanding=True))


def autoanalyze(url: str, *, every_table: bool = False) -> list[str]:
    """A pass of autovacuum's analyzing, which is off on some servers (this machine's
    included): ANALYZE each keying table changed by more than 50 rows + 10 % of its rows since
    its last analysis (autovacuum_analyze_threshold and _scale_factor), throttled as
    autovacuum is (a 2 ms sleep per 200 cost units: autovacuum_vacuum_cost_delay and
    vacuum_cost_limit). `every_table`: all of them (the end of the warm-up). Returns the
    tables analyzed.

    Without current statistics a prepared statement's generic plan can be made on a table's
    empty state: the claim's eligibility check then scanned every exposure row in sequence
    (8,750 of them, 3 ms) at every task it looked at (docs/decisions.md, "Hot paths"). An
    unthrottled ANALYZE of all six tables every 5 s, this bench's earlier stand-in, cost
    100-130 ms of PostgreSQL CPU each time and showed in the latency's tail. Its CPU counts
    with PostgreSQL's (a backend of the benchmark's database)."""
    with get_engine(url).connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if every_table:
            due = list(_KEYING_TABLES)
        else:
            due = [
                name
                for name, changed, rows in conn.execute(_CHANGED, {"names": list(_KEYING_TABLES)})
                if changed > 50 + 0.1 * rows
            ]
        if due and not every_table:  # the warm-up's is not measured: at full speed
            conn.execute(text("SET vacuum_cost_delay = '2ms'"))
            conn.execute(text("SET vacuum_cost_limit = 200"))
        if due:
            conn.execute(text(f"ANALYZE {', '.join(due)}"))
    return due


def _proc_cpu(pid: int) -> float:
    """CPU time (user + system) of one process in seconds, from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p99(values: list[float]) -> float | None:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1) if ordered else None


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the API server's process tree, from /proc."""
    total = 0.0
    pids = [pid]
    while pids:
        p = pids.pop()
        total += _proc_cpu(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        pids.extend(int(c) for c in children)
    return total


@functools.lru_cache(maxsize=1)
def _admin_engine():  # noqa: ANN202
    # Built once: building an engine holds this process's GIL for milliseconds, and the
    # keyers' threads, whose latencies are measured, wait for it.
    return create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def pg_backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to `database` (same machine)."""
    with _admin_engine().connect() as conn:
        pids = conn.execute(
            text("select pid from pg_stat_activity where datname = :d"), {"d": database}
        ).scalars()
        return {pid: _proc_cpu(pid) for pid in pids}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__)
    d = Options()
    p.add_argument("--vouchers", type=int, default=d.vouchers)
    p.add_argument("--keyers", type=int, default=d.keyers)
    p.add_argument("--arbiters", type=int, default=d.arbiters)
    p.add_argument("--uploaders", type=int, default=d.uploaders, help="tellers who uploaded")
    p.add_argument("--error-rate", type=float, default=d.error_rate)
    p.add_argument("--correlated", type=float, default=d.correlated)
    p.add_argument("--qr-share", type=float, default=d.qr_share)
    p.add_argument("--forms", default=",".join(d.forms))
    p.add_argument("--ocr-all-types", action="store_true")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--timeout", type=float, default=d.timeout_s, help="seconds of keying")
    p.add_argument(
        "--analyze-every",
        type=float,
        default=d.analyze_every_s,
        help="seconds between passes of the autovacuum stand-in (0: none)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=d.warmup_s,
        help="seconds of keying before the measurement starts (0: measure from the start)",
    )
    p.add_argument(
        "--think-ms", type=float, default=d.think_ms, help="mean keying time per slice (ms)"
    )
    p.add_argument(
        "--two-requests",
        action="store_true",
        help="GET /next then POST per key, instead of one POST ?next=true",
    )
    a = p.parse_args(argv)
    return Options(
        vouchers=a.vouchers,
        keyers=a.keyers,
        arbiters=a.arbiters,
        uploaders=max(1, a.uploaders),
        error_rate=a.error_rate,
        correlated=a.correlated,
        qr_share=a.qr_share,
        forms=tuple(a.forms.split(",")),
        ocr_all_types=a.ocr_all_types,
        workers=a.workers,
        seed=a.seed,
        keep_db=a.keep_db,
        timeout_s=a.timeout,
        analyze_every_s=a.analyze_every,
        warmup_s=a.warmup,
        think_ms=a.think_ms,
        two_requests=a.two_requests,
    )


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console

    run(parse_args(argv), Console())


if __name__ == "__main__":
    main()
