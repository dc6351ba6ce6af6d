"""Bearer-token sessions: issue on login, resolve on every request, revoke on logout.

Only the token's SHA-256 is stored. Revocation and user deactivation apply on the next request.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.driver import DriverStatement, entity_columns, fetch_one, plain_row
from storage.errors import AuthenticationError
from storage.models import AuthSession, User, utcnow
from storage.passwords import verify_password


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(session: Session, *, username: str, password: str, ttl_hours: int) -> tuple[str, User]:
    user = session.scalar(select(User).where(User.username == username))
    # Verify even for unknown users' sake of equal timing is not needed here: argon2 dominates
    # only when a hash exists, so unknown users and bad passwords get the same message.
    if user is None or not verify_password(user.password_hash, password):
        raise AuthenticationError("用户名或密码错误", code="bad_credentials")
    if not user.active:
        raise AuthenticationError("账户已停用", code="user_inactive")
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=_digest(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(hours=ttl_hours),
        )
    )
    return token, user


# Built once: every request runs one of them, and a prebuilt statement's cache key is computed
# once. Most callers need only the user: the session's row is then read as two columns, not as
# an entity of its own (the hot endpoints authenticate on every key).
_BY_TOKEN = (
    select(AuthSession, User)
    .join(User, User.id == AuthSession.user_id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)
_USER_BY_TOKEN = (
    select(User, AuthSession.expires_at, AuthSession.revoked_at)
    .join(AuthSession, User.id == AuthSession.user_id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)


def resolve_token(session: Session, token: str) -> tuple[AuthSession, User]:
    """The session row and its user, for a token that is live; AuthenticationError otherwise."""
    row = session.execute(_BY_TOKEN, {"token_hash": _digest(token)}).first()
    if row is None:
        raise AuthenticationError("登录凭证无效", code="invalid_token")
    auth, user = row
    _check_live(user, auth.expires_at, auth.revoked_at)
    return auth, user


def resolve_user(session: Session, token: str) -> User:
    """resolve_token's user alone (the same checks, one entity read instead of two)."""
    row = session.execute(_USER_BY_TOKEN, {"token_hash": _digest(token)}).first()
    if row is None:
        raise AuthenticationError("登录凭证无效", code="invalid_token")
    user, expires_at, revoked_at = row
    _check_live(user, expires_at, revoked_at)
    return user


# The caller of a hot endpoint, read on the driver (storage.driver) on PostgreSQL: the user's
# columns but the password hash, under the entity's names, and User.has_role. Reading the User
# entity through the ORM was a tenth of an API process's CPU under bench.entry.
_CALLER_COLUMNS = tuple(c for c in entity_columns(User) if c.key != "password_hash")


class Caller(plain_row("CallerRow", _CALLER_COLUMNS)):
    __slots__ = ()
    has_role = User.has_role


_CALLER_BY_TOKEN = DriverStatement(
    select(*_CALLER_COLUMNS, AuthSession.expires_at, AuthSession.revoked_at)
    .join(AuthSession, User.id == AuthSession.user_id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)


def resolve_caller(session: Session, token: str) -> "Caller | User":
    """resolve_user for the hot endpoints: on PostgreSQL a plain Caller row (what they read of
    their user: id, roles, level), elsewhere the entity. The same checks."""
    if not is_postgres(session):
        return resolve_user(session, token)
    row = fetch_one(session, _CALLER_BY_TOKEN, {"token_hash": _digest(token)})
    if row is None:
        raise AuthenticationError("登录凭证无效", code="invalid_token")
    *columns, expires_at, revoked_at = row
    caller = Caller(*columns)
    _check_live(caller, expires_at, revoked_at)
    return caller


def _check_live(user: User, expires_at: datetime, revoked_at: datetime | None) -> None:
    expires = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    if revoked_at is not None:
        raise AuthenticationError("登录凭证已注销", code="token_revoked")
    if expires <= datetime.now(UTC):
        raise AuthenticationError("登录已过期，请重新登录", code="token_expired")
    if not user.active:
        raise AuthenticationError("账户已停用", code="user_inactive")


def revoke(session: Session, auth: AuthSession) -> None:
    auth.revoked_at = utcnow()
