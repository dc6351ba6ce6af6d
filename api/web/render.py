"""Template rendering, the logged-in page user, role-aware navigation and HTML error pages."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.deps import SessionDep
from api.sessions import resolve_user
from api.web.i18n import messages_for, request_lang, translator
from api.web.security import SESSION_COOKIE, request_csrf
from storage.errors import AuthenticationError, PermissionDeniedError
from storage.jsonlog import request_id_var
from storage.models import User

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Back offices work in China Standard Time; timestamps are stored in UTC.
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")


def format_time(value: datetime | None, fmt: str = "%m-%d %H:%M:%S") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(DISPLAY_TZ).strftime(fmt)


templates.env.filters["dt"] = format_time

# (role, message key, path): the order is the order of the menu.
NAV = [
    ("teller", "nav.upload", "/teller/upload"),
    ("teller", "nav.vouchers", "/teller/vouchers"),
    ("teller", "nav.returned", "/teller/returned"),
    ("keyer", "nav.keyer", "/keyer"),
    ("arbiter", "nav.arbiter", "/arbiter"),
    ("authorizer", "nav.authorizer", "/authorizer"),
    ("supervisor", "nav.dashboard", "/supervisor"),
    ("supervisor", "nav.unclassified", "/supervisor/unclassified"),
    ("supervisor", "nav.keyers", "/supervisor/keyers"),
    ("admin", "nav.dashboard", "/supervisor"),
    ("admin", "nav.admin_users", "/admin/users"),
    ("admin", "nav.admin_branches", "/admin/branches"),
    ("admin", "nav.admin_types", "/admin/types"),
    ("admin", "nav.admin_rules", "/admin/rules"),
]


class LoginRequiredError(Exception):
    """A page was asked for without a valid session: the browser is sent to the login form."""


def nav_for(user: User | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    seen: dict[str, str] = {}
    for role, key, path in NAV:
        if user.has_role(role) and path not in seen:
            seen[path] = key
    return [(key, path) for path, key in seen.items()]


def home_path(user: User) -> str:
    items = nav_for(user)
    return items[0][1] if items else "/login"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    status_code: int = 200,
    js_messages: tuple[str, ...] = (),
) -> HTMLResponse:
    lang = request_lang(request)
    ctx = {
        "request": request,
        "t": translator(lang),
        "lang": lang,
        "user": user,
        "nav": nav_for(user),
        "csrf": request_csrf(request),
        "path": request.url.path,
        "js_messages": messages_for(lang, ("common.", "status.", "refusal.", *js_messages)),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def page_user(request: Request, session: SessionDep) -> User:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequiredError
    try:
        user = resolve_user(session, token)
    except AuthenticationError as exc:
        raise LoginRequiredError from exc
    request.state.user_id = user.id
    return user


PageUser = Annotated[User, Depends(page_user)]


def page_roles(*roles: str) -> Callable[[User], User]:
    def check(user: PageUser) -> User:
        if not user.has_role(*roles):
            raise PermissionDeniedError("当前角色无权访问此页面", code="role_forbidden")
        return user

    return check


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(
        ("/api/", "/static/", "/healthz", "/metrics", "/docs", "/openapi", "/core-sim")
    ):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def error_page(request: Request, status_code: int, code: str, message: str) -> HTMLResponse:
    lang = request_lang(request)
    t = translator(lang)
    known = f"error.{status_code}"
    headline = t(known) if t(known) != known else t("error.title")
    user = _user_quietly(request)
    return render(
        request,
        "error.html",
        {
            "status": status_code,
            "code": code,
            "headline": headline,
            # Domain messages are Chinese; in English the headline alone says what happened.
            "message": message if lang == "zh" else "",
            "request_id": request_id_var.get(),
        },
        user=user,
        status_code=status_code,
    )


def _user_quietly(request: Request) -> User | None:
    """The user for the error page's menu, if the session is good; errors never cascade."""
    from storage.db import session_scope

    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        with session_scope(request.app.state.settings.effective_database_url) as session:
            user = resolve_user(session, token)
            session.expunge(user)
            return user
    except Exception:
        return None
