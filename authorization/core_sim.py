"""The simulated core banking ledger (accounts, balances, postings unique by idempotency key):
a small FastAPI app, an in-process adapter for the embedded default, and fault injection.

Tests serve it with uvicorn on loopback; the main app mounts it under /core-sim when no
VOUCHERFLOW_CORE_URL is set. It is a separate component that only shares the database.
"""

import secrets
import threading
import time
import uuid
from decimal import Decimal, InvalidOperation
from functools import cache

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authorization.posting import CLEARING_ACCOUNT, CoreResult
from storage.authorization_models import CoreAccount, CorePosting
from storage.db import is_postgres, session_scope
from storage.models import utcnow
from storage.settings import Settings


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or len(number) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def new_account_number() -> str:
    body = "62" + "".join(secrets.choice("0123456789") for _ in range(13))
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


class Ledger:
    """Booking rules of the simulated core, as plain statements (no unit of work).

    A transfer is one transaction: the posting row first (INSERT .. ON CONFLICT DO NOTHING on
    its idempotency key: a replay finds the booked reference, a concurrent replay waits for the
    first), accounts opened where allowed, both accounts locked in one statement in account
    order, both balances moved in one UPDATE. A rejection rolls all of it back.
    """

    def __init__(self, database_url: str, *, auto_open: bool, opening_balance: Decimal):
        self.url = database_url
        self.auto_open = auto_open
        self.opening_balance = opening_balance

    def lookup(self, key: str) -> CoreResult:
        with session_scope(self.url) as session:
            ref = session.scalar(_REFERENCE, {"key": key})
        return CoreResult("posted", reference=ref) if ref else CoreResult("not_found")

    def book(self, request: dict) -> CoreResult:
        for _ in range(3):  # a concurrent auto-open of the same account
            with session_scope(self.url) as session:
                try:
                    result = self._book(session, request)
                except IntegrityError:
                    session.rollback()
                    continue
                if result.status == "posted":
                    session.commit()
                else:
                    session.rollback()
                return result
        return self.lookup(request["idempotency_key"])

    def _openable(self, number: str) -> bool:
        return number == CLEARING_ACCOUNT or (self.auto_open and luhn_valid(number))

    def _book(self, session: Session, request: dict) -> CoreResult:
        """The booking in the caller's transaction; the caller commits only a `posted`."""
        key = request.get("idempotency_key")
        if not _text(key, KEY_MAX):
            return CoreResult("rejected", reason="invalid_request")
        if request.get("kind") == "open_account":
            number = new_account_number()
            if not _claim_key(session, key, number, "open_account"):
                return CoreResult("posted", reference=session.scalar(_REFERENCE, {"key": key}))
            session.execute(_insert(session, _ACCOUNT), [_new_account(number, Decimal(0))])
            return CoreResult("posted", reference=number)
        try:
            amount = Decimal(str(request["amount"]))
        except (KeyError, InvalidOperation):
            return CoreResult("rejected", reason="invalid_amount")
        debit_no, credit_no = request.get("debit_account"), request.get("credit_account")
        if not amount.is_finite() or amount <= 0 or amount >= AMOUNT_LIMIT:
            return CoreResult("rejected", reason="invalid_request")
        if not (_text(debit_no, ACCOUNT_MAX) and _text(credit_no, ACCOUNT_MAX)):
            return CoreResult("rejected", reason="invalid_request")
        if debit_no == credit_no:
            return CoreResult("rejected", reason="invalid_request")
        reference = "CORE" + uuid.uuid4().hex[:20].upper()
        row = {"debit_account": debit_no, "credit_account": credit_no, "amount": amount}
        if not _claim_key(session, key, reference, "transfer", row):
            return CoreResult("posted", reference=session.scalar(_REFERENCE, {"key": key}))
        numbers = sorted({debit_no, credit_no})  # one lock order: no deadlocks
        openable = [n for n in numbers if self._openable(n)]
        if openable:
            new = [
                _new_account(n, Decimal(0) if n == CLEARING_ACCOUNT else self.opening_balance)
                for n in openable
            ]
            session.execute(_open_if_missing(is_postgres(session)), new)
        accounts = {a.account_no: a for a in session.execute(_LOCK_ACCOUNTS, {"nos": numbers})}
        for number in numbers:
            account = accounts.get(number)
            if account is None:
                return CoreResult("rejected", reason="unknown_account")
            if account.status != "open":
                return CoreResult("rejected", reason="account_closed")
        debit = accounts[debit_no]
        if debit.balance < amount and not debit.allow_overdraft:
            return CoreResult("rejected", reason="insufficient_funds")
        session.execute(_MOVE, {"debit": debit_no, "credit": credit_no, "amount": amount})
        return CoreResult("posted", reference=reference)


_POSTING = CorePosting.__table__
_ACCOUNT = CoreAccount.__table__
KEY_MAX = _POSTING.c.idempotency_key.type.length
ACCOUNT_MAX = _ACCOUNT.c.account_no.type.length
AMOUNT_LIMIT = Decimal(10) ** 16  # Numeric(18, 2)
_REFERENCE = select(_POSTING.c.reference).where(_POSTING.c.idempotency_key == bindparam("key"))
_LOCK_ACCOUNTS = (
    select(_ACCOUNT.c.account_no, _ACCOUNT.c.status, _ACCOUNT.c.balance, _ACCOUNT.c.allow_overdraft)
    .where(_ACCOUNT.c.account_no.in_(bindparam("nos", expanding=True)))
    .order_by(_ACCOUNT.c.account_no)
    .with_for_update()
)
_AMOUNT = bindparam("amount", type_=_ACCOUNT.c.balance.type)
_MOVE = (
    update(_ACCOUNT)
    .where(_ACCOUNT.c.account_no.in_([bindparam("debit"), bindparam("credit")]))
    .values(
        balance=_ACCOUNT.c.balance
        + case(
            (_ACCOUNT.c.account_no == bindparam("debit"), -_AMOUNT),
            else_=_AMOUNT,
        )
    )
)


def _insert(session: Session, table: Table):  # noqa: ANN202
    return (pg_insert if is_postgres(session) else sqlite_insert)(table)


@cache
def _claim_statement(postgres: bool):  # noqa: ANN202
    """INSERT the posting row unless its idempotency key is booked, returning its id. Built
    once per dialect: the compiled-statement cache then serves every booking."""
    return (
        (pg_insert if postgres else sqlite_insert)(_POSTING)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(_POSTING.c.id)
    )


@cache
def _open_if_missing(postgres: bool):  # noqa: ANN202
    """INSERT accounts unless they exist (a concurrent opening of one waits, then skips)."""
    return (pg_insert if postgres else sqlite_insert)(_ACCOUNT).on_conflict_do_nothing()


def _text(value: object, max_length: int) -> bool:
    """A non-empty string that fits its column (anything else is refused, not a 500)."""
    return isinstance(value, str) and 0 < len(value) <= max_length


def _new_account(number: str, balance: Decimal) -> dict:
    return {
        "account_no": number,
        "status": "open",
        "balance": balance,
        "allow_overdraft": number == CLEARING_ACCOUNT,
        "created_at": utcnow(),
    }


def _claim_key(
    session: Session, key: str, reference: str, kind: str, row: dict | None = None
) -> bool:
    """Record the posting under its idempotency key; False when the key was booked already."""
    params = {
        "idempotency_key": key,
        "reference": reference,
        "kind": kind,
        "debit_account": None,
        "credit_account": None,
        "amount": None,
        "at": utcnow(),
        **(row or {}),
    }
    return session.execute(_claim_statement(is_postgres(session)), params).first() is not None


def ledger_from_settings(settings: Settings) -> Ledger:
    return Ledger(
        settings.effective_database_url,
        auto_open=settings.core_auto_open_accounts,
        opening_balance=Decimal(settings.core_auto_open_balance),
    )


class LocalCoreAdapter:
    """The embedded default: the simulated core called in-process (no network)."""

    def __init__(self, settings: Settings):
        self.ledger = ledger_from_settings(settings)

    def send(self, request: dict) -> CoreResult:
        return self.ledger.book(request)

    def lookup(self, idempotency_key: str) -> CoreResult:
        return self.ledger.lookup(idempotency_key)


class FaultIn(BaseModel):
    mode: str = Field(pattern="^(delay_after_commit|fail_before_commit)$")
    seconds: float = 0
    count: int = 1


class AccountIn(BaseModel):
    account_no: str = Field(min_length=1, max_length=32)
    balance: Decimal = Decimal(0)
    status: str = Field(default="open", pattern="^(open|closed)$")
    allow_overdraft: bool = False


class Faults:
    """Faults for tests: each applies to the next `count` posting requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[FaultIn] = []

    def add(self, fault: FaultIn) -> None:
        with self._lock:
            self._pending.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self) -> FaultIn | None:
        with self._lock:
            if not self._pending:
                return None
            fault = self._pending[0]
            fault.count -= 1
            if fault.count <= 0:
                self._pending.pop(0)
            return fault


def _answer(result: CoreResult, replay_status: int = 201) -> JSONResponse:
    if result.status == "posted":
        return JSONResponse({"status": "posted", "reference": result.reference}, replay_status)
    if result.status == "rejected":
        return JSONResponse({"status": "rejected", "reason": result.reason}, 422)
    return JSONResponse({"status": "not_found"}, 404)


def create_core_app(ledger: Ledger, *, enable_faults: bool = False) -> FastAPI:
    app = FastAPI(title="Simulated core banking ledger", docs_url="/docs")
    faults = Faults()

    @app.post("/postings")
    def post_posting(request: dict) -> JSONResponse:
        fault = faults.take() if enable_faults else None
        if fault and fault.mode == "fail_before_commit":
            return JSONResponse({"status": "unavailable"}, 503)
        result = ledger.book(request)
        if fault and fault.mode == "delay_after_commit":
            time.sleep(fault.seconds)  # committed; the caller's timeout fires first
        return _answer(result)

    @app.get("/postings/{key}")
    def get_posting(key: str) -> JSONResponse:
        return _answer(ledger.lookup(key), 200)

    @app.get("/accounts/{account_no}")
    def get_account(account_no: str) -> JSONResponse:
        with session_scope(ledger.url) as session:
            account = session.get(CoreAccount, account_no)
            if account is None:
                return JSONResponse({"status": "not_found"}, 404)
            return JSONResponse(
                {
                    "account_no": account.account_no,
                    "status": account.status,
                    "balance": str(account.balance),
                }
            )

    if enable_faults:

        @app.put("/accounts")
        def put_account(body: AccountIn) -> dict:
            with session_scope(ledger.url) as session:
                account = session.get(CoreAccount, body.account_no) or CoreAccount(
                    account_no=body.account_no
                )
                account.balance, account.status = body.balance, body.status
                account.allow_overdraft = body.allow_overdraft
                session.add(account)
                session.commit()
            return {"account_no": body.account_no}

        @app.post("/faults", status_code=204)
        def add_fault(body: FaultIn) -> None:
            faults.add(body)

        @app.delete("/faults", status_code=204)
        def clear_faults() -> None:
            faults.clear()

    return app


def build_core_app() -> FastAPI:
    """`uvicorn authorization.core_sim:build_core_app --factory`: the simulated core on its own,
    configured from VOUCHERFLOW_* settings (database, auto-open); fault injection off."""
    from storage.settings import get_settings

    return create_core_app(ledger_from_settings(get_settings()))
