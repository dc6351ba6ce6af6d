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


def key_until_empty(page, value_for, *, first_shot: str | None = None) -> int:  # noqa: ANN001
    """Key every slice the keyer page offers, keyboard only, until it shows "no task".

    `value_for(task_id, field_name)` gives the value to type (None: mark blank with F3); a soft
    warning is confirmed with Enter. Returns how many slices were keyed.
    """
    keyed = 0
    while True:
        page.wait_for_function(
            "document.body.dataset.task || !document.getElementById('empty').hidden"
        )
        task = page.evaluate("document.body.dataset.task || null")
        if task is None:
            return keyed
        field = page.get_attribute("#value", "data-field")
        assert page.evaluate("document.activeElement.id") == "value"
        if keyed == 0 and first_shot:
            shot(page, first_shot)
        value = value_for(int(task), field)
        if value:
            page.keyboard.type(str(value))
            page.keyboard.press("Enter")
        else:
            page.keyboard.press("F3")
        for _ in range(3):
            page.wait_for_function(
                "([t]) => document.body.dataset.task !== t"
                " || document.getElementById('prompt').dataset.kind",
                arg=[task],
            )
            if page.evaluate("document.body.dataset.task") != task:
                break
            kind = page.get_attribute("#prompt", "data-kind")
            assert kind == "warning", page.inner_text("#prompt")
            page.keyboard.press("Enter")  # confirm the warning
        keyed += 1
