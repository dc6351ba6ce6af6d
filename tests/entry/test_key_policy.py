"""The keying policy a field gets from its rule and what the scan gave (pure)."""

from entry.routing import EntryMode, KeyPolicy, effective_policy
from storage.imaging_models import VoucherField


def field(**kw) -> VoucherField:  # noqa: ANN003
    return VoucherField(name="payee_name", field_type="name", **kw)


def policy(f: VoucherField, explicit: str | None = None, mode=EntryMode.SLICE) -> KeyPolicy:  # noqa: ANN001
    return effective_policy(f, explicit, mode=mode, min_confidence=0.95)


def test_a_verified_qr_value_is_trusted_and_may_stand_as_the_machine_key() -> None:
    qr = field(qr_value="张三", ocr_value=None, ocr_confidence=0.0)  # not OCR'd: the QR gives it
    assert policy(qr) == KeyPolicy.TRUSTED_QR
    assert policy(qr, "ocr_plus_one") == KeyPolicy.OCR_PLUS_ONE  # the QR value is the first key
    assert policy(qr, "double_blind") == KeyPolicy.DOUBLE_BLIND
    assert policy(qr, mode=EntryMode.WHOLE) == KeyPolicy.TRUSTED_QR


def test_ocr_plus_one_needs_a_confident_reading() -> None:
    assert policy(field(ocr_value="张三", ocr_confidence=0.99), "ocr_plus_one") == (
        KeyPolicy.OCR_PLUS_ONE
    )
    assert policy(field(ocr_value="张三", ocr_confidence=0.5), "ocr_plus_one") == (
        KeyPolicy.DOUBLE_BLIND
    )
    assert policy(field(), "trusted_qr") == KeyPolicy.DOUBLE_BLIND  # no QR value to trust
