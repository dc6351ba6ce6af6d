"""Browser fixtures: the app served by uvicorn on loopback, Debian's chromium via Playwright."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.settings import get_settings
from tests.support import ROOT, free_port

SCREENS = ROOT / "tests" / "artifacts" / "screens"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class LiveServer:
    def __init__(self, app):  # noqa: ANN001
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(
    pg_inline_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    from api.app import create_app

    # As in the demo: the simulated core opens a Luhn-valid account it has not seen.
    monkeypatch.setenv("VOUCHERFLOW_CORE_AUTO_OPEN_ACCOUNTS", "true")
    get_settings.cache_clear()
    with LiveServer(create_app(get_settings())) as server:
        yield server


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()


@pytest.fixture
def new_page(browser, live_server: LiveServer):  # noqa: ANN001, ANN201
    """Open a fresh browser context (own cookies) per user, 1366x768, Chinese locale."""
    contexts = []

    def make():  # noqa: ANN202
        ctx = browser.new_context(
            viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=live_server.url
        )
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    errors: list[str] = []
    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page, name: str) -> Path:  # noqa: ANN001
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def login_as(page, username: str, password: str = "demo") -> None:  # noqa: ANN001
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
