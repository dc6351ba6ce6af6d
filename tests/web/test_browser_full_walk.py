"""The full walk in a browser: a teller uploads generated scans, two keyers key every slice,
an authorizer approves, the voucher shows as posted."""

import json
import time

from sqlalchemy import func, select

from storage.db import session_scope
from storage.entry_models import EntryTask
from storage.imaging_models import VoucherField
from storage.models import Voucher
from storage.settings import get_settings
from synth.generate import generate_vouchers
from tests.web.conftest import key_until_empty, login_as, shot
from tests.web.test_browser_workstations import allow_two_keyers_and_route_deposits


def truth_of_task(task_id: int, truths: dict[str, dict]) -> dict[str, str]:
    with session_scope(get_settings().effective_database_url) as session:
        voucher = session.get(Voucher, session.get(EntryTask, task_id).voucher_id)
        return truths[voucher.serial]["fields"]


def wait_until_left_entry(url: str, n: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with session_scope(url) as session:
            waiting = session.scalar(
                select(func.count()).where(Voucher.status == "awaiting_authorization")
            )
        if waiting == n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{n} vouchers did not reach authorization in {timeout_s} s")


def test_browser_full_walk_upload_key_approve_posted(new_page, tmp_path):  # noqa: ANN001
    allow_two_keyers_and_route_deposits()
    paths = generate_vouchers(tmp_path / "scans", n=2, seed=61, forms=["deposit_slip"])
    truths = {}
    for p in paths:
        truth = json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))
        truths[truth["serial"]] = truth

    teller = new_page()
    login_as(teller, "teller1")
    teller.set_input_files("[data-testid=file-input]", [str(p) for p in paths])
    teller.wait_for_function(
        "document.querySelectorAll('#upload-table tr[data-result]').length === 2", timeout=240_000
    )
    shot(teller, "walk-teller-uploaded")
    url = get_settings().effective_database_url
    with session_scope(url) as session:
        statuses = dict(session.execute(select(Voucher.serial, Voucher.status)).all())
        sliced = session.scalar(select(func.count()).where(VoucherField.slice_key.is_not(None)))
    assert sliced, "the image pipeline cut no field slices"
    assert set(statuses) == set(truths), statuses
    teller.goto("/teller/vouchers")
    shot(teller, "walk-teller-list")

    keyed = 0
    for name in ("keyer1", "keyer2"):
        keyer = new_page()
        login_as(keyer, name)
        keyed += key_until_empty(keyer, lambda t, f: truth_of_task(t, truths).get(f))
        shot(keyer, f"walk-{name}-done")
    assert keyed > 0
    # The keyer page sends each key without waiting for it (and flips to the next slice): the
    # last submissions, which finish entry and route the vouchers, may still be running.
    wait_until_left_entry(url, len(truths))

    auth = new_page()
    login_as(auth, "authorizer1")
    for _ in truths:
        auth.keyboard.press("n")
        auth.wait_for_selector("#work:not([hidden])")
        shot(auth, "walk-authorizer")
        auth.keyboard.press("a")
        auth.wait_for_function("document.getElementById('message').textContent.includes('✓')")
        auth.wait_for_selector("#work[hidden]", state="attached")

    teller.goto("/teller/vouchers?status=posted")
    teller.wait_for_function(
        "document.querySelectorAll('#voucher-rows tr[data-voucher]').length === 2"
    )
    shot(teller, "walk-teller-posted")
