"""Cross-field checks after settlement, supervisor exception review, routing rules admin."""

from sqlalchemy import select

from storage.db import session_scope
from storage.entry_models import EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import Voucher
from tests.entry_flow.vouchers import claim, key_all, make_voucher, qr_except, submit, truth_values
from tests.support import login

FORM = "deposit_slip"


def _wrong_amount_words(url, blobs, client):  # noqa: ANN001, ANN202
    qr = qr_except(FORM, "amount_words")
    vid = make_voucher(url, blobs, qr=qr)
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    t1, t2 = claim(client, k1), claim(client, k2)
    submit(client, k1, t1, "999.00")
    out = submit(client, k2, t2, "999.00").json()
    return vid, out


def test_entry_cross_check_failure_goes_to_exception_review_with_rule(
    client, pg_inline_env
) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid, out = _wrong_amount_words(url, client.app.state.blobs, client)
    assert out["voucher_state"] == "completing"  # the completion job found the failed rule
    with session_scope(url) as s:
        assert s.get(Voucher, vid).status == "exception_review"
    sup = login(client, "supervisor1")
    assert client.get("/api/entry/exceptions", headers=login(client, "keyer1")).status_code == 403
    (item,) = client.get("/api/entry/exceptions", headers=sup).json()
    assert item["voucher_id"] == str(vid)
    assert [f["rule"] for f in item["failures"]] == ["amount_words == amount"]
    assert item["failures"][0]["code"] == "amount_mismatch"
    # Re-key the field: back to entry. Keyers 1 and 2 saw it; keyers 3 and 4 may not join the
    # how-much group (its quota of 2 of the 4 keyers is taken), so the arbiter keys it.
    r = client.post(
        f"/api/entry/exceptions/{vid}/resolve",
        json={"action": "rekey", "fields": ["amount_words"]},
        headers=sup,
    )
    assert r.status_code == 204
    with session_scope(url) as s:
        assert s.get(Voucher, vid).status == "awaiting_entry"
        assert s.get(VoucherEntry, vid).state == "open"
    for name in ("keyer1", "keyer2", "keyer3", "keyer4"):
        assert claim(client, login(client, name)) is None
    arbiter = login(client, "arbiter1")
    task = client.get("/api/arbitration/next", headers=arbiter).json()
    assert task["fields"][0]["name"] == "amount_words"
    r = client.post(
        f"/api/arbitration/tasks/{task['id']}",
        json={"token": task["token"], "decision": "value", "value": "壹万贰仟叁佰肆拾伍元陆角柒分"},
        headers=arbiter,
    )
    assert r.json()["voucher_state"] == "done"
    with session_scope(url) as s:
        assert s.get(Voucher, vid).status not in ("awaiting_entry", "exception_review")


def test_entry_exception_review_return_to_branch(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid, _ = _wrong_amount_words(url, client.app.state.blobs, client)
    sup = login(client, "supervisor1")
    r = client.post(
        f"/api/entry/exceptions/{vid}/resolve",
        json={"action": "return", "reason": "大小写金额不符"},
        headers=sup,
    )
    assert r.status_code == 204
    with session_scope(url) as s:
        assert s.get(Voucher, vid).status == "returned"
    again = client.post(
        f"/api/entry/exceptions/{vid}/resolve", json={"action": "return"}, headers=sup
    )
    assert again.status_code == 409


def test_entry_admin_rule_routes_form_to_whole_mode_and_groups_crud(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    admin = login(client, "admin")
    assert client.get("/api/entry/rules", headers=login(client, "keyer1")).status_code == 403
    make_voucher(url, client.app.state.blobs, open_it=False)  # seeds the defaults
    rules = client.get("/api/entry/rules", headers=admin).json()
    assert {r["name"] for r in rules} >= {"开户申请书整票录入"}
    r = client.post(
        "/api/entry/rules",
        json={
            "name": "东区进账单整票",
            "priority": 1,
            "form": FORM,
            "region": "east",
            "mode": "whole",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    rule_id = r.json()["id"]
    bad = client.post(
        "/api/entry/rules",
        json={"name": "x", "field_policies": {"amount": "guess"}},
        headers=admin,
    )
    assert bad.status_code == 422
    vid = make_voucher(url, client.app.state.blobs)  # teller1's branch is in region east
    with session_scope(url) as s:
        entry = s.get(VoucherEntry, vid)
        assert (entry.mode, entry.rule_id) == ("whole", rule_id)
        kinds = s.scalars(select(EntryTask.kind).where(EntryTask.voucher_id == vid)).all()
        assert kinds == ["whole_voucher", "whole_voucher"]
    west = make_voucher(url, client.app.state.blobs, uploader="teller2")
    with session_scope(url) as s:
        assert s.get(VoucherEntry, west).mode == "slice"
    groups = client.get("/api/entry/field-groups", headers=admin).json()
    assert {g["name"] for g in groups} == {"who", "how_much"}
    r = client.post(
        "/api/entry/field-groups",
        json={"name": "secret", "field_names": ["payment_password"]},
        headers=admin,
    )
    assert r.status_code == 201
    assert client.delete(f"/api/entry/rules/{rule_id}", headers=admin).status_code == 204


def test_entry_whole_mode_mismatch_opens_third_key_on_the_slice(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, form="account_opening")
    truth = truth_values("account_opening")
    headers = {u: login(client, u) for u in ("keyer1", "keyer2", "keyer3", "keyer4")}

    def wrong(user, task, f):  # noqa: ANN001, ANN202
        if user == "keyer2" and task["kind"] == "whole_voucher" and f["name"] == "phone":
            return "13900139000"
        return None

    seen = key_all(client, headers, truth, wrong=wrong)
    kinds = [t["kind"] for _, t in seen]
    assert kinds == ["whole_voucher", "whole_voucher", "third_key"]
    with session_scope(url) as s:
        phone = s.scalar(
            select(VoucherField).where(VoucherField.voucher_id == vid, VoucherField.name == "phone")
        )
        assert phone.value == truth["phone"]
        assert s.get(Voucher, vid).status not in ("awaiting_entry", "exception_review")
