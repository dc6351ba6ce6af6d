"""The settled values verification needs (account, date, amount, password, serial) per form,
found from the form definition: the first account field is the debit (drawer) account."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from entry.forms import form_definition
from storage.imaging_models import VoucherField
from storage.models import Voucher


@dataclass(frozen=True)
class VerificationFacts:
    form: str | None
    account: str | None
    voucher_date: date | None
    amount: Decimal | None
    password: str | None
    has_password_field: bool
    drawer_seal: bool  # the form carries the account holder's seal (not a bank's, no signature)


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _parse_amount(value: str | None) -> Decimal | None:
    try:
        return Decimal(value.replace(",", "")) if value else None
    except InvalidOperation:
        return None


def load_verification_facts(session: Session, voucher: Voucher) -> VerificationFacts:
    definition = form_definition(session, voucher.form)
    values = {
        f.name: f.value
        for f in session.scalars(select(VoucherField).where(VoucherField.voucher_id == voucher.id))
    }
    fields = definition.get("fields", [])
    account_field = next((f["name"] for f in fields if f.get("type") == "account"), None)
    date_field = next((f["name"] for f in fields if f.get("type") in ("date", "date_words")), None)
    amount_field = next((f["name"] for f in fields if f.get("type") == "amount"), None)
    has_password = any(f.get("name") == "payment_password" for f in fields)
    account = values.get(account_field) if account_field else None
    return VerificationFacts(
        form=voucher.form,
        account="".join(ch for ch in account if ch.isdigit()) if account else None,
        voucher_date=_parse_date(values.get(date_field)) if date_field else None,
        amount=_parse_amount(values.get(amount_field)) if amount_field else None,
        password=values.get("payment_password"),
        has_password_field=has_password,
        drawer_seal=(definition.get("seal") or {}).get("kind") == "drawer_seal",
    )
