"""Browser workstations: server-rendered pages, vendored static files, cookie sessions."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web.render import LoginRequiredError, error_page, login_redirect, wants_html
from api.web.security import ApiCsrfMiddleware
from storage.errors import DomainError

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI) -> None:
    """Add the pages, /static, CSRF checks on cookie-authenticated API calls, HTML errors."""
    from api.web import admin, pages, supervisor, teller, workstations

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (pages, teller, workstations, supervisor, admin):
        app.include_router(module.router)
    app.add_middleware(ApiCsrfMiddleware)
    _wrap_error_handlers(app)


def _wrap_error_handlers(app: FastAPI) -> None:
    """Browsers asking for a page get an HTML error page; API clients keep their JSON."""
    json_domain = app.exception_handlers.get(DomainError)
    json_http = app.exception_handlers.get(StarletteHTTPException)
    json_invalid = app.exception_handlers.get(RequestValidationError)

    async def login_required(request: Request, _exc: LoginRequiredError):  # noqa: ANN202
        return login_redirect(request)

    async def domain_error(request: Request, exc: DomainError):  # noqa: ANN202
        if wants_html(request):
            if exc.status_code == 401:
                return login_redirect(request)
            return error_page(request, exc.status_code, exc.code, exc.message)
        return await json_domain(request, exc)

    async def http_error(request: Request, exc: StarletteHTTPException):  # noqa: ANN202
        if wants_html(request):
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            return error_page(request, exc.status_code, code, "")
        return await json_http(request, exc)

    async def invalid(request: Request, exc: RequestValidationError):  # noqa: ANN202
        if wants_html(request):
            return error_page(request, 422, "invalid_request", "")
        return await json_invalid(request, exc)

    async def unexpected(request: Request, exc: Exception):  # noqa: ANN202
        # Starlette's ServerErrorMiddleware calls this after logging the traceback itself.
        if wants_html(request):
            return error_page(request, 500, "internal_error", "")
        return PlainTextResponse("Internal Server Error", status_code=500)

    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)
