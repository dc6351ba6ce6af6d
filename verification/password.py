"""Payment-password verification of a voucher with the account's stored key."""

from sqlalchemy.orm import Session

from entry.payment_password import (
    HmacDemoVerifier,
    PasswordInputError,
    PasswordInputs,
    PasswordVerdict,
)
from storage.models import Voucher
from storage.settings import Settings
from verification.facts import VerificationFacts
from verification.flags import Flag
from verification.keys import PaymentKeyError, load_payment_key


def check_payment_password(
    session: Session, voucher: Voucher, facts: VerificationFacts, *, settings: Settings
) -> tuple[str | None, list[Flag]]:
    """(verdict or None when the form has no password, flags). Never logs the values."""
    if not facts.has_password_field:
        return None, []
    if not (facts.account and facts.voucher_date and facts.amount is not None and voucher.serial):
        return "unverifiable", [
            Flag("payment_password_unverifiable", "medium", {"missing": "inputs"}, "password")
        ]
    try:
        verifier = HmacDemoVerifier(
            lambda account: load_payment_key(session, account, settings=settings)
        )
        verdict = verifier.verify(
            PasswordInputs(facts.account, facts.voucher_date, facts.amount, voucher.serial),
            facts.password or "",
        )
    except (PasswordInputError, PaymentKeyError) as exc:
        return "unverifiable", [
            Flag(
                "payment_password_unverifiable", "medium", {"error": type(exc).__name__}, "password"
            )
        ]
    if verdict == PasswordVerdict.FAIL:
        return verdict, [
            Flag(
                "payment_password_failed",
                "high",
                {"verdict": "fail", "account": facts.account},
                "password",
            )
        ]
    if verdict == PasswordVerdict.NO_KEY:
        return verdict, [
            Flag(
                "payment_password_no_key",
                "medium",
                {"verdict": "no_key", "account": facts.account},
                "password",
            )
        ]
    return verdict, []
