"""Ordered, pure image pipeline for one scan: decode -> quality -> frame -> codes -> form ->
register -> slices -> optional OCR callback. No DB, queue or object store here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from imaging.barcodes import CodeReading, read_codes
from imaging.classify import Classification, classify_form, serial_reading
from imaging.decode import decode_image
from imaging.geometry import FormQuad, find_form, rectify, to_gray
from imaging.layout import FormLayout
from imaging.quality import QualityReport, assess_quality
from imaging.register import register_form
from imaging.slicing import cut_slices

# 300 dpi A4 is ~8.7 Mpx; four times that still covers any voucher scanner setting.
DEFAULT_MAX_PIXELS = 40_000_000
REGISTER_PX_PER_MM = 12.0
SLICE_MARGIN_MM = 1.0

OcrCallback = Callable[[dict[str, np.ndarray], FormLayout], dict[str, Any]]


@dataclass(frozen=True)
class ScanResult:
    format: str
    page_count: int
    quality: QualityReport
    codes: tuple[CodeReading, ...]
    form: str | None
    serial: str | None
    classification_method: str  # "barcode" | "layout" | "none"
    classification_confidence: float
    slices: dict[str, np.ndarray]
    qr_payload: bytes | None
    timings_ms: dict[str, float]
    frame_corners: tuple[tuple[float, float], ...] | None = None  # TL TR BR BL, reading order
    residual_mm: float | None = None
    registered: np.ndarray | None = None
    ocr: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[step] = round((now - self._t) * 1000, 2)
        self._t = now


def _barcode_on_bottom(codes: tuple[CodeReading, ...], layouts, height: int) -> bool | None:
    """Every form prints its serial barcode in the top band; seen in the bottom half = 180°."""
    found = serial_reading(codes, layouts)
    if not found:
        return None
    return found[0].centre[1] > height / 2


def process_scan(
    data: bytes,
    layouts: Mapping[str, FormLayout],
    *,
    ocr: OcrCallback | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    px_per_mm: float = REGISTER_PX_PER_MM,
    margin_mm: float = SLICE_MARGIN_MM,
) -> ScanResult:
    """Process the first page of one scan; raises ImageError for undecodable input."""
    clock = _Clock()
    decoded = decode_image(data, max_pixels=max_pixels)
    page = decoded.pages[0]
    clock.lap("decode")
    quad: FormQuad | None = find_form(page)
    clock.lap("find_form")
    sizes = [lay.size_mm for lay in layouts.values()]
    quality = assess_quality(page, dpi_hint=decoded.dpi, form_sizes_mm=sizes, quad=quad)
    clock.lap("quality")
    rect = None
    if quad is not None:
        rect, _ = rectify(page, quad, out_w=round(quad.width_px), out_h=round(quad.height_px))
        codes = read_codes(rect)
        if not serial_reading(codes, layouts):
            codes = codes + read_codes(page)  # frame may be wrong; the page may still read
        on_bottom = _barcode_on_bottom(codes, layouts, rect.shape[0])
        if on_bottom:
            quad = quad.turned_180()
            rect = cv2.rotate(rect, cv2.ROTATE_180)
    elif "blank" in quality.reasons:
        codes = ()
    else:
        codes = read_codes(page)
    clock.lap("codes")
    cls: Classification = classify_form(
        codes, layouts, aspect=quad.aspect if quad else None,
        upright=to_gray(rect) if rect is not None else None,
    )
    if quad is not None and cls.method == "layout" and cls.turned_180:
        quad = quad.turned_180()
    clock.lap("classify")
    slices: dict[str, np.ndarray] = {}
    registered = residual = None
    layout = layouts.get(cls.form) if cls.form else None
    if quad is not None and layout is not None:
        reg = register_form(page, quad, layout, px_per_mm=px_per_mm)
        registered, residual = reg.image, reg.residual_mm
        clock.lap("register")
        slices = cut_slices(registered, layout, px_per_mm=px_per_mm, margin_mm=margin_mm)
        clock.lap("slice")
    ocr_out = None
    if ocr is not None and layout is not None and slices:
        ocr_out = ocr(slices, layout)
        clock.lap("ocr")
    qr = next((c.raw for c in codes if c.symbology == "qrcode"), None)
    clock.timings["total"] = round(sum(clock.timings.values()), 2)
    return ScanResult(
        format=decoded.format,
        page_count=len(decoded.pages),
        quality=quality,
        codes=codes,
        form=cls.form,
        serial=cls.serial,
        classification_method=cls.method,
        classification_confidence=cls.confidence,
        slices=slices,
        qr_payload=qr,
        timings_ms=clock.timings,
        frame_corners=quad.corners if quad is not None else None,
        residual_mm=residual,
        registered=registered,
        ocr=ocr_out,
    )
