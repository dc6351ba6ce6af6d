"""Start, login, logout and the language switch."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import SessionDep, SettingsDep
from api.sessions import login, resolve_token, resolve_user, revoke
from api.web.i18n import LANG_COOKIE, LANGS
from api.web.render import home_path, render
from api.web.security import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    csrf_for_token,
    ensure_prelogin_csrf,
    safe_next,
    set_cookie,
)
from storage.errors import AuthenticationError, PermissionDeniedError

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def start(request: Request, session: SessionDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            user = resolve_user(session, token)
            return RedirectResponse(home_path(user), status_code=303)
        except AuthenticationError:
            pass
    return RedirectResponse("/login", status_code=303)


def _login_form(
    request: Request, *, next_path: str, error: str = "", username: str = "", status: int = 200
) -> HTMLResponse:
    value = ensure_prelogin_csrf(request)
    response = render(
        request,
        "login.html",
        {
            "next": next_path,
            "error": error,
            "username": username,
            "logged_out": request.query_params.get("bye") == "1",
        },
        status_code=status,
    )
    set_cookie(response, request, PRELOGIN_COOKIE, value)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
    return _login_form(request, next_path=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
) -> HTMLResponse:
    if not check_csrf(request.cookies.get(PRELOGIN_COOKIE, ""), csrf_token):
        raise PermissionDeniedError("页面已过期，请刷新后重试", code="csrf_failed")
    try:
        token, user = login(
            session, username=username, password=password, ttl_hours=settings.token_ttl_hours
        )
    except AuthenticationError as exc:
        return _login_form(
            request,
            next_path=safe_next(next),
            error=f"login.{exc.code}",
            username=username,
            status=401,
        )
    session.commit()
    target = safe_next(next)
    response = RedirectResponse(home_path(user) if target == "/" else target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, max_age=settings.token_ttl_hours * 3600)
    response.delete_cookie(PRELOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout_submit(
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        if not check_csrf(csrf_for_token(token), csrf_token):
            raise PermissionDeniedError("页面已过期，请刷新后重试", code="csrf_failed")
        try:
            auth, _user = resolve_token(session, token)
            revoke(session, auth)
            session.commit()
        except AuthenticationError:
            pass
    response = RedirectResponse("/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{lang}")
def switch_lang(request: Request, lang: str, next: str = "/") -> RedirectResponse:  # noqa: A002
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        set_cookie(response, request, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response
