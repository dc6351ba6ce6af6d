"""Ordered, pure image pipeline for one scan: decode -> quality -> frame -> codes -> form ->
register -> slices -> optional OCR callback (given the form, serial and QR payload, so it can
skip what a verified QR gives). No DB, queue or object store here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from imaging.barcodes import CodeReading, read_codes, read_qr_in_box, read_zxing
from imaging.classify import Classification, classify_form, parse_serial, serial_reading
from imaging.decode import decode_image
from imaging.geometry import FormQuad, find_form, rectify, to_gray, work_image
from imaging.layout import FormLayout
from imaging.quality import QualityReport, assess_quality
from imaging.register import register_form
from imaging.slicing import SEAL_KEY, cut_slices, warp_box

# OpenCV's own thread pool, per process. Workers run one process per core (as the recognizer
# runs one onnxruntime thread and tesseract one OpenMP thread), so a second OpenCV thread buys
# no throughput, and waking and joining it on every call cost ~12 ms CPU per voucher (~8 %,
# measured on 40 scans in one process: 163-166 ms with 2 threads, 150-155 ms with 1).
OPENCV_THREADS = 1
cv2.setNumThreads(OPENCV_THREADS)

# 300 dpi A4 is ~8.7 Mpx; four times that still covers any voucher scanner setting.
DEFAULT_MAX_PIXELS = 40_000_000
REGISTER_PX_PER_MM = 12.0
SLICE_MARGIN_MM = 1.0
QR_MIN_DARK_SHARE = 0.15
# Serial barcodes end at most 11 mm below the frame top of an 80 mm form (14 %).
SERIAL_BAND_SHARE = 0.2
# The first barcode pass reads only that band of the rectified frame (and the QR box of the
# form its serial names), not the whole frame; the whole frame is read, as before, when the
# band holds no serial (a frame turned 180°, a damaged code). First pass 4.0 -> 2.3-2.9 ms
# per frame; on 280 generated frames the same serials and the same or more QRs
# (docs/decisions-ocr.md, "Speed, round 6").
# False: whole frame first.
SERIAL_BAND_FIRST = True
# Quiet zone (mm) kept around a layout's QR box when reading it from the rectified frame.
QR_CROP_PAD_MM = 4.0


@dataclass(frozen=True)
class OcrContext:
    """What the scan has shown by the time its slices are read: the form and serial from
    classification and the raw QR payload, if one was read. The OCR callback uses it to leave
    out fields a verified e-voucher payload already gives (workers/readings.py)."""

    form: str
    serial: str | None
    qr_payload: bytes | None


OcrCallback = Callable[[dict[str, np.ndarray], FormLayout, OcrContext], dict[str, Any]]


@dataclass(frozen=True)
class ScanResult:
    format: str
    page_count: int
    quality: QualityReport
    codes: tuple[CodeReading, ...]  # rects in the frame-rectified grey image (or the page)
    form: str | None
    serial: str | None
    classification_method: str  # "barcode" | "layout" | "none"
    classification_confidence: float
    slices: dict[str, np.ndarray]
    qr_payload: bytes | None
    timings_ms: dict[str, float]
    frame_corners: tuple[tuple[float, float], ...] | None = None  # TL TR BR BL, reading order
    residual_mm: float | None = None
    homography: tuple[tuple[float, ...], ...] | None = None  # page px -> registered px
    registered: np.ndarray | None = None
    ocr: dict[str, Any] | None = None


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[step] = round((now - self._t) * 1000, 2)
        self._t = now


def _barcode_on_bottom(
    codes: tuple[CodeReading, ...], layouts, height: int, to_rect: np.ndarray | None = None
) -> bool | None:
    """Every form prints its serial barcode in the top band; seen in the bottom half = 180°.
    `to_rect` maps code coordinates (page px) into the rectified frame when needed."""
    found = serial_reading(codes, layouts)
    if not found:
        return None
    x, y = found[0].centre
    if to_rect is not None:
        p = to_rect @ np.array([x, y, 1.0])
        y = p[1] / p[2]
    return y > height / 2


def _read_serial_bands(rect: np.ndarray, layouts, codes: tuple[CodeReading, ...]):
    """Slow passes only where a serial barcode can be: the top band of the upright frame,
    or the bottom band when it is upside down (cheaper than rescaling the whole form)."""
    band = int(rect.shape[0] * SERIAL_BAND_SHARE)
    for on_bottom, part in ((False, rect[:band]), (True, rect[-band:])):
        extra = read_codes(part, thorough=True, upright=True)
        if serial_reading(extra, layouts):
            return codes + extra, on_bottom
    return codes, None


def _read_top_band(rect: np.ndarray, layouts) -> tuple[CodeReading, ...] | None:
    """The quick pass on the top band only: its codes when they hold a serial, else None.
    When the serial names a form with a QR box, that box (padded, from the same rectified
    frame) is read too, as the whole-frame pass would have; a miss there goes to the
    resampled box read after registration, as before."""
    band = int(rect.shape[0] * SERIAL_BAND_SHARE)
    codes = read_codes(rect[:band], thorough=False, upright=True)
    found = serial_reading(codes, layouts)
    if not found:
        return None
    layout = layouts.get(parse_serial(found[0].text, layouts)[0])
    if layout is None or not layout.qr_box:
        return codes
    sx, sy = rect.shape[1] / layout.size_mm[0], rect.shape[0] / layout.size_mm[1]
    x, y, w, h = layout.qr_box
    pad = QR_CROP_PAD_MM
    x0, y0 = max(0, int((x - pad) * sx)), max(0, int((y - pad) * sy))
    x1, y1 = (
        min(rect.shape[1], int((x + w + pad) * sx)),
        min(rect.shape[0], int((y + h + pad) * sy)),
    )
    if x1 <= x0 or y1 <= y0:
        return codes
    qr = [
        CodeReading(
            c.symbology, c.text, c.raw, (c.rect[0] + x0, c.rect[1] + y0, *c.rect[2:]), c.engine
        )
        for c in read_zxing(rect[y0:y1, x0:x1], rotate=False, quick=True)
        if c.symbology == "qrcode"
    ]
    return codes + tuple(qr)


def _has_ink(registered: np.ndarray, box, px_per_mm: float) -> bool:
    """A printed QR is ~half dark modules; an empty box is paper (cheap check before reading)."""
    x, y, w, h = (round(v * px_per_mm) for v in box)
    region = to_gray(registered[y : y + h, x : x + w])
    return region.size > 0 and float((region < 128).mean()) > QR_MIN_DARK_SHARE


def process_scan(
    data: bytes,
    layouts: Mapping[str, FormLayout],
    *,
    ocr: OcrCallback | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    px_per_mm: float = REGISTER_PX_PER_MM,
    margin_mm: float = SLICE_MARGIN_MM,
    colour_slices: bool = False,
) -> ScanResult:
    """Process the first page of one scan; raises ImageError for undecodable input.

    Field slices and `registered` are grey unless colour_slices; the seal slice is RGB."""
    clock = _Clock()
    # A grey scan stays grey (HxW): widening it to RGB and back gave the same pixels.
    decoded = decode_image(data, max_pixels=max_pixels, keep_grey=True)
    page = decoded.pages[0]
    gray = to_gray(page)  # every step but the final colour warp works on grey
    clock.lap("decode")
    work = work_image(gray)  # shared by the frame search and the quality gate
    quad: FormQuad | None = find_form(gray, work=work)
    clock.lap("find_form")
    sizes = [lay.size_mm for lay in layouts.values()]
    quality = assess_quality(gray, dpi_hint=decoded.dpi, form_sizes_mm=sizes, quad=quad, work=work)
    clock.lap("quality")
    rect = None
    if quad is not None:
        rect, to_rect = rectify(gray, quad, out_w=round(quad.width_px), out_h=round(quad.height_px))
        band_codes = _read_top_band(rect, layouts) if SERIAL_BAND_FIRST else None
        if band_codes is not None:
            codes, on_bottom = band_codes, False
        else:
            codes = read_codes(rect, thorough=False, upright=True)
            on_bottom = _barcode_on_bottom(codes, layouts, rect.shape[0])
        if on_bottom is None:
            codes, on_bottom = _read_serial_bands(rect, layouts, codes)
        if on_bottom is None:
            page_codes = read_codes(gray, thorough=False)  # the frame may be wrong
            codes = codes + page_codes
            on_bottom = _barcode_on_bottom(page_codes, layouts, rect.shape[0], to_rect)
        if on_bottom:
            quad = quad.turned_180()
            rect = cv2.rotate(rect, cv2.ROTATE_180)
    elif "blank" in quality.reasons:
        codes = ()
    else:
        codes = read_codes(gray)
    clock.lap("codes")
    cls: Classification = classify_form(
        codes,
        layouts,
        aspect=quad.aspect if quad else None,
        upright=rect,
    )
    if quad is not None and cls.method == "layout" and cls.turned_180:
        quad = quad.turned_180()
    clock.lap("classify")
    slices: dict[str, np.ndarray] = {}
    registered = residual = homography = None
    layout = layouts.get(cls.form) if cls.form else None
    if quad is not None and layout is not None:
        if colour_slices and page.ndim == 2:
            page = cv2.cvtColor(page, cv2.COLOR_GRAY2RGB)
        reg = register_form(
            page, quad, layout, px_per_mm=px_per_mm, gray=gray, colour=colour_slices
        )
        registered, residual, homography = reg.image, reg.residual_mm, reg.homography
        clock.lap("register")
        if layout.qr_box and not any(c.symbology == "qrcode" for c in codes):
            if _has_ink(registered, layout.qr_box, px_per_mm):
                qr_read = read_qr_in_box(gray, np.asarray(reg.homography), px_per_mm, layout.qr_box)
                codes = codes + ((qr_read,) if qr_read else ())
            clock.lap("qr_box")
        slices = cut_slices(registered, layout, px_per_mm=px_per_mm, margin_mm=margin_mm)
        if not colour_slices:  # seals are red: keep that one in colour
            seal = warp_box(
                page,
                np.asarray(reg.homography),
                layout.seal_box,
                px_per_mm=px_per_mm,
                margin_mm=margin_mm,
            )
            # A grey scan's seal as RGB like any other (the same pixels as warping RGB).
            slices[SEAL_KEY] = cv2.cvtColor(seal, cv2.COLOR_GRAY2RGB) if seal.ndim == 2 else seal
        clock.lap("slice")
    ocr_out = None
    qr = next((c.raw for c in codes if c.symbology == "qrcode"), None)
    if ocr is not None and layout is not None and slices:
        ocr_out = ocr(slices, layout, OcrContext(cls.form, cls.serial, qr))
        clock.lap("ocr")
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
        homography=homography,
        registered=registered,
        ocr=ocr_out,
    )
