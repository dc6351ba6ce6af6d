"""verify_voucher on PostgreSQL: payment passwords (pass, fail, no key), duplicates across
branches, the seal job end to end, and flags reaching the authorization rules."""

import io
import random
import uuid
from datetime import date
from decimal import Decimal

import cv2
import pytest
from sqlalchemy import select

from entry.payment_password import PasswordInputs, PasswordVerdict, check_code
from storage.authorization_models import AuthorizationRule, AuthorizationTask
from storage.blobs import make_blob_store
from storage.db import session_scope
from storage.lifecycle import VoucherStatus
from storage.models import Branch, User, Voucher
from storage.settings import get_settings
from storage.verification_models import PaymentKey, RiskFlag, SealCheck
from synth.seal_cases import SealSpec, render_specimen, seal_slice_sample
from synth.verification_cases import demo_payment_key, password_case, payment_password
from tests.support import insert_entered_voucher
from verification.keys import load_payment_key, set_payment_key
from verification.run import verify_voucher
from verification.specimens import register_specimen

ACCOUNT = "6222020000000007"
DAY = date(2026, 11, 25)
TODAY = date(2026, 11, 27)


def make_voucher(
    url: str,
    *,
    serial: str,
    password: str,
    uploader: str = "teller1",
    form: str = "transfer_cheque",
    amount: str = "1234.50",
) -> uuid.UUID:
    values = {
        "drawer_account": ACCOUNT,
        "issue_date": DAY.isoformat(),
        "amount": amount,
        "payment_password": password,
    }
    with session_scope(url) as s:
        v = insert_entered_voucher(s, uploader=uploader, form=form, serial=serial, values=values)
        s.commit()
        return v.id


def run_verify(url: str, vid: uuid.UUID, **kw):  # noqa: ANN003, ANN201
    settings = get_settings()
    with session_scope(url) as s:
        v = s.get(Voucher, vid, with_for_update=True)
        out = verify_voucher(s, v, blobs=None, settings=settings, today=TODAY, **kw)
        s.commit()
        return out, list(v.flags)


def codes(flags: list[dict]) -> set[str]:
    return {f["code"] for f in flags}


def test_payment_password_algorithm_pass_and_wrong() -> None:
    key = demo_payment_key(ACCOUNT)
    inputs = PasswordInputs("6222 0200 0000 0007", DAY, Decimal("1234.5"), "tc0000000001")
    right = payment_password(ACCOUNT, DAY, Decimal("1234.50"), "TC0000000001")
    assert len(right) == 16 and right.isdigit()
    assert check_code(key, inputs, right) == PasswordVerdict.PASS
    rng = random.Random(1)
    for _ in range(20):
        given, truth = password_case(rng, ACCOUNT, DAY, Decimal("1234.50"), "TC0000000001")
        assert check_code(key, inputs, given) == PasswordVerdict(truth)
    assert check_code(None, inputs, right) == PasswordVerdict.NO_KEY


def test_payment_key_is_encrypted_at_rest(pg_inline_env: dict, pg_url: str) -> None:
    key = demo_payment_key(ACCOUNT)
    with session_scope(pg_url) as s:
        set_payment_key(s, ACCOUNT, key, settings=get_settings(), actor_id=None)
        s.commit()
    with session_scope(pg_url) as s:
        row = s.get(PaymentKey, ACCOUNT)
        assert key not in row.ciphertext
        assert load_payment_key(s, ACCOUNT, settings=get_settings()) == key
        other = get_settings().model_copy(update={"payment_key_master": "another"})
        with pytest.raises(Exception):  # noqa: B017
            load_payment_key(s, ACCOUNT, settings=other)


def test_verify_password_pass_fail_and_no_key(pg_inline_env: dict, pg_url: str) -> None:
    amount = Decimal("1234.50")
    right = payment_password(ACCOUNT, DAY, amount, "TC0000000101")
    no_key = make_voucher(pg_url, serial="TC0000000101", password=right)
    out, flags = run_verify(pg_url, no_key, request_seal=False)
    assert out.password == "no_key" and "payment_password_no_key" in codes(flags)
    with session_scope(pg_url) as s:
        set_payment_key(
            s, ACCOUNT, demo_payment_key(ACCOUNT), settings=get_settings(), actor_id=None
        )
        s.commit()
    out, flags = run_verify(pg_url, no_key, request_seal=False)  # re-run replaces old flags
    assert out.password == "pass" and not codes(flags) & {
        "payment_password_no_key",
        "payment_password_failed",
    }
    wrong = make_voucher(pg_url, serial="TC0000000102", password=right)  # other serial
    out, flags = run_verify(pg_url, wrong, request_seal=False)
    assert out.password == "fail" and "payment_password_failed" in codes(flags)
    with session_scope(pg_url) as s:
        rows = s.scalars(select(RiskFlag).where(RiskFlag.voucher_id == wrong)).all()
        assert "payment_password_failed" in {r.code for r in rows}


def test_verify_duplicate_serial_across_branches(pg_inline_env: dict, pg_url: str) -> None:
    first = make_voucher(pg_url, serial="TC0000000201", password="0" * 16, uploader="teller1")
    second = make_voucher(pg_url, serial="TC0000000201", password="0" * 16, uploader="teller2")
    _, flags = run_verify(pg_url, second, request_seal=False)
    dup = next(f for f in flags if f["code"] == "duplicate_serial")
    assert dup["severity"] == "high"
    assert dup["evidence"]["others"][0]["voucher_id"] == str(first)
    with session_scope(pg_url) as s:
        branches = {s.get(Voucher, first).branch_id, s.get(Voucher, second).branch_id}
        assert len(branches) == 2 and None not in {s.get(Branch, b) for b in branches}


def test_flags_reach_authorization_rules(pg_inline_env: dict, pg_url: str) -> None:
    from authorization.handoff import route_after_entry

    with session_scope(pg_url) as s:
        s.add(
            AuthorizationRule(
                name="pw", queue="password_review", flags=["payment_password_failed"], priority=90
            )
        )
        s.commit()
    vid = make_voucher(pg_url, serial="TC0000000301", password="1" * 16)
    with session_scope(pg_url) as s:
        set_payment_key(
            s, ACCOUNT, demo_payment_key(ACCOUNT), settings=get_settings(), actor_id=None
        )
        v = s.get(Voucher, vid, with_for_update=True)
        out = verify_voucher(
            s, v, blobs=None, settings=get_settings(), today=TODAY, request_seal=False
        )
        assert not out.seal_pending
        route_after_entry(s, v, actor_id=None)
        s.commit()
    with session_scope(pg_url) as s:
        task = s.scalar(select(AuthorizationTask).where(AuthorizationTask.voucher_id == vid))
        assert task.queue == "password_review"
        assert "payment_password_failed" in task.reasons
        assert s.get(Voucher, vid).status == VoucherStatus.AWAITING_AUTHORIZATION


@pytest.mark.parametrize(
    ("stamp", "grey", "expected"),
    [
        (SealSpec("square", "林陶", "", 14.0), False, "pass"),
        (SealSpec("square", "王芳", "", 14.0), False, "fail"),
        (SealSpec("square", "林陶", "", 14.0), True, "manual"),
    ],
)
def test_seal_job_end_to_end(
    pg_inline_env: dict, pg_url: str, stamp: SealSpec, grey: bool, expected: str
) -> None:
    import workers.queues  # noqa: F401  (registers the enqueuers, as every process does)
    from workers.verification_tasks import check_seal

    settings = get_settings()
    blobs = make_blob_store(settings)
    registered = SealSpec("square", "林陶", "", 14.0)
    slice_rgb = seal_slice_sample(stamp, random.Random(101), grayscale=grey)
    ok, png = cv2.imencode(".png", cv2.cvtColor(slice_rgb, cv2.COLOR_RGB2BGR))
    blobs.put_bytes("seals/test.png", png.tobytes(), "image/png")
    vid = make_voucher(pg_url, serial="TC0000000401", password="0" * 16)
    with session_scope(pg_url) as s:
        s.add(
            AuthorizationRule(
                name="seal",
                queue="seal_review",
                priority=90,
                flags=["seal_mismatch", "seal_manual"],
            )
        )
        admin = s.scalar(select(User).where(User.username == "admin"))
        register_specimen(
            s,
            blobs,
            account=ACCOUNT,
            data=render_specimen(registered, random.Random(8)),
            kind="seal",
            valid_from=date(2026, 1, 1),
            valid_to=None,
            registered_by_id=admin.id,
        )
        v = s.get(Voucher, vid, with_for_update=True)
        v.seal_key = "seals/test.png"
        out = verify_voucher(s, v, blobs=blobs, settings=settings, today=TODAY)
        assert out.seal_pending
        s.commit()  # inline_jobs_sync: the seal job runs now, after the commit
    with session_scope(pg_url) as s:
        check = s.scalar(select(SealCheck).where(SealCheck.voucher_id == vid))
        if check.status == "pending":  # no enqueuer ran: run the job as a worker would
            s.close()
            check_seal(str(vid))
    with session_scope(pg_url) as s:
        check = s.scalar(select(SealCheck).where(SealCheck.voucher_id == vid))
        v = s.get(Voucher, vid)
        assert check.verdict == expected, (check.reason, check.score)
        if expected != "pass":
            task = s.scalar(select(AuthorizationTask).where(AuthorizationTask.voucher_id == vid))
            assert task.queue == "seal_review"
        flag_codes = codes(v.flags)
        if expected == "fail":
            assert "seal_mismatch" in flag_codes and check.overlay_key
            assert blobs.get_bytes(check.overlay_key)[:4] == b"\x89PNG"
        if expected == "manual":
            assert "seal_manual" in flag_codes and check.reason == "grayscale_scan"
        assert v.status != VoucherStatus.AWAITING_ENTRY
    _ = io


def test_risk_flags_show_on_supervisor_dashboard(client, pg_inline_env: dict, pg_url: str) -> None:  # noqa: ANN001
    from tests.web.test_pages import page_login

    make_voucher(pg_url, serial="TC0000000301", password="0" * 16, uploader="teller1")
    second = make_voucher(pg_url, serial="TC0000000301", password="0" * 16, uploader="teller2")
    run_verify(pg_url, second, request_seal=False)
    page_login(client, "supervisor1")
    html = client.get("/supervisor").text
    assert 'data-testid="risk-flags"' in html
    assert "duplicate_serial" in html and "TC0000000301" in html
    assert "风险标记" in html
