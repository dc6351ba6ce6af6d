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
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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


class _HeldHeaderTransport:
    """A connection's transport that holds a response's status line and headers back until its
    body is written, so that a response goes out in one send() instead of two.

    uvicorn writes the head when the app sends `http.response.start` and the body when it sends
    `http.response.body`: two system calls, two TCP segments, and on loopback each send runs the
    receiver's side of TCP too. That was 11 % of an API process's CPU under bench.entry
    (py-spy, self time of RequestResponseCycle.send). An interim `100 Continue` goes at once;
    whatever is held goes out before the connection closes and when the response completes
    (a HEAD response writes no body).
    """

    __slots__ = ("_held", "_transport")

    def __init__(self, transport) -> None:  # noqa: ANN001
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 1"):
            self._held = bytes(data)
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            data, self._held = self._held, None
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the transport's
        return getattr(self._transport, name)


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response in one piece (_HeldHeaderTransport)."""

    def connection_made(self, transport) -> None:  # noqa: ANN001
        super().connection_made(_HeldHeaderTransport(transport))

    def on_response_complete(self) -> None:
        self.transport.flush()
        super().on_response_complete()


def _serve_one(app: str, host: str, port: int, log_level: str, share: bool = True) -> None:
    sock = _bind(host, port, share=share)
    config = uvicorn.Config(
        app, factory=True, access_log=False, log_level=log_level, http=OneWriteHttpProtocol
    )
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
