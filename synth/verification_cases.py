"""Ground truth for verification: per-account payment keys, right and wrong payment passwords,
and duplicate submissions (same serial, or the same image at another branch)."""

import hashlib
import random
from datetime import date
from decimal import Decimal

from entry.payment_password import PasswordInputs, derive_code


def demo_payment_key(account: str, seed: int | str = 0) -> bytes:
    """A deterministic 32-byte key per account for generated data (never a real key)."""
    return hashlib.sha256(f"voucherflow-demo-payment-key:{seed}:{account}".encode()).digest()


def payment_password(
    account: str, day: date, amount: Decimal, serial: str, *, seed: int | str = 0
) -> str:
    return derive_code(
        demo_payment_key(account, seed), PasswordInputs(account, day, amount, serial)
    )


def wrong_password(right: str, rng: random.Random) -> str:
    """A plausible mistake: one or two digits changed, or two neighbours swapped."""
    digits = list(right)
    if rng.random() < 0.3:
        i = rng.randrange(len(digits) - 1)
        if digits[i] != digits[i + 1]:
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
            return "".join(digits)
    for i in rng.sample(range(len(digits)), k=rng.choice((1, 2))):
        digits[i] = rng.choice([d for d in "0123456789" if d != digits[i]])
    return "".join(digits)


def password_case(
    rng: random.Random,
    account: str,
    day: date,
    amount: Decimal,
    serial: str,
    *,
    seed: int | str = 0,
) -> tuple[str, str]:
    """(password as written on the voucher, expected verdict pass | fail); 20 % wrong."""
    right = payment_password(account, day, amount, serial, seed=seed)
    if rng.random() < 0.2:
        return wrong_password(right, rng), "fail"
    return right, "pass"
