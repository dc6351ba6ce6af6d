"""The demo crew — four keyers and one arbiter — finishes every voucher of every form, even
when keys disagree and separation leaves nobody for a third key."""

import random
from datetime import date

from sqlalchemy import select

from storage.builtin_forms import load_builtin_forms
from storage.db import session_scope
from storage.entry_models import EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from synth.fills import make_fills
from tests.entry_flow.vouchers import make_voucher
from tests.support import login


def _truth_of_task(url: str, task_id: int) -> dict[str, str]:
    with session_scope(url) as s:
        vid = s.get(EntryTask, task_id).voucher_id
        return {
            f.name: f.ocr_text or ""
            for f in s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid))
        }


def test_entry_demo_crew_finishes_every_voucher(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    rng = random.Random(4)
    forms = load_builtin_forms()
    vids = []
    for name in ("transfer_cheque", "deposit_slip", "wire_transfer", "account_opening") * 2:
        fills = make_fills(forms[name], rng, processing_date=date.today())
        vid = make_voucher(url, client.app.state.blobs, form=name, open_it=False)
        with session_scope(url) as s:
            # The test keeps the truth in ocr_text (never shown to keyers) for its oracle.
            for f in s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)):
                f.ocr_text = fills[f.name].canonical
            s.commit()
            from entry.opening import open_entry
            from storage.models import Voucher

            open_entry(s, s.get(Voucher, vid), settings=None)
            s.commit()
        vids.append(vid)
    crew = {u: login(client, u) for u in ("keyer1", "keyer2", "keyer3", "keyer4")}
    arbiter = login(client, "arbiter1")
    for _ in range(400):
        worked = False
        for n, headers in enumerate(crew.values(), start=1):
            r = client.get("/api/entry/next", headers=headers)
            if r.status_code == 204:
                continue
            worked = True
            task = r.json()
            truth = _truth_of_task(url, task["id"])
            keys = {}
            for f in task["fields"]:
                value = truth[f["name"]]
                if value and rng.random() < 0.2:
                    value = value[:-1] + str(n)  # a slip; each keyer's own, never alike
                keys[f["name"]] = (
                    {"value": value, "confirm_warning": True} if value else {"flag": "blank"}
                )
            body = {"token": task["token"]}
            if task["kind"] == "whole_voucher":
                body["values"] = keys
            else:
                body.update(next(iter(keys.values())))
            r = client.post(f"/api/entry/tasks/{task['id']}", json=body, headers=headers)
            if r.status_code == 422:  # validation caught the slip: key it again, right
                for f in task["fields"]:
                    v = truth[f["name"]]
                    keys[f["name"]] = (
                        {"value": v, "confirm_warning": True} if v else {"flag": "blank"}
                    )
                body = {"token": task["token"]}
                if task["kind"] == "whole_voucher":
                    body["values"] = keys
                else:
                    body.update(next(iter(keys.values())))
                r = client.post(f"/api/entry/tasks/{task['id']}", json=body, headers=headers)
            assert r.status_code == 200, r.text
        r = client.get("/api/arbitration/next", headers=arbiter)
        if r.status_code == 200:
            worked = True
            task = r.json()
            value = _truth_of_task(url, task["id"])[task["fields"][0]["name"]]
            decision = {"decision": "value", "value": value} if value else {"decision": "blank"}
            r = client.post(
                f"/api/arbitration/tasks/{task['id']}",
                json={"token": task["token"], "confirm_warning": True, **decision},
                headers=arbiter,
            )
            assert r.status_code == 200, r.text
        if not worked:
            break
    with session_scope(url) as s:
        states = {s.get(VoucherEntry, v).state for v in vids}
        assert "open" not in states, states
        for v in vids:
            fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == v)).all()
            assert all(f.status == "settled" for f in fields)
            assert all((f.value or "") == (f.ocr_text or "") for f in fields)
