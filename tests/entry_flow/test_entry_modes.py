"""A voucher in slice mode and one in whole-voucher mode, from awaiting_entry to settled."""

from sqlalchemy import select

from storage.db import session_scope
from storage.entry_models import EntryKey, EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import User, Voucher, VoucherEvent
from tests.entry_flow.vouchers import key_all, make_voucher, truth_values
from tests.support import login

KEYERS = ("keyer1", "keyer2", "keyer3", "keyer4")
PASSED = {"awaiting_authorization", "posting", "posted", "posting_failed"}  # left entry


def keyer_headers(client) -> dict:  # noqa: ANN001
    return {u: login(client, u) for u in KEYERS}


def test_entry_slice_mode_settles_every_field_blind_and_separated(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, form="deposit_slip")
    truth = truth_values("deposit_slip")
    seen = key_all(client, keyer_headers(client), truth)
    assert seen, "keyers got no tasks"
    for _user, task in seen:
        assert task["kind"] == "key"
        assert len(task["fields"]) == 1
        # Blind: the task carries the image link and the field's definition, nothing keyed.
        assert set(task) == {
            "id",
            "kind",
            "token",
            "lease_expires_at",
            "sla_due_at",
            "image_url",
            "fields",
        }
        assert set(task["fields"][0]) == {
            "name",
            "label",
            "type",
            "required",
            "length",
            "min",
            "max",
            "choices",
        }
    with session_scope(url) as s:
        voucher = s.get(Voucher, vid)
        assert voucher.status in PASSED
        fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)).all()
        assert {f.name: f.value for f in fields} == {k: (v or None) for k, v in truth.items()}
        assert all(f.status == "settled" and f.source == "keyed" for f in fields)
        keys = s.scalars(select(EntryKey).where(EntryKey.voucher_id == vid)).all()
        assert len(keys) == 2 * len(fields)  # double blind, no OCR: two keys per field
        per_field: dict[int, set[int]] = {}
        for k in keys:
            per_field.setdefault(k.field_id, set()).add(k.keyer_id)
        assert all(len(ks) == 2 for ks in per_field.values())  # two different people
        # Nobody keyed both a who field and a how-much field of this voucher.
        groups = {
            t.field_id: t.field_group
            for t in s.scalars(select(EntryTask).where(EntryTask.voucher_id == vid))
        }
        for keyer_id in {k.keyer_id for k in keys}:
            mine = {groups[k.field_id] for k in keys if k.keyer_id == keyer_id} - {None}
            assert len(mine) <= 1, mine
        events = s.scalars(select(VoucherEvent).where(VoucherEvent.voucher_id == vid)).all()
        kinds = [e.kind for e in events]
        assert "entry_opened" in kinds and "entry_task_claimed" in kinds
        # Keyed values never enter the audit trail.
        blob = " ".join(str(e.details) for e in events)
        assert truth["payer_account"] not in blob and truth["payee_name"] not in blob


def test_entry_whole_mode_two_blind_keys_of_the_whole_voucher(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, form="account_opening")
    with session_scope(url) as s:
        assert s.get(VoucherEntry, vid).mode == "whole"
    truth = truth_values("account_opening")
    headers = keyer_headers(client)
    seen = key_all(client, headers, truth)
    kinds = [t["kind"] for _, t in seen]
    assert kinds == ["whole_voucher", "whole_voucher"]
    assert seen[0][0] != seen[1][0]
    assert len(seen[0][1]["fields"]) == len(truth)
    with session_scope(url) as s:
        assert s.get(Voucher, vid).status in PASSED
        fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)).all()
        assert {f.name: f.value for f in fields} == truth


def test_entry_uploader_never_keys_own_voucher(client, pg_inline_env) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    with session_scope(url) as s:
        teller = s.scalar(select(User).where(User.username == "teller1"))
        teller.roles = ["teller", "keyer"]
        s.commit()
    make_voucher(url, client.app.state.blobs, form="deposit_slip", uploader="teller1")
    r = client.get("/api/entry/next", headers=login(client, "teller1"))
    assert r.status_code == 204
    r = client.get("/api/entry/next", headers=login(client, "keyer1"))
    assert r.status_code == 200
