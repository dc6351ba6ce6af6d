"""Locate the form's solid outer frame in a scan, as a sub-pixel quad, and rectify it upright."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

# Detection runs on a min-pooled copy whose long side is at most this (~0.3 mm/px for a
# 300 dpi page): precise enough to seed the full-resolution line fit, and cheap.
WORK_MAX_SIDE = 1000
# Blackhat kernel (work px): wider than any ruled line/stroke so thin dark ink stands out,
# yet a paper-to-background step gives no response (closing keeps steps).
BLACKHAT_KERNEL = 9
# Minimum blackhat response counted as ink: above residual scanner noise after downscaling.
MIN_INK_RESPONSE = 18
# Ink is at least this much darker than its local paper/background level; grain on a grey
# background stays below 0.15, a frame line against a grey background measures >= 0.4.
INK_RATIO = 0.25
# A row/column belongs to the frame when it holds at least this share of the longest line.
FRAME_LINE_SHARE = 0.6
# The frame's longer side must span at least this share of the image's longer side.
MIN_FRAME_SHARE = 0.2
# Perpendicular profiles per frame side for the full-resolution line fit.
REFINE_SAMPLES = 48
BORDER_TOUCH_PX = 2  # work px: the frame component reaching the image edge is cut
# Half-width of the final search around each side (see find_form).
FINAL_SEARCH_MM = 1.2
NOMINAL_WIDTH_MM = 200.0  # forms are 175-210 mm wide; only used to size search windows


@dataclass(frozen=True)
class FormQuad:
    """Frame stroke centre-line corners TL, TR, BR, BL in image px; TL->TR is the long side."""

    corners: tuple[tuple[float, float], ...]
    touches_border: bool = False
    edge_width_px: float | None = None

    @property
    def width_px(self) -> float:
        c = np.asarray(self.corners)
        return float((np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / 2)

    @property
    def height_px(self) -> float:
        c = np.asarray(self.corners)
        return float((np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1])) / 2)

    @property
    def aspect(self) -> float:
        return self.width_px / max(self.height_px, 1e-6)

    @property
    def angle_deg(self) -> float:
        c = np.asarray(self.corners)
        d = c[1] - c[0]
        return float(np.degrees(np.arctan2(d[1], d[0])))

    def turned_180(self) -> FormQuad:
        c = self.corners
        return replace(self, corners=(c[2], c[3], c[0], c[1]))


def to_gray(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return img
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def shrink_keep_ink(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer-factor min-pooled copy (long side <= WORK_MAX_SIDE): a 0.2 mm ruled line stays
    fully dark, where area averaging would fade it into a grey background."""
    h, w = gray.shape
    k = max(1, int(np.ceil(max(h, w) / WORK_MAX_SIDE)))
    if k == 1:
        return gray, 1
    # The minimum of each k x k block (what an erosion anchored at the block's top-left
    # corner, sampled every k px, gives), from k strided row and column minima.
    hh, ww = h - h % k, w - w % k
    rows = gray[0:hh:k, :ww].copy()
    for i in range(1, k):
        np.minimum(rows, gray[i:hh:k, :ww], out=rows)
    pooled = rows[:, 0::k].copy()
    for j in range(1, k):
        np.minimum(pooled, rows[:, j::k], out=pooled)
    return pooled, k


def ink_mask(gray_small: np.ndarray) -> np.ndarray:
    """Thin dark strokes (lines, text, bars) regardless of lighting or background tone."""
    kernel = np.ones((BLACKHAT_KERNEL, BLACKHAT_KERNEL), np.uint8)
    closed = cv2.morphologyEx(gray_small, cv2.MORPH_CLOSE, kernel)
    bh = cv2.subtract(closed, gray_small)
    # Relative darkness is invariant to uneven light and to the background tone next to a
    # frame printed at the paper edge.
    return (bh > MIN_INK_RESPONSE) & (bh.astype(np.float32) > INK_RATIO * closed)


def _best_angle(pts: np.ndarray) -> float:
    """Rotation (deg, in [-45, 45)) that makes the ruled lines most axis-aligned."""

    def score(deg: float) -> float:
        t = np.radians(deg)
        c, s = np.cos(t), np.sin(t)
        xr = pts[:, 0] * c + pts[:, 1] * s
        yr = -pts[:, 0] * s + pts[:, 1] * c
        rows = np.bincount((yr - yr.min()).astype(np.int64))
        cols = np.bincount((xr - xr.min()).astype(np.int64))
        return float((rows.astype(np.float64) ** 2).sum() + (cols.astype(np.float64) ** 2).sum())

    best = max(np.arange(-45.0, 45.0, 2.0), key=score)
    for step in (0.25, 0.05):
        span = step * 8
        best = max(np.arange(best - span, best + span + 1e-9, step), key=score)
    return float((best + 45.0) % 90.0 - 45.0)


def _coarse_quad(mask: np.ndarray) -> tuple[np.ndarray, bool] | None:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n < 2:
        return None
    areas = stats[1:, cv2.CC_STAT_WIDTH] * stats[1:, cv2.CC_STAT_HEIGHT]
    best = 1 + int(np.argmax(areas))
    x, y, w, h = stats[best, :4]
    if max(w, h) < MIN_FRAME_SHARE * max(mask.shape) or min(w, h) < 10:
        return None
    touches = (
        x <= BORDER_TOUCH_PX
        or y <= BORDER_TOUCH_PX
        or x + w >= mask.shape[1] - BORDER_TOUCH_PX
        or y + h >= mask.shape[0] - BORDER_TOUCH_PX
    )
    ys, xs = np.nonzero(labels[y : y + h, x : x + w] == best)
    pts = np.stack([xs + x, ys + y], axis=1).astype(np.float64)
    if len(pts) > 60000:
        pts = pts[np.random.default_rng(0).choice(len(pts), 60000, replace=False)]
    deg = _best_angle(pts)
    t = np.radians(deg)
    c, s = np.cos(t), np.sin(t)
    xr = pts[:, 0] * c + pts[:, 1] * s
    yr = -pts[:, 0] * s + pts[:, 1] * c
    x0, y0 = np.floor(xr.min()), np.floor(yr.min())
    rows = np.bincount((yr - y0).astype(np.int64))
    cols = np.bincount((xr - x0).astype(np.int64))
    # Frame sides: the outermost rows/columns holding a near-full-length line.
    r_idx = np.nonzero(rows >= FRAME_LINE_SHARE * rows.max())[0]
    c_idx = np.nonzero(cols >= FRAME_LINE_SHARE * cols.max())[0]
    top, bottom = r_idx[0] + y0 + 0.5, r_idx[-1] + y0 + 0.5
    left, right = c_idx[0] + x0 + 0.5, c_idx[-1] + x0 + 0.5
    if touches:
        # A frame cut by the image edge misses a side: fall back to the ink extent.
        left, right = min(left, np.floor(xr.min())), max(right, np.ceil(xr.max()))
        top, bottom = min(top, np.floor(yr.min())), max(bottom, np.ceil(yr.max()))
    if right - left < 10 or bottom - top < 10:
        return None
    rect = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
    back = np.array([[c, -s], [s, c]])
    return rect @ back.T, bool(touches)


def _order_landscape(quad: np.ndarray) -> np.ndarray:
    """Corners as TL, TR, BR, BL with the long side first; a portrait frame is turned 90°."""
    w = np.linalg.norm(quad[1] - quad[0])
    h = np.linalg.norm(quad[3] - quad[0])
    if h > w:
        quad = quad[[3, 0, 1, 2]]
    return quad


def _fit_line(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Robust total-least-squares line (point, direction), dropping outliers twice."""
    keep = np.ones(len(points), bool)
    for _ in range(3):
        p = points[keep]
        if len(p) < 6:
            return None
        mean = p.mean(axis=0)
        _, _, vt = np.linalg.svd(p - mean)
        d = vt[0]
        normal = np.array([-d[1], d[0]])
        resid = np.abs((points - mean) @ normal)
        mad = np.median(resid[keep]) + 1e-3
        keep = resid <= max(1.0, 3.0 * mad)
    return mean, d


def _intersect(l1, l2) -> np.ndarray:
    (p1, d1), (p2, d2) = l1, l2
    a = np.array([d1, -d2]).T
    t = np.linalg.solve(a, p2 - p1)
    return p1 + t[0] * d1


def refine_quad(gray: np.ndarray, quad: FormQuad, *, search_px: float) -> FormQuad:
    """Fit each frame side to the centre of the dark stroke nearest the current estimate."""
    c = np.asarray(quad.corners, dtype=np.float64)
    centre = c.mean(axis=0)
    offsets = np.arange(-search_px, search_px + 0.25, 0.5)
    ts = np.linspace(0.06, 0.94, REFINE_SAMPLES)
    lines, aligned = [], []
    for i in range(4):
        p0, p1 = c[i], c[(i + 1) % 4]
        d = (p1 - p0) / np.linalg.norm(p1 - p0)
        nrm = np.array([-d[1], d[0]])
        if np.dot((p0 + p1) / 2 - centre, nrm) < 0:
            nrm = -nrm  # point outwards
        base = p0[None, :] + ts[:, None] * (p1 - p0)[None, :]
        grid = base[:, None, :] + offsets[None, :, None] * nrm[None, None, :]
        prof = cv2.remap(
            gray,
            grid[..., 0].astype(np.float32),
            grid[..., 1].astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ).astype(np.float32)
        paper = percentile_rows(prof, 90)
        ink = prof.min(axis=1)
        found, offs = stroke_centres(prof, offsets, paper, ink)
        pts = base[found] + offs[found, None] * nrm[None, :]
        # Re-centre on the stroke so the side's mean profile is sharp, noise averaged out.
        aligned.extend(shifted_profiles(prof[found], offsets, offs[found]))
        line = _fit_line(pts) if len(pts) >= 6 else None
        lines.append(line if line is not None else (p0, d))
    corners = np.array([_intersect(lines[(i - 1) % 4], lines[i]) for i in range(4)])
    if not np.all(np.isfinite(corners)) or np.abs(corners - c).max() > 4 * search_px + 2:
        corners = c
    ew = _edge_width(np.mean(aligned, axis=0), offsets) if len(aligned) >= 8 else None
    return replace(quad, corners=tuple(map(tuple, corners.tolist())), edge_width_px=ew)


def percentile_rows(a: np.ndarray, q: float) -> np.ndarray:
    """np.percentile(a, q, axis=1) (linear method, same dtype and bits) for a 2-D array, by
    one partition; numpy's general path costs ~10x on these 48-row profiles."""
    n = a.shape[1]
    virtual = q / 100 * (n - 1)
    lo = int(np.floor(virtual))
    hi = min(lo + 1, n - 1)
    part = np.partition(a, (lo, hi) if hi != lo else lo, axis=1)
    x0, x1 = part[:, lo], part[:, hi]
    t = virtual - lo
    diff = x1 - x0
    return np.where(t >= 0.5, x1 - diff * (1 - t), x0 + diff * t)


def stroke_centres(
    prof: np.ndarray, offsets: np.ndarray, paper: np.ndarray, ink: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per profile row: (found, sub-pixel centre offset of the dark run closest to offset 0).

    A row counts only with >= 25 grey levels between paper and ink; the run is the one whose
    middle lies nearest 0 (the first of equals), its centre the darkness-weighted mean."""
    m = prof.shape[0]
    found = (paper - ink) >= 25
    thr = (paper + ink) / 2
    dark = prof < thr[:, None]
    edges = np.diff(np.pad(dark.view(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # row-major: the k-th end closes the k-th start
    offs = np.zeros(m)
    if rows.size == 0:
        return found & False, offs
    dist = np.abs((offsets[starts] + offsets[ends - 1]) / 2)
    order = np.lexsort((starts, dist, rows))
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
    a = np.full(m, 0)
    b = np.full(m, 0)
    a[rows[first]], b[rows[first]] = starts[first], ends[first]
    found &= b > a
    # The weighted means stay per row: numpy's sum of each run in its own order, so the
    # corners come out bit for bit as the former per-sample loop gave them.
    for r in np.flatnonzero(found):
        wts = thr[r] - prof[r, a[r] : b[r]]
        offs[r] = (offsets[a[r] : b[r]] * wts).sum() / wts.sum()
    return found, offs


def shifted_profiles(prof: np.ndarray, offsets: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each row resampled at offsets + its shift (linear, clamped at the ends, as np.interp
    on the even offsets grid)."""
    if len(prof) == 0:
        return np.zeros((0, len(offsets)))
    step = offsets[1] - offsets[0]
    x = offsets[None, :] + shifts[:, None]
    pos = np.clip((x - offsets[0]) / step, 0, len(offsets) - 1)
    j = np.minimum(np.floor(pos).astype(np.intp), len(offsets) - 2)
    frac = pos - j
    p = prof.astype(np.float64)
    lo = np.take_along_axis(p, j, axis=1)
    hi = np.take_along_axis(p, j + 1, axis=1)
    return lo + (hi - lo) * frac


def _edge_width(mean_prof: np.ndarray, offsets: np.ndarray) -> float | None:
    """10-90 % rise (px) from the stroke centre to the paper on the inner (paper) side."""
    centre = int(np.argmin(np.abs(offsets)))
    inner = mean_prof[: centre + 1][::-1]  # outward normal: negative offsets lie inside
    lo, hi = float(inner[0]), float(np.percentile(mean_prof, 95))
    if hi - lo < 15:
        return None
    frac = (inner - lo) / (hi - lo)
    step = offsets[1] - offsets[0]
    i10 = np.argmax(frac >= 0.1)
    i90 = np.argmax(frac >= 0.9)
    if frac[i90] < 0.9:
        return None
    return float(max(i90 - i10, 1) * step)


@dataclass(frozen=True)
class WorkImage:
    """The reduced copy the frame search and the quality gate both look at (computed once)."""

    small: np.ndarray  # min-pooled grey, long side <= WORK_MAX_SIDE
    factor: int  # page px per small px
    ink: np.ndarray  # ink_mask(small)


def work_image(gray: np.ndarray) -> WorkImage:
    small, k = shrink_keep_ink(gray)
    return WorkImage(small, k, ink_mask(small))


def find_form(img: np.ndarray, *, work: WorkImage | None = None) -> FormQuad | None:
    """The frame quad at full resolution (landscape order), or None when no frame is seen.
    `work`: work_image(grey of img) when the caller has it already."""
    gray = to_gray(img)
    work = work or work_image(gray)
    f = 1.0 / work.factor
    found = _coarse_quad(work.ink)
    if found is None:
        return None
    rough, touches = found
    quad = FormQuad(corners=tuple(map(tuple, (_order_landscape(rough) / f).tolist())))
    quad = replace(quad, touches_border=touches)
    quad = refine_quad(gray, quad, search_px=2.5 / f + 2)
    # Rulings and bars start >= 2 mm inside the frame, so 1.2 mm is safe and still holds the
    # whole blurred flank used to measure sharpness.
    ppm_guess = quad.width_px / NOMINAL_WIDTH_MM
    return refine_quad(gray, quad, search_px=max(3.0, FINAL_SEARCH_MM * ppm_guess))


def frame_homography(quad: FormQuad, *, out_w: float, out_h: float, margin: float = 0):
    """3x3 matrix taking image px to an upright out_w x out_h frame offset by margin."""
    m0, mw, mh = margin, margin + out_w, margin + out_h
    dst = np.array([[m0, m0], [mw, m0], [mw, mh], [m0, mh]], dtype=np.float32)
    return cv2.getPerspectiveTransform(np.asarray(quad.corners, np.float32), dst)


def rectify(img: np.ndarray, quad: FormQuad, *, out_w: int, out_h: int, margin: int = 0):
    """Warp the quad to an upright out_w x out_h image plus margin; returns (image, H)."""
    hmat = frame_homography(quad, out_w=out_w, out_h=out_h, margin=margin)
    size = (out_w + 2 * margin, out_h + 2 * margin)
    border = (255, 255, 255) if img.ndim == 3 else 255
    out = cv2.warpPerspective(
        img,
        hmat,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    return out, hmat
