"""Payment passwords (支付密码): the demo algorithm and the verifier interface.

DEMO ALGORITHM (documented, not a bank's real one). Inputs are canonicalised first:
    account  the account number's digits only ("6222 0200 ..." -> "62220200...")
    date     the voucher date as YYYYMMDD
    amount   the amount in fen (分), a decimal integer, no leading zeros ("1234.50" -> 123450)
    serial   the voucher serial, upper case, stripped
message = "VFPP1|" + account + "|" + date + "|" + amount + "|" + serial (UTF-8)
mac     = HMAC-SHA256(per-account key, message)
code    = the first 8 bytes of mac as a big-endian integer, modulo 10**16, zero-padded to 16 digits
Any change to account, date, amount or serial gives an unrelated code.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol

CODE_DIGITS = 16
VERSION_TAG = "VFPP1"


class PasswordVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NO_KEY = "no_key"


class PasswordInputError(ValueError):
    """An input cannot be canonicalised (no digits, bad date, bad amount)."""


@dataclass(frozen=True)
class PasswordInputs:
    account: str
    issue_date: date
    amount: Decimal
    serial: str


def canonical_account(account: str) -> str:
    digits = re.sub(r"\D", "", account or "")
    if not digits:
        raise PasswordInputError("account has no digits")
    return digits


def canonical_amount_fen(amount: Decimal | str) -> str:
    try:
        value = Decimal(str(amount).replace(",", "").replace("¥", "").strip())
    except InvalidOperation as exc:
        raise PasswordInputError("amount is not a number") from exc
    fen = value * 100
    if value < 0 or fen != fen.to_integral_value():
        raise PasswordInputError("amount must be non-negative whole fen")
    return str(int(fen))


def canonical_message(inputs: PasswordInputs) -> bytes:
    serial = (inputs.serial or "").strip().upper()
    if not serial:
        raise PasswordInputError("serial is empty")
    parts = (
        VERSION_TAG,
        canonical_account(inputs.account),
        inputs.issue_date.strftime("%Y%m%d"),
        canonical_amount_fen(inputs.amount),
        serial,
    )
    return "|".join(parts).encode("utf-8")


def derive_code(key: bytes, inputs: PasswordInputs) -> str:
    """The 16-digit payment password for these inputs under the account's key."""
    mac = hmac.new(key, canonical_message(inputs), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def check_code(key: bytes | None, inputs: PasswordInputs, presented: str) -> PasswordVerdict:
    """Compare a presented password with the derived one in constant time."""
    if key is None:
        return PasswordVerdict.NO_KEY
    expected = derive_code(key, inputs)
    given = re.sub(r"\s", "", presented or "")
    ok = hmac.compare_digest(expected.encode(), given.encode())
    return PasswordVerdict.PASS if ok else PasswordVerdict.FAIL


class PaymentPasswordVerifier(Protocol):
    """What the verification service calls; a bank plugs its own device's algorithm in here."""

    def verify(self, inputs: PasswordInputs, presented: str) -> PasswordVerdict: ...


class HmacDemoVerifier:
    """The demo algorithm with keys looked up by account (a callable returning bytes or None)."""

    def __init__(self, key_for_account) -> None:  # noqa: ANN001
        self._key_for_account = key_for_account

    def verify(self, inputs: PasswordInputs, presented: str) -> PasswordVerdict:
        key = self._key_for_account(canonical_account(inputs.account))
        return check_code(key, inputs, presented)
