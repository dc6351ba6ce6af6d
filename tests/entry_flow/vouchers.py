"""Test helper: vouchers in awaiting_entry made directly (no image pipeline), plus keyer loops."""

import hashlib
import io
import random
import uuid
from datetime import date, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select

from entry.amount_words import amount_to_words
from entry.defaults import seed_entry_defaults
from entry.opening import open_entry
from storage.audit import append_event
from storage.builtin_forms import load_builtin_forms
from storage.db import session_scope
from storage.imaging_models import VoucherField
from storage.models import Branch, User, Voucher

PNG = None


def slice_png() -> bytes:
    global PNG
    if PNG is None:
        img = Image.new("L", (200, 40), 255)
        ImageDraw.Draw(img).rectangle([2, 2, 197, 37], outline=0)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        PNG = buf.getvalue()
    return PNG


def truth_values(form: str, *, today: date | None = None) -> dict[str, str]:
    """Consistent, valid values for every field of a built-in form (canonical form)."""
    today = today or date.today()
    amount = "12345.67"
    table = {
        "deposit_slip": {
            "date": today.isoformat(),
            "payer_name": "张三",
            "payer_account": "6222020200112233445",
            "payer_bank": "示范银行上海浦东支行",
            "payee_name": "上海某某贸易有限公司",
            "payee_account": "6222021234567890128",
            "payee_bank": "示范银行成都高新支行",
            "amount_words": amount,
            "amount": amount,
            "instrument_type": None,
            "instrument_count": "1",
            "instrument_number": None,
        },
        "account_opening": {
            "applicant_name": "李四",
            "gender": "女",
            "nationality": "中国",
            "id_type": "居民身份证",
            "id_number": "11010519491231002X",
            "id_expiry": (today + timedelta(days=900)).isoformat(),
            "phone": "13800138000",
            "address": "上海市浦东新区世纪大道1号",
            "occupation": "职员",
            "account_type": None,
            "apply_date": today.isoformat(),
        },
    }[form]
    spec = {f["name"]: f for f in load_builtin_forms()[form]["fields"]}
    for name, value in table.items():
        if value is None:
            f = spec[name]
            if f["type"] == "choice":
                table[name] = f["choices"][0]
            elif f["type"] == "digits":
                table[name] = "1" * (f.get("length") or 8)
    return fix_luhn_accounts(table)


def fix_luhn_accounts(values: dict[str, str]) -> dict[str, str]:
    from entry.check_digits import luhn_check_digit

    out = dict(values)
    for k, v in values.items():
        if k.endswith("account") and v:
            out[k] = v[:-1] + luhn_check_digit(v[:-1])
    return out


def make_voucher(
    url: str,
    blobs,  # noqa: ANN001
    *,
    form: str = "deposit_slip",
    uploader: str = "teller1",
    ocr: dict[str, tuple[str, float]] | None = None,
    qr: dict[str, str] | None = None,
    open_it: bool = True,
    seed_defaults: bool = True,
) -> uuid.UUID:
    """Insert a voucher in awaiting_entry with one field row per form field, then open entry."""
    definition = load_builtin_forms()[form]
    with session_scope(url) as session:
        if seed_defaults:
            seed_entry_defaults(session)
        user = session.scalar(select(User).where(User.username == uploader))
        branch_id = user.branch_id or session.scalar(select(Branch.id).limit(1))
        vid = uuid.uuid4()
        voucher = Voucher(
            id=vid,
            branch_id=branch_id,
            uploaded_by_id=user.id,
            status="awaiting_entry",
            original_key=f"originals/test/{vid.hex}",
            sha256=hashlib.sha256(vid.bytes).hexdigest(),
            size_bytes=100,
            detected_format="png",
            width=200,
            height=40,
            form=form,
            serial=f"{definition['serial']['prefix']}{random.randint(0, 10**10):010d}",
        )
        blobs.put_bytes(voucher.original_key, slice_png(), "image/png")
        session.add(voucher)
        append_event(session, voucher, kind="transition", actor_id=None, to_status="awaiting_entry")
        session.flush()
        for f in definition["fields"]:
            key = f"slices/test/{vid.hex}/{f['name']}.png"
            blobs.put_bytes(key, slice_png(), "image/png")
            o = (ocr or {}).get(f["name"])
            session.add(
                VoucherField(
                    voucher_id=vid,
                    name=f["name"],
                    label=f.get("label", ""),
                    field_type=f["type"],
                    required=bool(f.get("required")),
                    slice_key=key,
                    ocr_value=o[0] if o else None,
                    ocr_confidence=o[1] if o else None,
                    ocr_engine="test" if o else None,
                    qr_value=(qr or {}).get(f["name"]),
                    status="pending",
                )
            )
        session.flush()
        if open_it:
            open_entry(session, voucher, settings=None)
        session.commit()
        return vid


def amount_words_for(amount: str) -> str:
    from decimal import Decimal

    return amount_to_words(Decimal(amount))


def key_all(client, headers_by_user: dict, truth: dict[str, str], *, wrong=None, max_rounds=500):  # noqa: ANN001, ANN201
    """Round-robin the keyers over the API until nobody gets a task; returns every task seen.

    `wrong(user, task)` may return a value to key instead of the truth (None: key the truth).
    """
    seen = []
    idle = 0
    rounds = 0
    while idle < len(headers_by_user) and rounds < max_rounds:
        idle = 0
        rounds += 1
        for user, headers in headers_by_user.items():
            r = client.get("/api/entry/next", headers=headers)
            if r.status_code == 204:
                idle += 1
                continue
            assert r.status_code == 200, r.text
            task = r.json()
            seen.append((user, task))
            body = {"token": task["token"], "keystrokes": 10, "duration_ms": 1500}
            if task["kind"] == "whole_voucher":
                body["values"] = {
                    f["name"]: _key_of(truth[f["name"]], wrong and wrong(user, task, f))
                    for f in task["fields"]
                }
            else:
                f = task["fields"][0]
                body.update(_key_of(truth[f["name"]], wrong and wrong(user, task, f)))
            r = client.post(f"/api/entry/tasks/{task['id']}", json=body, headers=headers)
            assert r.status_code == 200, r.text
    return seen


def _key_of(true_value: str | None, override: str | None) -> dict:
    value = override if override is not None else true_value
    if value in (None, ""):
        return {"flag": "blank"}
    return {"value": value, "confirm_warning": True}


def qr_except(form: str, *names: str) -> dict[str, str]:
    """Verified-QR values for every field but `names`: only those fields need keying."""
    return {k: v for k, v in truth_values(form).items() if k not in names and v}


def claim(client, headers):  # noqa: ANN001, ANN201
    r = client.get("/api/entry/next", headers=headers)
    assert r.status_code in (200, 204), r.text
    return r.json() if r.status_code == 200 else None


def submit(client, headers, task, value=None, **extra):  # noqa: ANN001, ANN201
    body = {"token": task["token"], **extra}
    if value is not None:
        body["value"] = value
    return client.post(f"/api/entry/tasks/{task['id']}", json=body, headers=headers)
