"""The simulated core's booking rules, on PostgreSQL and on SQLite (the embedded default):
balances move once per idempotency key, a rejection books nothing, concurrent replays of one
key book once."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from authorization.core_sim import Ledger, luhn_valid
from authorization.posting import CLEARING_ACCOUNT
from authorization.posting import transfer_request as transfer
from storage.authorization_models import CoreAccount, CorePosting
from storage.db import session_scope
from storage.migrate import upgrade_head


@pytest.fixture(params=["postgresql", "sqlite"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'core.db'}"
        upgrade_head(url)
        return url
    return request.getfixturevalue("pg_url")


def account_no(seed: int) -> str:
    body = f"62{seed:013d}"
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


def balance(url: str, number: str) -> Decimal | None:
    with session_scope(url) as s:
        return s.scalar(select(CoreAccount.balance).where(CoreAccount.account_no == number))


def postings(url: str, key: str) -> int:
    with session_scope(url) as s:
        return s.scalar(
            select(func.count()).select_from(CorePosting).where(CorePosting.idempotency_key == key)
        )


def test_transfer_books_once_and_a_replay_returns_the_same_reference(ledger_url: str) -> None:
    ledger = Ledger(ledger_url, auto_open=True, opening_balance=Decimal("1000"))
    key = f"K-{uuid.uuid4().hex[:8]}"
    a, b = account_no(uuid.uuid4().int % 10**12), account_no(uuid.uuid4().int % 10**12)
    first = ledger.book(transfer(key, a, b, "250.50"))
    assert first.status == "posted" and first.reference
    again = ledger.book(transfer(key, a, b, "250.50"))
    assert again == first
    assert ledger.lookup(key) == first
    assert (balance(ledger_url, a), balance(ledger_url, b)) == (
        Decimal("749.50"),
        Decimal("1250.50"),
    )
    assert postings(ledger_url, key) == 1


def test_rejections_book_nothing(ledger_url: str) -> None:
    ledger = Ledger(ledger_url, auto_open=True, opening_balance=Decimal("100"))
    a, b = account_no(uuid.uuid4().int % 10**12), account_no(uuid.uuid4().int % 10**12)
    cases = [
        (transfer("R1" + a, a, b, "100.01"), "insufficient_funds"),
        (transfer("R2" + a, a, b, "abc"), "invalid_amount"),
        (transfer("R3" + a, a, b, "NaN"), "invalid_request"),
        (transfer("R4" + a, a, b, "-5"), "invalid_request"),
        (transfer("R5" + a, a, a, "5"), "invalid_request"),
        (transfer("R6" + a, a, "12345", "5"), "unknown_account"),  # not Luhn-valid: not opened
        (transfer("R8" + a, a, 12345, "5"), "invalid_request"),  # not a string
        (transfer("R9" + a, a, "6" * 33, "5"), "invalid_request"),  # longer than an account
        (transfer("RA" + a, a, b, "1e20"), "invalid_request"),  # beyond Numeric(18, 2)
        (transfer("K" * 65, a, b, "5"), "invalid_request"),  # key longer than its column
        (
            {"kind": "transfer", "debit_account": a, "credit_account": b, "amount": "5"},
            "invalid_request",
        ),
    ]
    for request, reason in cases:
        result = ledger.book(request)
        assert (result.status, result.reason) == ("rejected", reason)
        key = request.get("idempotency_key")
        if key is not None:
            assert postings(ledger_url, key) == 0
            assert ledger.lookup(key).status == "not_found"
    assert balance(ledger_url, b) is None  # its opening was rolled back with the rejection
    with session_scope(ledger_url) as s:
        s.merge(CoreAccount(account_no=b, balance=Decimal("5"), status="closed"))
        s.commit()
    closed = ledger.book(transfer("R7" + a, a, b, "1"))
    assert (closed.status, closed.reason) == ("rejected", "account_closed")
    assert balance(ledger_url, b) == Decimal("5")


def test_without_auto_open_only_existing_accounts_and_the_clearing_account_book(
    ledger_url: str,
) -> None:
    ledger = Ledger(ledger_url, auto_open=False, opening_balance=Decimal("100"))
    a = account_no(uuid.uuid4().int % 10**12)
    unknown = ledger.book(transfer("N1" + a, a, CLEARING_ACCOUNT, "1"))
    assert (unknown.status, unknown.reason) == ("rejected", "unknown_account")
    with session_scope(ledger_url) as s:
        s.add(CoreAccount(account_no=a, balance=Decimal("10")))
        s.commit()
    before = balance(ledger_url, CLEARING_ACCOUNT) or Decimal(0)
    assert ledger.book(transfer("N2" + a, CLEARING_ACCOUNT, a, "30")).status == "posted"
    assert balance(ledger_url, a) == Decimal("40")
    assert balance(ledger_url, CLEARING_ACCOUNT) == before - 30  # the clearing account overdraws


def test_open_account_returns_the_new_number_once(ledger_url: str) -> None:
    ledger = Ledger(ledger_url, auto_open=False, opening_balance=Decimal("0"))
    key = f"O-{uuid.uuid4().hex[:8]}"
    request = {"idempotency_key": key, "kind": "open_account", "applicant_name": "x"}
    opened = ledger.book(request)
    assert opened.status == "posted" and luhn_valid(opened.reference)
    assert ledger.book(request) == opened
    assert balance(ledger_url, opened.reference) == Decimal("0")


def test_concurrent_replays_of_one_key_book_once(pg_url: str) -> None:
    ledger = Ledger(pg_url, auto_open=True, opening_balance=Decimal("1000"))
    key = f"C-{uuid.uuid4().hex[:8]}"
    a, b = account_no(uuid.uuid4().int % 10**12), account_no(uuid.uuid4().int % 10**12)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: ledger.book(transfer(key, a, b, "10")), range(8)))
    assert {r.status for r in results} == {"posted"}
    assert len({r.reference for r in results}) == 1
    assert postings(pg_url, key) == 1
    assert (balance(pg_url, a), balance(pg_url, b)) == (Decimal("990"), Decimal("1010"))
