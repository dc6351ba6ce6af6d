"""`voucherflow read`: run the pure image pipeline (and OCR when available) on image files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from imaging.errors import ImageError
from imaging.layout import FormLayout
from storage.builtin_forms import load_builtin_forms
from storage.settings import get_settings
from workers.pipeline import ScanResult, process_scan
from workers.readings import field_readings, ocr_callback, verify_qr


def _fields(res: ScanResult, form_json: dict | None, qr) -> dict[str, dict]:  # noqa: ANN001
    if form_json is None:
        return {}
    out: dict[str, dict] = {}
    for name, r in field_readings(res, form_json, qr).items():
        if r.qr_value is not None:
            out[name] = {"value": r.qr_value, "confidence": 1.0, "source": "qr"}
        elif r.ocr_value is not None:
            out[name] = {"value": r.ocr_value, "confidence": r.confidence, "source": "ocr"}
        else:
            out[name] = {"value": None, "confidence": 0.0, "source": None}
    return out


def read_one(
    path: Path, layouts: dict[str, FormLayout], forms: dict[str, dict], ocr: Callable | None
) -> dict[str, Any]:
    try:
        res = process_scan(path.read_bytes(), layouts, ocr=ocr)
    except ImageError as exc:
        return {"file": str(path), "error": exc.code}
    qr = verify_qr(res, get_settings().evoucher_key.encode())
    return {
        "file": str(path),
        "form": res.form,
        "serial": res.serial,
        "classification": res.classification_method,
        "quality": {"ok": res.quality.ok, "reasons": list(res.quality.reasons)},
        # QR contents are customer data: only the fact that it was read is shown.
        "barcodes": [
            {
                "symbology": c.symbology,
                "engine": c.engine,
                "text": c.text if c.symbology == "code128" else None,
            }
            for c in res.codes
        ],
        "qr": {
            "present": res.qr_payload is not None,
            "valid": bool(qr and qr.valid),
            "reason": None if qr is None else qr.reason,
            "matches_serial": bool(qr and qr.valid and qr.serial == res.serial),
        },
        "fields": _fields(res, forms.get(res.form) if res.form else None, qr),
        "register_residual_mm": res.residual_mm,
        "timings_ms": res.timings_ms,
    }


def run_read(paths: list[Path]) -> list[dict]:
    """One result dict per image, in order; an undecodable file gives {"file", "error"}."""
    forms = load_builtin_forms()
    layouts = {name: FormLayout.from_dict(data) for name, data in forms.items()}
    return [read_one(Path(p), layouts, forms, ocr_callback) for p in paths]
