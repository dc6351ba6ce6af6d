"""Browser session cookie and CSRF protection for pages and for cookie-authenticated API calls.

The session cookie carries the same bearer token the API issues (HttpOnly, SameSite=Strict).
The CSRF token is an HMAC of that token, so it needs no storage and dies with the session;
before login a double-submit cookie protects the login form.
"""

import hashlib
import hmac
import json
import secrets

from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "vf_session"
PRELOGIN_COOKIE = "vf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_for_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"voucherflow-csrf", hashlib.sha256).hexdigest()


def request_csrf(request: Request) -> str:
    """The CSRF token a page embeds: per session once logged in, else the pre-login cookie's."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return csrf_for_token(token)
    return getattr(request.state, "prelogin_csrf", None) or request.cookies.get(PRELOGIN_COOKIE, "")


def ensure_prelogin_csrf(request: Request) -> str:
    value = request.cookies.get(PRELOGIN_COOKIE) or secrets.token_urlsafe(24)
    request.state.prelogin_csrf = value
    return value


def check_csrf(expected: str, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)


def set_cookie(response: Response, request: Request, name: str, value: str, **kw: object) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        **kw,
    )


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login or a language switch (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class ApiCsrfMiddleware:
    """Unsafe API calls authenticated by the cookie alone must carry the CSRF header.

    Bearer-token clients (scripts, other services) are untouched: a browser never sends that
    header by itself, so they cannot be forged cross-site.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in UNSAFE_METHODS
            and scope["path"].startswith("/api/")
        ):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            token = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
            if token and not headers.get("authorization"):
                if not check_csrf(csrf_for_token(token), headers.get(CSRF_HEADER)):
                    await _deny(send)
                    return
        await self.app(scope, receive, send)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


async def _deny(send: Send) -> None:
    body = json.dumps(
        {
            "error": {"code": "csrf_failed", "message": "页面已过期，请刷新后重试", "details": {}},
            "request_id": None,
        },
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def require_form_csrf(request: Request, given: str) -> None:
    """Every page form POST carries the session's CSRF token in a hidden field."""
    from storage.errors import PermissionDeniedError

    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or not check_csrf(csrf_for_token(token), given):
        raise PermissionDeniedError("页面已过期，请刷新后重试", code="csrf_failed")
