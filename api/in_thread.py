"""The hot endpoints' one thread hop: the handler and its database session, from open to close.

A plain `def` endpoint with the session as a dependency (`SessionDep`, a generator) costs the
event loop an AsyncExitStack per request: FastAPI enters the generator there, runs the
endpoint in the thread pool, then closes the session back on the loop, where a connection is
handed back to the pool. Under the entry benchmark that was about 8 % of an API process's CPU
(py-spy: `_solve_generator`, `AsyncExitStack.__aexit__`, `get_db`).

The hot endpoints (claim and submit a key, claim and decide an authorization) are `async def`
instead, with only their path, query and body parameters, and call `in_thread`: the session is
opened, used and closed in the one worker thread that runs the handler. Jobs that the handler's
commits hand off (storage.after_commit) are enqueued once the answer is sent: the keyer or
authorizer does not wait on Redis.
"""

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from fastapi import Request, Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from storage.after_commit import defer_until_response, run_deferred
from storage.db import get_request_sessionmaker

P = ParamSpec("P")


async def in_thread(
    request: Request,
    handler: Callable[Concatenate[Request, Session, P], Response],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Response:
    """`handler(request, session, *args, **kwargs)` in a worker thread, with a request session
    (storage.db.RequestSession) closed in that thread whatever the handler does; an open
    transaction is rolled back by the close."""
    return await run_in_threadpool(_run, request, handler, args, kwargs)


def _run(
    request: Request,
    handler: Callable[..., Response],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Response:
    session = get_request_sessionmaker(request.app.state.settings.effective_database_url)()
    deferred = defer_until_response(session)
    try:
        response = handler(request, session, *args, **kwargs)
    finally:
        session.close()
    if deferred:
        response.background = BackgroundTask(run_deferred, deferred)
    return response
