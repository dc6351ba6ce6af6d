"""Serving the API from several processes on one port.

uvicorn's own `--workers` shares one listening socket between its processes, and whichever
process is least busy when a connection arrives accepts it; with long-lived keep-alive
connections (browsers, a load balancer's pool) that leaves one process with most of the
connections and the other idle. Here every process binds its own socket with SO_REUSEPORT and
the kernel spreads new connections over them evenly.
"""

import gc
import multiprocessing
import signal
import socket
from types import FrameType

import uvicorn


def _bind(host: str, port: int, *, share: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:  # one process alone keeps "address in use" if another server holds the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _serve_one(app: str, host: str, port: int, log_level: str, share: bool = True) -> None:
    sock = _bind(host, port, share=share)
    config = uvicorn.Config(app, factory=True, access_log=False, log_level=log_level)
    config.load()  # import and build the app now, so that what it is made of can be frozen
    # The modules, routes and models alive now live as long as the process: out of the cyclic
    # collector's reach, a full collection no longer walks them. Measured in-process on the
    # authorization path: one 120 ms full collection every ~600 requests before, none after.
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run(sockets=[sock])


def serve(app: str, *, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Run the app factory `module:function` in `workers` processes until SIGTERM or SIGINT."""
    if workers <= 1:
        _serve_one(app, host, port, log_level, share=False)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_serve_one, args=(app, host, port, log_level), daemon=False)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()


def main(argv: list[str] | None = None) -> None:
    """`python -m api.server module:factory --port P --workers N` (used by the benchmarks)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    serve(args.app, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)


if __name__ == "__main__":
    main()
