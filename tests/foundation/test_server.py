"""`voucherflow serve --workers N`: N processes on one port, each bound with SO_REUSEPORT, all
answering; SIGTERM stops them all. One process alone refuses a port that is taken."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _start(tmp_path: Path, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERFLOW_")}
    env.update(VOUCHERFLOW_DATA_DIR=str(tmp_path / "var"), VOUCHERFLOW_LOG_LEVEL="WARNING")
    cmd = [sys.executable, "-m", "api.server", "api.app:build_default_app"]
    return subprocess.Popen(
        [*cmd, "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("server did not answer")


def test_two_processes_share_the_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, port, workers=2)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        time.sleep(2)  # the second process may still be loading the app
        workers = [c for c in _children(proc.pid) if "spawn_main" in _cmdline(c)]
        assert len(workers) == 2
        for _ in range(20):  # new connections each time: the kernel spreads them
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) is not None
        assert not any(Path(f"/proc/{w}").exists() and _alive(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_one_process_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start(tmp_path, port, workers=1)
        assert proc.wait(timeout=60) != 0
        assert b"Address already in use" in proc.stderr.read()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
