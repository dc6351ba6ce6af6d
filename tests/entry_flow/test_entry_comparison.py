"""Every comparison and arbitration path: match, third key, two of three, arbiter, unreadable."""

from sqlalchemy import select

from entry.comparison import BLANK, ILLEGIBLE, Action, Ballot, judge
from storage.db import session_scope
from storage.entry_models import EntryKey, EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import User, Voucher
from tests.entry_flow.vouchers import claim, make_voucher, qr_except, submit
from tests.support import login

FORM = "deposit_slip"
LEFT_ENTRY = {"awaiting_authorization", "posting", "posted", "posting_failed"}


def v(s: str) -> str:
    return "v:" + s


def test_judge_double_blind_paths() -> None:
    assert judge([Ballot(1, v("1"))], humans_needed=2).action == Action.WAIT
    match = judge([Ballot(1, v("1")), Ballot(2, v("1"))], humans_needed=2)
    assert (match.action, match.token, match.winners) == (Action.SETTLE, v("1"), (1, 2))
    assert judge([Ballot(1, v("1")), Ballot(2, v("2"))], humans_needed=2).action == (
        Action.THIRD_KEY
    )
    two_of_three = judge([Ballot(1, v("1")), Ballot(2, v("2")), Ballot(3, v("1"))], humans_needed=2)
    assert two_of_three.action == Action.SETTLE and two_of_three.losers == (2,)
    spread = judge([Ballot(1, v("1")), Ballot(2, v("2")), Ballot(3, v("3"))], humans_needed=2)
    assert spread.action == Action.ARBITRATE
    assert judge([Ballot(1, ILLEGIBLE), Ballot(2, ILLEGIBLE)], humans_needed=2).action == (
        Action.ARBITRATE
    )
    blank = judge([Ballot(1, BLANK), Ballot(2, BLANK)], humans_needed=2)
    assert blank.action == Action.SETTLE and blank.token == BLANK


def test_judge_ocr_plus_one_and_single_key() -> None:
    ocr = Ballot(None, v("9"))
    assert judge([ocr], humans_needed=1).action == Action.WAIT
    agree = judge([ocr, Ballot(1, v("9"))], humans_needed=1)
    assert agree.action == Action.SETTLE and agree.winners == (1,)
    assert judge([ocr, Ballot(1, v("8"))], humans_needed=1).action == Action.THIRD_KEY
    ocr_lost = judge([ocr, Ballot(1, v("8")), Ballot(2, v("8"))], humans_needed=1)
    assert ocr_lost.action == Action.SETTLE and ocr_lost.token == v("8")
    first_lost = judge([ocr, Ballot(1, v("8")), Ballot(2, v("9"))], humans_needed=1)
    assert first_lost.losers == (1,)
    single = judge([Ballot(1, v("5"))], humans_needed=1)
    assert single.action == Action.SETTLE


def _field(url: str, vid, name: str) -> VoucherField:  # noqa: ANN001
    with session_scope(url) as s:
        return s.scalar(
            select(VoucherField).where(VoucherField.voucher_id == vid, VoucherField.name == name)
        )


def test_entry_mismatch_third_key_two_of_three_marks_loser(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, qr=qr_except(FORM, "instrument_count"))
    k1, k2, k3 = (login(client, f"keyer{i}") for i in (1, 2, 3))
    t1, t2 = claim(client, k1), claim(client, k2)
    assert submit(client, k1, t1, "1").json()["fields"] == {"instrument_count": "wait"}
    assert submit(client, k2, t2, "2").json()["fields"] == {"instrument_count": "third_key"}
    assert claim(client, k1) is None and claim(client, k2) is None  # never the same field twice
    t3 = claim(client, k3)
    assert t3["kind"] == "third_key"
    out = submit(client, k3, t3, "1").json()
    assert out["fields"] == {"instrument_count": "settle"}
    # The last key hands the voucher to the completion job (run in-process here, after commit).
    assert out["voucher_state"] == "completing"
    with session_scope(url) as s:
        assert s.get(VoucherEntry, vid).state == "done"
        assert s.get(Voucher, vid).status != "awaiting_entry"
    f = _field(url, vid, "instrument_count")
    assert (f.value, f.source, f.status) == ("1", "keyed", "settled")
    with session_scope(url) as s:
        outcomes = {
            s.get(User, k.keyer_id).username: k.outcome
            for k in s.scalars(select(EntryKey).where(EntryKey.voucher_id == vid))
        }
        assert outcomes == {"keyer1": "agreed", "keyer2": "lost", "keyer3": "agreed"}
        assert s.get(Voucher, vid).status in LEFT_ENTRY
    metrics = client.get("/api/entry/metrics", headers=login(client, "supervisor1")).json()
    by_user = {m["username"]: m for m in metrics["keyers"]}
    assert by_user["keyer2"]["errors"] == 1 and by_user["keyer2"]["errors_per_1000"] == 1000.0
    assert by_user["keyer1"]["errors"] == 0 and by_user["keyer1"]["keystrokes"] == 0
    (vm,) = [m for m in metrics["vouchers"] if m["voucher_id"] == str(vid)]
    assert vm["keys_used"] == 3 and vm["seconds_in_entry"] is not None


def test_entry_three_different_keys_go_to_arbiter_who_decides(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, qr=qr_except(FORM, "instrument_count"))
    keyers = [login(client, f"keyer{i}") for i in (1, 2, 3, 4)]
    t1, t2 = claim(client, keyers[0]), claim(client, keyers[1])
    submit(client, keyers[0], t1, "1")
    submit(client, keyers[1], t2, "2")
    t3 = claim(client, keyers[2])
    assert submit(client, keyers[2], t3, "3").json()["fields"] == {"instrument_count": "arbitrate"}
    assert claim(client, keyers[3]) is None  # an arbiter's task now, not a keyer's
    arbiter = login(client, "arbiter1")
    assert client.get("/api/entry/next", headers=arbiter).status_code == 403
    task = client.get("/api/arbitration/next", headers=arbiter).json()
    assert sorted(k["value"] for k in task["keys"]) == ["1", "2", "3"]
    assert client.get(task["image_url"], headers=arbiter).status_code == 200
    bad = client.post(
        f"/api/arbitration/tasks/{task['id']}",
        json={"token": task["token"], "decision": "value", "value": "x"},
        headers=arbiter,
    )
    assert bad.status_code == 422
    r = client.post(
        f"/api/arbitration/tasks/{task['id']}",
        json={"token": task["token"], "decision": "value", "value": "2"},
        headers=arbiter,
    )
    assert r.status_code == 200 and r.json()["voucher_state"] == "done"
    f = _field(url, vid, "instrument_count")
    assert (f.value, f.source) == ("2", "arbiter")
    with session_scope(url) as s:
        lost = s.scalars(
            select(EntryKey.outcome).where(EntryKey.voucher_id == vid, EntryKey.kind != "arbitrate")
        ).all()
        assert sorted(lost) == ["agreed", "lost", "lost"]


def test_entry_arbiter_marks_unreadable_voucher_returns_to_branch(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, qr=qr_except(FORM, "payer_name"))
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    t1, t2 = claim(client, k1), claim(client, k2)
    submit(client, k1, t1, flag="illegible")
    assert submit(client, k2, t2, flag="illegible").json()["fields"] == {"payer_name": "arbitrate"}
    arbiter = login(client, "arbiter1")
    task = client.get("/api/arbitration/next", headers=arbiter).json()
    assert [k["flag"] for k in task["keys"]] == ["illegible", "illegible"]
    r = client.post(
        f"/api/arbitration/tasks/{task['id']}",
        json={"token": task["token"], "decision": "unreadable", "reason": "污损"},
        headers=arbiter,
    )
    assert r.json()["voucher_state"] == "returned"
    with session_scope(url) as s:
        voucher = s.get(Voucher, vid)
        assert (voucher.status, voucher.status_reason) == ("returned", "field_unreadable")
        open_tasks = s.scalars(
            select(EntryTask).where(EntryTask.voucher_id == vid, EntryTask.status == "open")
        ).all()
        assert open_tasks == []


def test_entry_ocr_plus_one_settles_on_one_agreeing_key(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    qr = qr_except(FORM, "amount", "instrument_count")
    vid = make_voucher(
        url,
        client.app.state.blobs,
        qr=qr,
        ocr={"amount": ("12345.67", 0.99), "instrument_count": ("3", 0.99)},
    )
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    tasks = [claim(client, k1), claim(client, k2)]
    assert claim(client, login(client, "keyer3")) is None  # one key each, OCR is the other
    by_field = {t["fields"][0]["name"]: (h, t) for h, t in zip((k1, k2), tasks, strict=True)}
    h, t = by_field["amount"]
    assert submit(client, h, t, "12,345.67").json()["fields"] == {"amount": "settle"}
    h, t = by_field["instrument_count"]
    assert submit(client, h, t, "8").json()["fields"] == {"instrument_count": "third_key"}
    other = k2 if h is k1 else k1
    t3 = claim(client, other)
    assert t3["kind"] == "third_key"
    submit(client, other, t3, "3")
    assert _field(url, vid, "instrument_count").value == "3"
    assert _field(url, vid, "amount").source == "keyed"


def test_entry_trusted_qr_settles_at_opening_without_keys(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, qr=qr_except(FORM))
    with session_scope(url) as s:
        assert s.get(Voucher, vid).status in LEFT_ENTRY
        fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)).all()
        assert {f.source for f in fields} == {"qr"}
        assert s.scalars(select(EntryTask).where(EntryTask.voucher_id == vid)).all() == []


def test_entry_no_eligible_keyer_left_goes_to_arbiter(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    with session_scope(url) as s:
        for name in ("keyer3", "keyer4"):
            s.scalar(select(User).where(User.username == name)).active = False
        s.commit()
    make_voucher(url, client.app.state.blobs, qr=qr_except(FORM, "instrument_count"))
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    t1, t2 = claim(client, k1), claim(client, k2)
    submit(client, k1, t1, "1")
    out = submit(client, k2, t2, "2").json()
    assert out["fields"] == {"instrument_count": "third_key"}
    task = client.get("/api/arbitration/next", headers=login(client, "arbiter1")).json()
    assert task["kind"] == "arbitrate"


def test_entry_open_is_idempotent(client, pg_inline_env) -> None:  # noqa: ANN001
    from entry.opening import open_entry

    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs)
    with session_scope(url) as s:
        before = len(s.scalars(select(EntryTask).where(EntryTask.voucher_id == vid)).all())
        open_entry(s, s.get(Voucher, vid), settings=None)
        s.commit()
        after = len(s.scalars(select(EntryTask).where(EntryTask.voucher_id == vid)).all())
    assert before == after == 24
