"""Warp a scan into a form's mm coordinate system, refined on the printed cell rulings."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from imaging.geometry import FormQuad, frame_homography, rectify, to_gray
from imaging.layout import FormLayout

DEFAULT_PX_PER_MM = 12.0
# Rulings are located on a cheaper 8 px/mm grey warp; their centroids are sub-pixel, so the
# fit is still good to a few hundredths of a mm (see residual_mm).
LINE_PX_PER_MM = 8.0
# Rulings are searched this far (mm) from where the frame fit puts them.
LINE_SEARCH_MM = 1.2
# A ruling must be this much darker (grey levels, strip mean) than its neighbourhood.
MIN_LINE_CONTRAST = 20.0
# Corrections larger than this mean the lines were mis-found; keep the frame fit then.
MAX_SHIFT_MM = 1.5
MAX_SCALE_ERROR = 0.01


@dataclass(frozen=True)
class Registration:
    image: np.ndarray  # form at px_per_mm, (0,0) = frame top-left; RGB or grey like input
    px_per_mm: float
    homography: tuple[tuple[float, ...], ...]  # input px -> registered px
    residual_mm: float | None  # median |ruling offset| after refinement
    residual_max_mm: float | None
    lines_found: int


def _line_offsets(gray: np.ndarray, layout: FormLayout, ppm: float, horizontal: bool):
    """(expected, found) positions in mm of the rulings of every ruled cell."""
    expected, lows, profs = [], [], []
    search = int(LINE_SEARCH_MM * ppm)
    hgt, wid = gray.shape
    for x, y, bw, bh in layout.ruled_boxes():
        span = (x + 0.15 * bw, x + 0.85 * bw) if horizontal else (y + 0.15 * bh, y + 0.85 * bh)
        a, b = int(span[0] * ppm), int(span[1] * ppm)
        for pos in (y, y + bh) if horizontal else (x, x + bw):
            c = round(pos * ppm)
            lo, hi = c - search, c + search + 1
            if lo < 0 or b <= a or hi > (hgt if horizontal else wid):
                continue
            strip = gray[lo:hi, a:b] if horizontal else gray[a:b, lo:hi].T
            expected.append(pos)
            lows.append(lo)
            profs.append(strip.mean(axis=1))
    return _profile_minima(np.asarray(expected), np.asarray(lows), profs, ppm)


def _profile_minima(expected, lows, profs, ppm: float) -> np.ndarray:
    """Sub-pixel ruling positions (mm) from the strip profiles, all strips at once.

    Each profile's darkest sample must lie MIN_LINE_CONTRAST below its 80th percentile; the
    position is the depth-weighted centre of the 7 samples around it (depth above half the
    minimum's). Same numbers as the former per-strip loop: the window sums run over 7
    samples in order, zero-padded at the end where the profile is cut."""
    if not profs:
        return np.zeros((0, 2))
    prof = np.stack(profs)
    k = prof.argmin(axis=1)
    rows = np.arange(len(prof))
    depth = np.percentile(prof, 80, axis=1)[:, None] - prof
    deepest = depth[rows, k]
    keep = deepest >= MIN_LINE_CONTRAST
    j0 = np.maximum(0, k - 3)
    j1 = np.minimum(prof.shape[1], k + 4)
    idx = j0[:, None] + np.arange(7)[None, :]
    valid = idx < j1[:, None]
    window = depth[rows[:, None], np.minimum(idx, prof.shape[1] - 1)]
    wts = np.where(valid, np.clip(window - deepest[:, None] / 2, 0, None), 0.0)
    centre = (np.arange(7)[None, :] * wts).sum(axis=1) / np.maximum(wts.sum(axis=1), 1e-6)
    found = (lows + j0 + centre) / ppm
    return np.stack([expected[keep], found[keep]], axis=1).astype(np.float64).reshape(-1, 2)


def _robust_fit(pairs: np.ndarray) -> tuple[float, float, np.ndarray]:
    """found = a * expected + b, ignoring rulings more than 3 MADs off."""
    keep = np.ones(len(pairs), bool)
    a, b = 1.0, 0.0
    for _ in range(3):
        if keep.sum() < 4:
            break
        a, b = np.polyfit(pairs[keep, 0], pairs[keep, 1], 1)
        resid = np.abs(pairs[:, 1] - (a * pairs[:, 0] + b))
        keep = resid <= max(0.15, 3 * np.median(resid[keep]))
    resid = np.abs(pairs[:, 1] - (a * pairs[:, 0] + b))
    return float(a), float(b), resid[keep]


def register_form(
    img: np.ndarray,
    quad: FormQuad,
    layout: FormLayout,
    *,
    px_per_mm: float = DEFAULT_PX_PER_MM,
    gray: np.ndarray | None = None,
    colour: bool = True,
) -> Registration:
    """Frame quad -> form rectangle, then an axis-wise scale+shift fitted to the rulings.
    colour=False warps only the grey image (a third of the cost)."""
    w_px, h_px = round(layout.size_mm[0] * px_per_mm), round(layout.size_mm[1] * px_per_mm)
    lw, lh = round(layout.size_mm[0] * LINE_PX_PER_MM), round(layout.size_mm[1] * LINE_PX_PER_MM)
    src = to_gray(img) if gray is None else gray
    small, _ = rectify(src, quad, out_w=lw, out_h=lh)
    hz = _line_offsets(small, layout, LINE_PX_PER_MM, horizontal=True)
    vt = _line_offsets(small, layout, LINE_PX_PER_MM, horizontal=False)
    hmat = frame_homography(quad, out_w=w_px, out_h=h_px)
    residuals = []
    corr = np.eye(3)
    if len(hz) >= 4 and len(vt) >= 4:
        ay, by, ry = _robust_fit(hz)
        ax, bx, rx = _robust_fit(vt)
        ok = (
            max(abs(ax - 1), abs(ay - 1)) < MAX_SCALE_ERROR and max(abs(bx), abs(by)) < MAX_SHIFT_MM
        )
        if ok:
            # Content expected at e sits at a*e+b: map it back, e = (f - b) / a.
            corr = np.array(
                [[1 / ax, 0, -bx * px_per_mm / ax], [0, 1 / ay, -by * px_per_mm / ay], [0, 0, 1]]
            )
            residuals = np.concatenate([rx, ry])
        else:
            residuals = np.abs(np.concatenate([hz[:, 1] - hz[:, 0], vt[:, 1] - vt[:, 0]]))
    hmat = corr @ hmat
    source = img if colour else src
    border = (255, 255, 255) if source.ndim == 3 else 255
    out = cv2.warpPerspective(
        source,
        hmat,
        (w_px, h_px),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    med = float(np.median(residuals)) if len(residuals) else None
    mx = float(np.percentile(residuals, 95)) if len(residuals) else None
    return Registration(
        image=out,
        px_per_mm=px_per_mm,
        homography=tuple(tuple(float(v) for v in row) for row in hmat),
        residual_mm=None if med is None else round(med, 3),
        residual_max_mm=None if mx is None else round(mx, 3),
        lines_found=len(hz) + len(vt),
    )
