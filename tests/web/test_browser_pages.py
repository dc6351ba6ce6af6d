"""Every page renders for its role at 1366x768 without JavaScript errors; screenshots saved."""

import pytest

from tests.web.conftest import login_as, shot

PAGES = {
    "supervisor1": [
        "/supervisor",
        "/supervisor/unclassified",
        "/supervisor/keyers",
        "/supervisor/queue/key",
        "/supervisor/queue/authorize",
    ],
    "admin": ["/admin/users", "/admin/branches", "/admin/types", "/admin/rules"],
    "arbiter1": ["/arbiter"],
    "teller1": ["/teller/returned"],
}


def test_browser_login_page_and_bad_password(new_page):  # noqa: ANN001
    page = new_page()
    page.goto("/login")
    assert page.evaluate("document.activeElement.name") == "username"
    shot(page, "login")
    page.keyboard.type("teller1")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=login-error]")
    shot(page, "login-error")


@pytest.mark.parametrize("username", sorted(PAGES))
def test_browser_role_pages_render(new_page, username):  # noqa: ANN001
    page = new_page()
    login_as(page, username)
    for path in PAGES[username]:
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        shot(page, f"{username}{path.replace('/', '-')}")
    page.goto(f"/lang/en?next={PAGES[username][0]}")
    page.wait_for_load_state("networkidle")
    shot(page, f"{username}{PAGES[username][0].replace('/', '-')}-en")


def test_browser_admin_creates_user_from_keyboard(new_page):  # noqa: ANN001
    page = new_page()
    login_as(page, "admin")
    page.goto("/admin/users")
    page.fill("input[name=username]", "keyer9")
    page.fill("input[name=display_name]", "录入员九")
    page.fill("input[name=password]", "longenough1")
    page.check("input[name=roles][value=keyer]")
    page.focus("input[name=password]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/users?done=created")
    assert "keyer9" in page.inner_text("[data-testid=users-table]")
    other = new_page()
    login_as(other, "keyer9", "longenough1")
    assert other.url.endswith("/keyer")
