"""The API app for the entry benchmark, with requests in flight capped per worker so that two
uvicorn workers stay within the shared PostgreSQL's connection budget (a request holds its
database connection from authentication to the response)."""

import asyncio
import os

from api.app import build_default_app

IN_FLIGHT = int(os.environ.get("VOUCHERFLOW_BENCH_IN_FLIGHT", "10"))  # threads: api_threads


def build_bench_app():  # noqa: ANN201
    app = build_default_app()
    gate: asyncio.Semaphore | None = None

    async def capped(scope, receive, send):  # noqa: ANN001, ANN202
        nonlocal gate
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if gate is None:
            gate = asyncio.Semaphore(IN_FLIGHT)
        async with gate:
            await app(scope, receive, send)

    return capped
