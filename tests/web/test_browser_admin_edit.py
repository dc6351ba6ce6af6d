"""Admin editing pages: voucher type definitions and authorization rules, through the JSON APIs."""

import json

from tests.web.conftest import login_as, shot


def test_browser_admin_edits_voucher_type_title(new_page):  # noqa: ANN001
    page = new_page()
    login_as(page, "admin")
    page.goto("/admin/types")
    name = page.inner_text("[data-testid=types-table] tbody tr:first-child td:first-child").strip()
    page.click(f"a[href='/admin/types/{name}']")
    page.wait_for_url(f"**/admin/types/{name}")
    before = int(page.inner_text("[data-testid=type-version]"))
    definition = page.evaluate("JSON.parse(document.getElementById('definition').value)")
    definition["title"] = "改过的标题"
    page.fill("#definition", json.dumps(definition, ensure_ascii=False, indent=2))
    page.focus("#definition")
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "([v]) => document.querySelector('[data-testid=type-version]').textContent != v",
        arg=[str(before)],
    )
    assert int(page.inner_text("[data-testid=type-version]")) == before + 1
    assert page.inner_text("[data-testid=type-title]") == "改过的标题"
    assert str(before + 1) in page.inner_text("[data-testid=type-status]")
    shot(page, "admin-type-edit")
    page.reload()
    assert page.inner_text("[data-testid=type-title]") == "改过的标题"
    assert int(page.inner_text("[data-testid=type-version]")) == before + 1


def test_browser_bad_voucher_type_definition_shows_error(new_page):  # noqa: ANN001
    page = new_page()
    login_as(page, "admin")
    page.goto("/admin/types")
    name = page.inner_text("[data-testid=types-table] tbody tr:first-child td:first-child").strip()
    page.goto(f"/admin/types/{name}")
    version = page.inner_text("[data-testid=type-version]")
    definition = page.evaluate("JSON.parse(document.getElementById('definition').value)")
    definition["size_mm"] = [5000, 5]
    page.fill("#definition", json.dumps(definition))
    page.click("#type-form button[type=submit]")
    error = page.wait_for_selector("#type-error:not([hidden])")
    text = error.inner_text()
    assert "请求参数不正确" in text and "size_mm" in text
    assert page.get_attribute("#definition", "aria-invalid") == "true"
    assert page.inner_text("[data-testid=type-version]") == version
    shot(page, "admin-type-error")
    page.fill("#definition", "{ not json")
    page.click("#type-form button[type=submit]")
    page.wait_for_function("document.getElementById('type-error').innerText.includes('JSON')")


def test_browser_admin_creates_new_voucher_type(new_page):  # noqa: ANN001
    page = new_page()
    login_as(page, "admin")
    page.goto("/admin/types")
    page.fill("#new-type input[name=name]", "memo_slip")
    shot(page, "admin-types")
    page.click("#new-type button[type=submit]")
    page.wait_for_url("**/admin/types/memo_slip")
    assert page.inner_text("[data-testid=type-version]") == "1"


def test_browser_admin_creates_authorization_rule(new_page):  # noqa: ANN001
    page = new_page()
    login_as(page, "admin")
    page.goto("/admin/rules")
    form = "[data-testid=auth-form]"
    page.fill(f"{form} input[name=name]", "大额转账复核")
    page.fill(f"{form} input[name=queue]", "large")
    page.fill(f"{form} input[name=position]", "7")
    page.select_option(f"{form} select[name=approvals_required]", "2")
    page.fill(
        f"{form} textarea[name=conditions]",
        '{"form": null, "region": null, "min_amount": "500000.00", "flags": []}',
    )
    page.focus(f"{form} input[name=name]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/rules?done=saved*")
    table = page.inner_text("[data-testid=auth-rules-table]")
    assert "大额转账复核" in table and "large" in table and "500000" in table
    shot(page, "admin-rules")
    # Edit it again: a bad flag is refused with the API's message, the list is unchanged.
    page.click("[data-testid=auth-rules-table] button[aria-label='编辑 大额转账复核']")
    assert page.input_value(f"{form} input[name=queue]") == "large"
    page.fill(f"{form} textarea[name=conditions]", '{"flags": ["no_such_flag"]}')
    page.click(f"{form} button[type=submit]")
    error = page.wait_for_selector(f"{form} .api-error:not([hidden])")
    assert "flags" in error.inner_text()
    shot(page, "admin-rules-error")
