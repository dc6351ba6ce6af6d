"""Payment-password keys at rest: AES-256-GCM under a master key from settings.

The AES key is SHA-256 of VOUCHERFLOW_PAYMENT_KEY_MASTER; the account number is the associated
data, so a ciphertext copied onto another account's row does not decrypt.
"""

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from entry.payment_password import canonical_account
from storage.settings import Settings
from storage.verification_models import PaymentKey


class PaymentKeyError(Exception):
    """A stored key does not decrypt (wrong master key, or the row was tampered with)."""


def _aead(settings: Settings) -> AESGCM:
    return AESGCM(hashlib.sha256(settings.payment_key_master.encode("utf-8")).digest())


def set_payment_key(
    session: Session, account: str, key: bytes, *, settings: Settings, actor_id: int | None
) -> None:
    """Store (or replace) the account's key, encrypted."""
    account = canonical_account(account)
    nonce = os.urandom(12)
    ciphertext = _aead(settings).encrypt(nonce, key, account.encode())
    row = session.get(PaymentKey, account)
    if row is None:
        row = PaymentKey(account=account)
        session.add(row)
    row.ciphertext, row.nonce, row.created_by_id = ciphertext, nonce, actor_id
    session.flush()


def load_payment_key(session: Session, account: str, *, settings: Settings) -> bytes | None:
    account = canonical_account(account)
    row = session.get(PaymentKey, account)
    if row is None:
        return None
    try:
        return _aead(settings).decrypt(row.nonce, row.ciphertext, account.encode())
    except InvalidTag as exc:
        raise PaymentKeyError("payment key does not decrypt") from exc
