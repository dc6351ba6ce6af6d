"""Browser walks through the workstations: upload, keying, arbitration-free approval, isolation.

Chromium is Debian's (/usr/bin/chromium); every page visited is saved under
tests/artifacts/screens/ for a human to look at.
"""

import base64
import re

from sqlalchemy import select

from entry.defaults import seed_entry_defaults
from storage.authorization_models import AuthorizationRule
from storage.blobs import make_blob_store
from storage.db import session_scope
from storage.entry_models import EntryFieldGroup
from storage.models import Voucher
from storage.settings import get_settings
from tests.entry_flow.vouchers import make_voucher, truth_values
from tests.support import scan_bytes
from tests.web.conftest import key_until_empty, login_as, shot


def allow_two_keyers_and_route_deposits() -> None:
    """Routing as an admin would set it for these walks."""
    with session_scope(get_settings().effective_database_url) as session:
        seed_entry_defaults(session)
        # Two keyers key every slice: no who/how-much separation for this walk.
        for group in session.scalars(select(EntryFieldGroup)):
            group.active = False
        session.add(
            AuthorizationRule(
                name="存款凭证",
                position=5,
                form="deposit_slip",
                queue="deposit",
                priority=10,
                sla_minutes=60,
                approvals_required=1,
                min_level=1,
            )
        )
        session.commit()


def prepare_deposit_voucher() -> str:
    """A deposit slip waiting for keying (no image pipeline), routed to an authorizer."""
    allow_two_keyers_and_route_deposits()
    settings = get_settings()
    url = settings.effective_database_url
    return str(
        make_voucher(url, make_blob_store(settings), form="deposit_slip", seed_defaults=False)
    )


def test_browser_keying_to_posting(new_page):  # noqa: ANN001
    vid = prepare_deposit_voucher()
    truth = truth_values("deposit_slip")

    keyer1 = new_page()
    login_as(keyer1, "keyer1")
    assert keyer1.url.endswith("/keyer")
    first = key_until_empty(keyer1, lambda _t, f: truth.get(f), first_shot="keyer-1-slice")
    shot(keyer1, "keyer-1-empty")
    keyer2 = new_page()
    login_as(keyer2, "keyer2")
    second = key_until_empty(keyer2, lambda _t, f: truth.get(f), first_shot="keyer-2-slice")
    assert first > 0 and second > 0

    auth = new_page()
    login_as(auth, "authorizer1")
    auth.keyboard.press("n")
    auth.wait_for_selector("#work:not([hidden])")
    auth.wait_for_selector("#view .box")
    assert "deposit_slip" in auth.inner_text("#voucher-serial")
    shot(auth, "authorizer-claimed")
    auth.keyboard.press("a")
    auth.wait_for_function("document.getElementById('message').textContent.includes('✓')")
    shot(auth, "authorizer-approved")

    teller = new_page()
    login_as(teller, "teller1")
    teller.goto(f"/vouchers/{vid}")
    status = teller.get_attribute("[data-testid=detail-status]", "data-status")
    assert status in ("posting", "posted")
    if status != "posted":
        teller.wait_for_timeout(500)
        teller.reload()
    assert teller.get_attribute("[data-testid=detail-status]", "data-status") == "posted"
    shot(teller, "teller-voucher-posted")


def test_browser_keyer_validation_prompts(new_page):  # noqa: ANN001
    prepare_deposit_voucher()
    page = new_page()
    login_as(page, "keyer1")
    page.wait_for_function("document.body.dataset.task")
    # Find an amount slice: key the others truthfully until one comes up.
    truth = truth_values("deposit_slip")
    for _ in range(20):
        field = page.get_attribute("#value", "data-field")
        if field in ("amount", "payer_account", "payee_account"):
            break
        task = page.evaluate("document.body.dataset.task")
        page.keyboard.press("F3") if not truth.get(field) else (
            page.keyboard.type(truth[field]),
            page.keyboard.press("Enter"),
        )
        page.wait_for_function(
            "([t]) => document.body.dataset.task !== t"
            " || document.getElementById('prompt').dataset.kind === 'warning'",
            arg=[task],
        )
        if page.evaluate("document.body.dataset.task") == task:
            page.keyboard.press("Enter")
            page.wait_for_function("([t]) => document.body.dataset.task !== t", arg=[task])
    task = page.evaluate("document.body.dataset.task")
    page.keyboard.type("12x4")
    page.wait_for_function("document.getElementById('prompt').dataset.kind === 'error'")
    assert page.get_attribute("#value", "aria-invalid") == "true"
    shot(page, "keyer-validation-prompt")
    page.keyboard.press("Enter")  # refused locally: the task stays
    assert page.evaluate("document.body.dataset.task") == task
    assert page.inner_text("#prompt").strip()


def test_browser_teller_upload_and_live_list(new_page, tmp_path):  # noqa: ANN001
    files = []
    for i in range(3):
        p = tmp_path / f"scan-{i}.png"
        p.write_bytes(scan_bytes(100 + i))
        files.append(str(p))
    dup = tmp_path / "scan-again.png"
    dup.write_bytes(scan_bytes(100))
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    page = new_page()
    login_as(page, "teller1")
    assert page.url.endswith("/teller/upload")
    shot(page, "teller-upload-empty")
    page.set_input_files("[data-testid=file-input]", [*files, str(dup), str(bad)])
    page.wait_for_function(
        "document.querySelectorAll('#upload-table tr[data-result]').length === 5"
    )
    results = page.eval_on_selector_all(
        "#upload-table tr[data-result]", "rows => rows.map(r => [r.dataset.file, r.dataset.result])"
    )
    outcome = dict(results)
    assert [outcome[f"scan-{i}.png"] for i in range(3)] == ["accepted"] * 3
    assert outcome["scan-again.png"] == "duplicate"
    assert outcome["notes.txt"] == "refused"
    shot(page, "teller-upload-results")
    # Drag and drop: a file dropped on the zone goes through the same path.
    page.evaluate(
        """(b64) => {
          const bin = atob(b64);
          const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
          const zone = document.getElementById("dropzone");
          const init = { dataTransfer: dt, bubbles: true, cancelable: true };
          zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        base64.b64encode(scan_bytes(200)).decode(),
    )
    page.wait_for_selector("#upload-table tr[data-file='dropped.png'][data-result=accepted]")
    page.goto("/teller/vouchers")
    assert page.locator("#voucher-rows tr[data-voucher]").count() == 4
    shot(page, "teller-vouchers")
    page.goto("/lang/en?next=/teller/vouchers")
    assert "Branch vouchers" in page.inner_text("h1")
    shot(page, "teller-vouchers-en")


def test_browser_role_isolation(new_page, tmp_path):  # noqa: ANN001
    scan = tmp_path / "a.png"
    scan.write_bytes(scan_bytes(7))
    teller1 = new_page()
    login_as(teller1, "teller1")
    teller1.set_input_files("[data-testid=file-input]", [str(scan)])
    teller1.wait_for_selector("#upload-table tr[data-result=accepted]")
    with session_scope(get_settings().effective_database_url) as session:
        vid = str(session.scalar(select(Voucher.id)))

    keyer = new_page()
    login_as(keyer, "keyer1")
    nav = keyer.inner_text("header nav")
    assert "授权" not in nav and "上传" not in nav
    response = keyer.goto("/authorizer")
    assert response.status == 403
    assert keyer.get_attribute("[data-testid=error-code]", "data-testid")
    assert "role_forbidden" in keyer.inner_text("[data-testid=error-code]")
    shot(keyer, "error-403-keyer-on-authorizer")

    teller2 = new_page()
    login_as(teller2, "teller2")
    response = teller2.goto(f"/vouchers/{vid}")
    assert response.status == 404
    shot(teller2, "error-404-other-branch")
    teller2.goto("/teller/vouchers")
    assert teller2.locator("#voucher-rows tr[data-voucher]").count() == 0
    assert re.search(vid, teller2.content()) is None


def test_browser_whole_voucher_mode_tab_between_fields(new_page):  # noqa: ANN001
    settings = get_settings()
    make_voucher(settings.effective_database_url, make_blob_store(settings), form="account_opening")
    truth = truth_values("account_opening")
    page = new_page()
    login_as(page, "keyer1")
    page.wait_for_selector("#whole-mode:not([hidden])")
    task = page.evaluate("document.body.dataset.task")
    names = page.eval_on_selector_all("#whole-fields input", "ns => ns.map(n => n.dataset.field)")
    assert page.evaluate("document.activeElement.dataset.field") == names[0]
    for i, name in enumerate(names):
        assert page.evaluate("document.activeElement.dataset.field") == name
        if page.locator(f"#whole-view .box[data-field='{name}']").count():
            assert page.get_attribute(f"#whole-view .box[data-field='{name}']", "class") == (
                "box current"
            )
        if truth.get(name):
            page.keyboard.type(truth[name])
        if i == 2:
            shot(page, "keyer-whole-voucher")
        if i < len(names) - 1:
            page.keyboard.press("Tab")
    for _ in range(4):
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        if page.evaluate("document.body.dataset.task") != task:
            break
    assert page.evaluate("document.body.dataset.task") != task
