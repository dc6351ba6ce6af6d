"""Decide which form a scan is: by the serial barcode prefix, else by frame shape and rulings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from imaging.barcodes import CodeReading
from imaging.geometry import ink_mask
from imaging.layout import FormLayout

_SERIAL = re.compile(r"([A-Z]{2})(\d+)")
# Resolution at which ruling patterns are compared: lines are 0.2-0.5 mm, i.e. 1-2 px.
RULING_PX_PER_MM = 4.0
# Frame aspect ratios of the built-in forms differ by >= 4 %; measured aspect error on
# generated scans is < 0.3 %, so 2.5 % keeps the right form and rejects the neighbour.
ASPECT_TOLERANCE = 0.025
# Ruling match (share of expected ruled edges found) needed to accept a layout guess.
MIN_RULING_SCORE = 0.55


@dataclass(frozen=True)
class Classification:
    form: str | None
    serial: str | None
    method: str  # "barcode" | "layout" | "none"
    confidence: float
    turned_180: bool = False  # only meaningful for method "layout"


def parse_serial(text: str, layouts: Mapping[str, FormLayout]) -> tuple[str, str] | None:
    """(form name, serial) when text is exactly a known prefix plus the right digit count."""
    m = _SERIAL.fullmatch(text.strip())
    if not m:
        return None
    for layout in layouts.values():
        if layout.serial_prefix == m.group(1) and len(m.group(2)) == layout.serial_digits:
            return layout.name, m.group(0)
    return None


def serial_reading(
    codes: Sequence[CodeReading], layouts: Mapping[str, FormLayout]
) -> tuple[CodeReading, str, str] | None:
    for code in codes:
        if code.symbology == "code128":
            parsed = parse_serial(code.text, layouts)
            if parsed:
                return code, parsed[0], parsed[1]
    return None


def ruling_score(upright: np.ndarray, layout: FormLayout) -> float:
    """Share of the layout's ruled cell edges found as ink in a frame-exact grey image."""
    ppm = RULING_PX_PER_MM
    w, h = round(layout.size_mm[0] * ppm), round(layout.size_mm[1] * ppm)
    ink = ink_mask(cv2.resize(upright, (w, h), interpolation=cv2.INTER_AREA))
    ink = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    hits = []
    for x, y, bw, bh in layout.ruled_boxes():
        x0, x1 = int((x + 0.2 * bw) * ppm), int((x + 0.8 * bw) * ppm)
        y0, y1 = int((y + 0.2 * bh) * ppm), int((y + 0.8 * bh) * ppm)
        for yy in (y, y + bh):
            r = min(h - 1, round(yy * ppm))
            hits.append(ink[r, x0:x1].mean() if x1 > x0 else 0.0)
        for xx in (x, x + bw):
            c = min(w - 1, round(xx * ppm))
            hits.append(ink[y0:y1, c].mean() if y1 > y0 else 0.0)
    return float(np.mean(hits)) if hits else 0.0


def classify_form(
    codes: Sequence[CodeReading],
    layouts: Mapping[str, FormLayout],
    *,
    aspect: float | None = None,
    upright: np.ndarray | None = None,
) -> Classification:
    """By serial barcode; else by frame aspect plus ruling pattern of `upright` (frame-exact
    grey image in reading orientation, also tried turned 180°)."""
    found = serial_reading(codes, layouts)
    if found:
        # A serial whose form disagrees with the frame shape is suspect (pasted label?).
        fits = aspect is None or abs(aspect / layouts[found[1]].aspect - 1) <= ASPECT_TOLERANCE
        return Classification(found[1], found[2], "barcode", 1.0 if fits else 0.5)
    if aspect is None or upright is None:
        return Classification(None, None, "none", 0.0)
    scored = []
    for layout in layouts.values():
        if abs(aspect / layout.aspect - 1) > ASPECT_TOLERANCE:
            continue
        for turned in (False, True):
            img = cv2.rotate(upright, cv2.ROTATE_180) if turned else upright
            scored.append((ruling_score(img, layout), layout.name, turned))
    if not scored:
        return Classification(None, None, "none", 0.0)
    scored.sort(reverse=True)
    best, name, turned = scored[0]
    if best < MIN_RULING_SCORE:
        return Classification(None, None, "none", round(best, 3))
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    confidence = round(min(1.0, best) * min(1.0, 0.5 + (best - runner_up) * 2), 3)
    return Classification(name, None, "layout", confidence, turned)
