"""Test helpers shared by the suites: service URLs, logins, scan images, worker processes."""

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import text

from storage.db import get_engine, get_sessionmaker, session_scope
from storage.schema import metadata
from storage.seed import seed_demo
from storage.settings import Settings, get_settings
from storage.voucher_types import seed_builtin_types

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset_database(url: str) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with get_engine(url).begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f"DELETE FROM {t}"))
    with session_scope(url) as session:
        seed_demo(session, password="demo")
        seed_builtin_types(session)
        session.commit()


def apply_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> Settings:
    for key in list(os.environ):
        if key.startswith("VOUCHERFLOW_") and not key.startswith("VOUCHERFLOW_TEST_"):
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(f"VOUCHERFLOW_{key.upper()}", value)
    get_settings.cache_clear()
    return get_settings()


def login(client, username: str, password: str = "demo") -> dict[str, str]:  # noqa: ANN001
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def scan_bytes(seed: int = 0, size: tuple[int, int] = (1600, 800), fmt: str = "PNG") -> bytes:
    """A plain scan-like image (unique per seed) for intake tests that do not need a form."""
    img = Image.new("L", size, 235)
    draw = ImageDraw.Draw(img)
    draw.rectangle([40, 40, size[0] - 40, size[1] - 40], outline=0, width=6)
    draw.text((100, 100), f"scan {seed}", fill=0)
    for i in range(seed % 7 + 1):
        draw.line([(80 + 30 * i, 200), (400 + 30 * i, 500)], fill=20, width=3)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


class WorkerProcess:
    """A real `voucherflow worker` subprocess (RQ worker + forked work-horses, or with args
    such as `posting --no-fork` a worker that runs its jobs in its own process)."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ()):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERFLOW_")}
        full_env.update({f"VOUCHERFLOW_{k.upper()}": v for k, v in env.items()})
        full_env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", *args],
            cwd=ROOT,
            env=full_env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        """SIGKILL the worker and every descendant (RQ's work-horse runs in its own session)."""
        import signal

        for pid in [*self._descendants(self.proc.pid), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    @staticmethod
    def _descendants(pid: int) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        children = [int(x) for x in out.split()]
        return [d for c in children for d in WorkerProcess._descendants(c)] + children

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def db_session(url: str):  # noqa: ANN201
    return get_sessionmaker(url)()


def insert_entered_voucher(
    session,  # noqa: ANN001
    *,
    uploader: str,
    form: str,
    serial: str,
    values: dict[str, str],
    field_type=lambda name: "x",  # noqa: ANN001
    source=lambda name: "keyed",  # noqa: ANN001
    **columns,  # noqa: ANN003
):  # noqa: ANN201
    """A voucher as entry leaves it (awaiting_entry, every field settled), without a scan.

    For tests of what comes after entry; the caller commits.
    """
    import hashlib
    import uuid

    from sqlalchemy import select

    from storage.imaging_models import VoucherField
    from storage.lifecycle import VoucherStatus, move_to, start_lifecycle
    from storage.models import User, Voucher

    user = session.scalar(select(User).where(User.username == uploader))
    voucher = Voucher(
        branch_id=user.branch_id,
        uploaded_by_id=user.id,
        status=VoucherStatus.RECEIVED,
        original_key=f"originals/test-{uuid.uuid4().hex}",
        sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        size_bytes=1000,
        detected_format="png",
        width=1600,
        height=800,
        form=form,
        serial=serial,
        **columns,
    )
    session.add(voucher)
    session.flush()
    start_lifecycle(session, voucher, actor_id=user.id)
    move_to(session, voucher, VoucherStatus.PROCESSING, actor_id=None)
    move_to(session, voucher, VoucherStatus.AWAITING_ENTRY, actor_id=None)
    for name, value in values.items():
        session.add(
            VoucherField(
                voucher_id=voucher.id,
                name=name,
                field_type=field_type(name),
                value=value,
                source=source(name),
                status="settled",
            )
        )
    session.flush()
    return voucher
