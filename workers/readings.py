"""From a pipeline result to field readings: OCR per slice, canonical values, the QR payload.

Shared by the imaging job and `voucherflow read`, so both judge a scan the same way. A QR value
is used only when its MAC verifies and it names the same form and serial as the barcode. Such
a value is trusted and never keyed, so its slice is not OCR'd at all (QR_SKIPS_OCR): the
reading says so (engine SKIPPED_FOR_QR, no text) and the value's source is the QR. A payload
that fails its MAC, or names another voucher, trusts nothing and every slice is read.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from entry.evoucher import EVoucher, verify_payload
from entry.fieldtypes import FieldSpec, canonicalize_ocr
from imaging.layout import FormLayout
from imaging.ocr import OcrReading, OcrRequest, ocr_slices
from workers.pipeline import OcrContext, ScanResult

# Skip OCR of the fields a verified QR payload gives (they are settled from the QR).
QR_SKIPS_OCR = True
# The "engine" of a field that was not OCR'd because the verified QR gives its value.
SKIPPED_FOR_QR = "skipped:qr"


@dataclass(frozen=True)
class FieldReading:
    name: str
    ocr_text: str | None
    ocr_value: str | None  # canonical, or None when the text is not a valid value of the type
    confidence: float
    engine: str | None  # OCR engine(s), or SKIPPED_FOR_QR when the verified QR gives the value
    qr_value: str | None  # only from a verified payload


def trusted_qr_fields(form: str | None, serial: str | None, qr: EVoucher | None) -> dict[str, str]:
    """The values of a payload that may stand for the fields: MAC verified, same voucher."""
    if qr and qr.valid and qr.form == form and qr.serial == serial:
        return dict(qr.fields)
    return {}


def make_ocr_callback(evoucher_key: bytes | None, *, skip_qr_fields: bool = QR_SKIPS_OCR):
    """An OCR callback for process_scan: one OCR call per voucher (recognizer runs batched by
    input width, tesseract only for unsure digit readings; imaging.ocr.ocr_slices), leaving
    out the fields a payload verified with `evoucher_key` gives (None: read every field)."""

    def callback(
        slices: dict[str, np.ndarray], layout: FormLayout, context: OcrContext | None = None
    ) -> dict[str, Any]:
        trusted: dict[str, str] = {}
        if skip_qr_fields and evoucher_key and context and context.qr_payload is not None:
            qr = verify_payload(context.qr_payload, evoucher_key)
            trusted = trusted_qr_fields(context.form, context.serial, qr)
        requests = [
            OcrRequest(
                key=f.name,
                image=slices[f.name],
                field_type=f.type,
                length=f.length,
                choices=f.choices,
            )
            for f in layout.fields
            if f.name in slices and trusted.get(f.name) is None
        ]
        readings: dict[str, Any] = dict(ocr_slices(requests)) if requests else {}
        for f in layout.fields:
            if f.name in slices and trusted.get(f.name) is not None:
                readings[f.name] = OcrReading(f.name, "", 0.0, SKIPPED_FOR_QR)
        return readings

    return callback


def ocr_callback(
    slices: dict[str, np.ndarray], layout: FormLayout, context: OcrContext | None = None
) -> dict[str, Any]:
    """make_ocr_callback with the configured e-voucher key (`voucherflow read`)."""
    from storage.settings import get_settings

    return make_ocr_callback(get_settings().evoucher_key.encode())(slices, layout, context)


def verify_qr(result: ScanResult, key: bytes) -> EVoucher | None:
    if result.qr_payload is None:
        return None
    return verify_payload(result.qr_payload, key)


def field_readings(result: ScanResult, form: dict, qr: EVoucher | None) -> dict[str, FieldReading]:
    trusted = trusted_qr_fields(result.form, result.serial, qr)
    readings: dict[str, FieldReading] = {}
    for field_def in form["fields"]:
        name = field_def["name"]
        ocr = (result.ocr or {}).get(name)
        text = getattr(ocr, "text", None) or None
        value = canonicalize_ocr(FieldSpec.from_dict(field_def), text) if text else None
        readings[name] = FieldReading(
            name=name,
            ocr_text=text,
            ocr_value=value,
            confidence=float(getattr(ocr, "confidence", 0.0)) if value is not None else 0.0,
            engine=getattr(ocr, "engine", None),
            qr_value=trusted.get(name),
        )
    return readings
