"""FastAPI dependencies: settings, DB session, blob store, current user and role checks.

Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its
thread pool, and each such hop costs a thread switch per request.
"""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.sessions import Caller, resolve_caller, resolve_token, resolve_user
from storage.blobs import BlobStore
from storage.db import get_request_sessionmaker
from storage.errors import AuthenticationError, PermissionDeniedError
from storage.models import AuthSession, User
from storage.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session per request, holding one connection from its first statement to the end of the
    request (storage.db.RequestSession). Opening one does no I/O (it connects on first use), and
    a handler that committed leaves nothing to roll back; only then is closing done in a worker
    thread (handing a connection back to the pool without a transaction is no I/O)."""
    session = get_request_sessionmaker(request.app.state.settings.effective_database_url)()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_blobs(request: Request) -> BlobStore:
    return request.app.state.blobs


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]


def _token_from(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    cookie = request.cookies.get("vf_session")
    if cookie:
        return cookie
    raise AuthenticationError("需要登录", code="not_authenticated")


def get_auth(request: Request, session: SessionDep) -> tuple[AuthSession, User]:
    auth, user = resolve_token(session, _token_from(request))
    request.state.user_id = user.id
    return auth, user


def caller_with_role(request: Request, session: Session, *roles: str) -> "Caller | User":
    """get_current_user and require_roles, called by a handler that already runs in a worker
    thread: the hot endpoints (claim and submit a key, claim and decide an authorization, run by
    api.in_thread) authenticate there instead of taking a thread-pool hop for a `def`
    dependency. On PostgreSQL the user is a plain row (api.sessions.Caller)."""
    user = resolve_caller(session, _token_from(request))
    request.state.user_id = user.id
    _check_roles(user, roles)
    return user


AuthDep = Annotated[tuple[AuthSession, User], Depends(get_auth)]


def get_current_user(request: Request, session: SessionDep) -> User:
    user = resolve_user(session, _token_from(request))
    request.state.user_id = user.id
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[User], User]:
    async def check(user: CurrentUser) -> User:
        _check_roles(user, roles)
        return user

    return check


def _check_roles(user: User, roles: tuple[str, ...]) -> None:
    if not user.has_role(*roles):
        raise PermissionDeniedError(
            "当前角色无权执行此操作", code="role_forbidden", details={"needs": list(roles)}
        )
