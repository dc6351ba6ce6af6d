"""From upload to settled: a scanned deposit slip (slice mode) and an account-opening form
(whole-voucher mode) go through intake, the image pipeline, blind keying and the checks."""

import json
from datetime import date

from sqlalchemy import select

from storage.db import session_scope
from storage.entry_models import VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import Voucher
from synth.generate import generate_vouchers
from tests.entry_flow.vouchers import key_all
from tests.support import login

LEFT_ENTRY = {"awaiting_authorization", "posting", "posted", "posting_failed", "exception_review"}


def test_entry_from_upload_to_settled_in_both_modes(client, pg_inline_env, tmp_path) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    from entry.defaults import seed_entry_defaults

    with session_scope(url) as s:
        seed_entry_defaults(s)
        s.commit()
    teller = login(client, "teller1")
    crew = {u: login(client, u) for u in ("keyer1", "keyer2", "keyer3", "keyer4")}
    for form, mode in (("deposit_slip", "slice"), ("account_opening", "whole")):
        (path,) = generate_vouchers(
            tmp_path / form, n=1, seed=11, forms=[form], processing_date=date.today()
        )
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["fields"]
        with path.open("rb") as fh:
            r = client.post(
                "/api/vouchers", files={"files": (path.name, fh, "image/jpeg")}, headers=teller
            )
        assert r.status_code == 201, r.text
        vid = r.json()["results"][0]["voucher_id"]
        with session_scope(url) as s:
            voucher = s.scalar(select(Voucher).where(Voucher.id == vid))
            assert voucher.status == "awaiting_entry", (voucher.status, voucher.status_reason)
            assert s.get(VoucherEntry, voucher.id).mode == mode
        key_all(client, crew, truth)
        with session_scope(url) as s:
            voucher = s.scalar(select(Voucher).where(Voucher.id == vid))
            assert voucher.status in LEFT_ENTRY
            fields = s.scalars(
                select(VoucherField).where(VoucherField.voucher_id == voucher.id)
            ).all()
            assert all(f.status == "settled" for f in fields)
            assert {f.name: f.value or "" for f in fields} == truth
