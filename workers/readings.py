"""From a pipeline result to field readings: OCR per slice, canonical values, the QR payload.

Shared by the imaging job and `voucherflow read`, so both judge a scan the same way. A QR value
is used only when its MAC verifies and it names the same form and serial as the barcode.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from entry.evoucher import EVoucher, verify_payload
from entry.fieldtypes import FieldSpec, canonicalize_ocr
from imaging.layout import FormLayout
from imaging.ocr import OcrRequest, ocr_slices
from workers.pipeline import ScanResult


@dataclass(frozen=True)
class FieldReading:
    name: str
    ocr_text: str | None
    ocr_value: str | None  # canonical, or None when the text is not a valid value of the type
    confidence: float
    engine: str | None
    qr_value: str | None  # only from a verified payload


def ocr_callback(slices: dict[str, np.ndarray], layout: FormLayout) -> dict[str, Any]:
    """One OCR call per voucher: recognizer runs batched by input width, tesseract only for
    unsure digit readings (imaging.ocr.ocr_slices)."""
    requests = [
        OcrRequest(
            key=f.name, image=slices[f.name], field_type=f.type, length=f.length, choices=f.choices
        )
        for f in layout.fields
        if f.name in slices
    ]
    return ocr_slices(requests)


def verify_qr(result: ScanResult, key: bytes) -> EVoucher | None:
    if result.qr_payload is None:
        return None
    return verify_payload(result.qr_payload, key)


def qr_usable(result: ScanResult, qr: EVoucher | None) -> bool:
    return bool(qr and qr.valid and qr.form == result.form and qr.serial == result.serial)


def field_readings(result: ScanResult, form: dict, qr: EVoucher | None) -> dict[str, FieldReading]:
    trusted = qr.fields if qr_usable(result, qr) else {}
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


OcrCallback = Callable[[dict[str, np.ndarray], FormLayout], dict[str, Any]]
