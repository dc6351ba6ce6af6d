"""verify_voucher: what runs once entry has settled the fields, before authorization routing.

Payment password and risk rules run here, synchronously. A drawer-seal form with an account
gets a pending seal check whose worker job scores the seal and then routes the voucher; until
then the voucher waits in awaiting_entry (entry done, verification pending).
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from storage.blobs import BlobStore
from storage.models import Voucher
from storage.settings import Settings
from verification.facts import load_verification_facts
from verification.flags import Flag, replace_flags
from verification.password import check_payment_password
from verification.risk import evaluate_risk
from verification.seal_checks import request_seal_check


@dataclass(frozen=True)
class VerificationOutcome:
    password: str | None  # pass | fail | no_key | unverifiable | None (form has none)
    flags: tuple[Flag, ...]
    seal_pending: bool  # True: do not route yet; the seal job routes when its verdict is in


def verify_voucher(
    session: Session,
    voucher: Voucher,
    *,
    blobs: BlobStore | None,
    settings: Settings,
    today: date | None = None,
    request_seal: bool = True,
) -> VerificationOutcome:
    """Write password and risk flags onto the voucher; request the seal check if one applies.
    The caller holds the voucher row and commits (the seal job is enqueued after the commit)."""
    facts = load_verification_facts(session, voucher)
    password, password_flags = check_payment_password(session, voucher, facts, settings=settings)
    risk = evaluate_risk(
        session, voucher, facts, blobs=blobs, settings=settings, today=today or date.today()
    )
    replace_flags(session, voucher, password_flags + risk, checks={"password", "risk"})
    pending = False
    if request_seal and facts.drawer_seal and facts.account:
        request_seal_check(session, voucher, facts.account)
        pending = True
    return VerificationOutcome(password, tuple(password_flags + risk), pending)
