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


def _start(tmp_path: Path, port: int, workers: int, **extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERFLOW_")}
    env.update(VOUCHERFLOW_DATA_DIR=str(tmp_path / "var"), VOUCHERFLOW_LOG_LEVEL="WARNING")
    env.update(extra)
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


class _Recording:
    """A transport that notes each write (what reaches send())."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_a_response_head_waits_for_its_body_and_goes_out_in_one_write() -> None:
    from api.server import _HeldHeaderTransport

    real = _Recording()
    transport = _HeldHeaderTransport(real)
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim: at once
    assert real.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert len(real.writes) == 1  # held
    transport.write(b"{}")
    assert real.writes[1] == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")  # a HEAD: no body
    transport.flush()  # what the protocol does when the response completes
    assert real.writes[2].endswith(b"content-length: 0\r\n\r\n")
    transport.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    transport.close()  # held bytes go out before the connection closes
    assert real.writes[3].startswith(b"HTTP/1.1 500") and real.closed
    assert transport.get_extra_info("peername") == "info:peername"


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise AssertionError("the server closed the connection")
    return data


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    return data


def _read_response(sock: socket.socket) -> bytes:
    data = _read_head(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += _recv(sock)
    return head + b"\r\n\r\n" + body


def test_the_server_answers_keep_alive_head_and_100_continue_requests(tmp_path: Path) -> None:
    """Over one keep-alive connection to `api.server`: a GET, a HEAD (a head with no body, sent
    when the response completes) and a POST that waits for `100 Continue` before its body."""
    from storage.migrate import upgrade_head

    url = f"sqlite:///{tmp_path / 'server.db'}"
    upgrade_head(url)
    port = _free_port()
    proc = _start(tmp_path, port, workers=1, VOUCHERFLOW_DATABASE_URL=url)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200")
            sock.sendall(b"HEAD /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
            assert _read_head(sock).startswith(b"HTTP/1.1 ")
            body = b'{"username": "nobody", "password": "x"}'
            sock.sendall(
                b"POST /api/auth/login HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
                b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(body)
            )
            assert _read_head(sock).startswith(b"HTTP/1.1 100 Continue")
            sock.sendall(body)
            assert _read_response(sock).startswith(b"HTTP/1.1 401")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
