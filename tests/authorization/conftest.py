"""Fixtures for authorization tests: vouchers that finished entry (inserted directly, then routed
by route_after_entry), rules, and the simulated core served by uvicorn on loopback."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import uvicorn
from sqlalchemy import select

import workers.queues  # noqa: F401  (registers the posting enqueuer, as every process does)
from authorization.core_sim import Ledger, create_core_app
from authorization.handoff import route_after_entry
from storage.audit import append_event
from storage.authorization_models import AuthorizationRule
from storage.db import session_scope
from storage.models import User
from tests.support import free_port, insert_entered_voucher

# Luhn-valid 16-digit account numbers
ACCOUNT_A = "6222020000000007"
ACCOUNT_B = "6222020000000015"


def luhn_complete(body: str) -> str:
    from authorization.core_sim import luhn_valid

    return next(body + c for c in "0123456789" if luhn_valid(body + c))


def user_id(url: str, username: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(User.id).where(User.username == username))


def add_rule(url: str, **kw) -> int:  # noqa: ANN003
    data = {"name": "rule", "queue": "q", "flags": [], **kw}
    if data.get("min_amount") is not None:
        data["min_amount"] = Decimal(str(data["min_amount"]))
    with session_scope(url) as s:
        rule = AuthorizationRule(**data)
        s.add(rule)
        s.commit()
        return rule.id


def add_user(url: str, username: str, roles: list[str], *, level: int = 0, branch_id=None) -> int:  # noqa: ANN001
    with session_scope(url) as s:
        u = User(
            username=username,
            password_hash=s.scalar(select(User.password_hash).where(User.username == "teller1")),
            roles=roles,
            authorizer_level=level,
            branch_id=branch_id,
        )
        s.add(u)
        s.commit()
        return u.id


def make_entered_voucher(
    url: str,
    *,
    form: str = "wire_transfer",
    amount: str | None = "100.00",
    fields: dict[str, str] | None = None,
    uploader: str = "teller1",
    serial: str | None = None,
    flags: list[str] = (),
    qr_status: str | None = None,
    keyers: list[str] = (),
    arbiters: list[str] = (),
) -> uuid.UUID:
    """A voucher as entry leaves it (settled fields, keyer events), then routed on."""
    serial = serial or f"WT{uuid.uuid4().int % 10**10:010d}"
    values = {
        "remitter_account": ACCOUNT_A,
        "beneficiary_account": ACCOUNT_B,
        "payer_account": ACCOUNT_A,
        "payee_account": ACCOUNT_B,
        "drawer_account": ACCOUNT_A,
        **(fields or {}),
    }
    if amount is not None:
        values["amount"] = amount
    with session_scope(url) as s:
        v = insert_entered_voucher(
            s,
            uploader=uploader,
            form=form,
            serial=serial,
            values=values,
            field_type=lambda name: "amount" if name == "amount" else "account",
            source=lambda name: "qr" if name == "amount" and qr_status == "valid" else "keyed",
            flags=[{"code": f, "evidence": "test"} for f in flags],
            qr_status=qr_status,
        )
        for kind, names in (("entry_key_submitted", keyers), ("entry_arbitrated", arbiters)):
            for name in names:
                actor = s.scalar(select(User.id).where(User.username == name))
                append_event(s, v, kind=kind, actor_id=actor, details={"test": True})
        s.flush()
        route_after_entry(s, v, actor_id=None)
        s.commit()
        return v.id


@pytest.fixture
def entered(pg_url: str) -> Callable[..., uuid.UUID]:
    return lambda **kw: make_entered_voucher(pg_url, **kw)


class CoreServer:
    def __init__(self, url: str, ledger: Ledger):
        self.url = url
        self.ledger = ledger


@pytest.fixture
def core_server(pg_url: str) -> Iterator[CoreServer]:
    """The simulated core on loopback, over real HTTP, with fault injection enabled."""
    port = free_port()
    ledger = Ledger(pg_url, auto_open=True, opening_balance=Decimal("1000000"))
    config = uvicorn.Config(
        create_core_app(ledger, enable_faults=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield CoreServer(f"http://127.0.0.1:{port}", ledger)
    server.should_exit = True
    thread.join(timeout=10)
