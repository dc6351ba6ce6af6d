"""Scan quality gate: resolution, blur, exposure, blank pages and forms cut by the image edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from imaging.geometry import FormQuad, WorkImage, find_form, to_gray, work_image

# Measured on 120 synth --hard scans (generate_vouchers(seed=7, hard=True)):
# paper 215-254, darkest ink 2-69, frame edge width 0.13-0.38 mm, dpi estimate 200-298,
# ink share 6-16 %. Thresholds sit well outside those ranges, at the point where reading
# actually fails.
#
# Spec scans are 200-300 dpi; below 150 dpi the 0.35 mm Code 128 module is < 2 px and CJK
# strokes merge, so neither the barcode nor OCR can be trusted.
MIN_DPI = 150.0
# 10-90 % edge width of the frame stroke (inner flank, averaged along each side). Blur sweep
# on rendered scans at 200 and 300 dpi: Code 128 still reads at <= 0.445 mm and never at
# >= 0.5 mm; sharp scans measure 0.2-0.26 mm (JPEG + pixel quantisation).
MAX_EDGE_WIDTH_MM = 0.46
# Paper level (90th percentile inside the frame) below this: under-exposed; ink at ~30 then
# has < 60 levels of contrast left.
MIN_PAPER_LEVEL = 90.0
# Darkest ink (1st percentile inside the frame) brighter than this, or paper/ink contrast
# below MIN_CONTRAST: washed out; binarisation for OCR loses thin strokes.
MAX_INK_LEVEL = 160.0
MIN_CONTRAST = 60.0
# Share of ink pixels below which a page is blank; one printed form is >= 6 %.
BLANK_INK_SHARE = 0.002
# A frame corner closer than this to the image edge counts as cut (mm).
EDGE_MARGIN_MM = 0.5
# Used to estimate dpi when the caller gives no form sizes: the widest built-in form.
DEFAULT_FORM_WIDTH_MM = 210.0
_UNSET = object()


@dataclass(frozen=True)
class QualityReport:
    ok: bool
    reasons: tuple[str, ...]
    metrics: dict = field(default_factory=dict)


def estimate_px_per_mm(quad: FormQuad, form_sizes_mm: Sequence[tuple[float, float]] = ()) -> float:
    """Scan scale from the frame, picking the known form size whose aspect ratio fits best."""
    if not form_sizes_mm:
        return quad.width_px / DEFAULT_FORM_WIDTH_MM
    best = min(form_sizes_mm, key=lambda s: abs(s[0] / s[1] - quad.aspect))
    return quad.width_px / best[0]


def assess_quality(
    img: np.ndarray,
    *,
    dpi_hint: float | None = None,
    form_sizes_mm: Sequence[tuple[float, float]] = (),
    quad: FormQuad | None | object = _UNSET,
    work: WorkImage | None = None,
) -> QualityReport:
    """Check one page; pass `quad` (or None) when the frame was already searched for, and
    `work` (geometry.work_image of the page's grey) when the caller has it."""
    gray = to_gray(img)
    h, w = gray.shape
    work = work or work_image(gray)
    small = work.small
    ink_share = float(np.count_nonzero(work.ink)) / work.ink.size
    metrics: dict = {"width": w, "height": h, "ink_share": round(ink_share, 4)}
    reasons: list[str] = []
    if ink_share < BLANK_INK_SHARE or float(small.std()) < 4.0:
        return QualityReport(False, ("blank",), metrics)
    if quad is _UNSET:
        quad = find_form(gray, work=work)
    if quad is None:
        region = small
        reasons.append("form_not_found")
    else:
        region = _inside(gray, quad)
        ppm = estimate_px_per_mm(quad, form_sizes_mm)
        dpi = dpi_hint or ppm * 25.4
        metrics.update(
            dpi=round(dpi, 1), aspect=round(quad.aspect, 4), angle_deg=round(quad.angle_deg, 2)
        )
        if dpi < MIN_DPI or (dpi_hint and ppm * 25.4 < MIN_DPI):
            reasons.append("low_resolution")
        if quad.edge_width_px is not None:
            ew_mm = quad.edge_width_px / ppm
            metrics["edge_width_mm"] = round(ew_mm, 3)
            if ew_mm > MAX_EDGE_WIDTH_MM:
                reasons.append("blurred")
        if quad.touches_border or _near_border(quad, w, h, EDGE_MARGIN_MM * ppm):
            reasons.append("edges_cut")
    paper, ink = percentiles_u8(region, (90, 1))
    metrics.update(paper_level=round(paper, 1), ink_level=round(ink, 1))
    if paper < MIN_PAPER_LEVEL:
        reasons.append("too_dark")
    elif ink > MAX_INK_LEVEL or paper - ink < MIN_CONTRAST:
        reasons.append("too_bright")
    return QualityReport(not reasons, tuple(reasons), metrics)


def percentiles_u8(img: np.ndarray, qs: Sequence[float]) -> list[float]:
    """np.percentile(img, q) (linear method) of a uint8 image for each q, from one histogram
    instead of a partition of every pixel per q; the same floats."""
    counts = np.bincount(img.ravel(), minlength=256)
    cum = np.cumsum(counts)
    n = int(cum[-1])
    out = []
    for q in qs:
        virtual = q / 100 * (n - 1)
        lo_i = int(np.floor(virtual))
        hi_i = min(lo_i + 1, n - 1)
        t = virtual - lo_i
        a = float(np.searchsorted(cum, lo_i, side="right"))  # value of order statistic lo_i
        b = float(np.searchsorted(cum, hi_i, side="right"))
        diff = b - a
        # numpy's _lerp: a + d*t, or b - d*(1-t) for t >= 0.5
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


def _inside(gray: np.ndarray, quad: FormQuad) -> np.ndarray:
    c = np.asarray(quad.corners)
    x0, y0 = np.clip(c.min(axis=0), 0, None).astype(int)
    x1, y1 = c.max(axis=0).astype(int)
    crop = gray[y0 : y1 + 1 : 2, x0 : x1 + 1 : 2]
    return crop if crop.size else gray


def _near_border(quad: FormQuad, w: int, h: int, margin: float) -> bool:
    c = np.asarray(quad.corners)
    return bool(
        (c[:, 0] < margin).any()
        or (c[:, 1] < margin).any()
        or (c[:, 0] > w - 1 - margin).any()
        or (c[:, 1] > h - 1 - margin).any()
    )
