"""Seal verification on pixels: red-ink separation, grey-scan detection, alignment of a stamp
with its specimen (rotation, scale, shift), a likeness score and a two-colour overlay.

Images in are RGB uint8 (a grey array means a grey scan); results are frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CANON_RADIUS = 100  # px: every stamp is resampled so its enclosing circle has this radius
CANON_SIZE = 2 * CANON_RADIUS + 16
ANGLE_BINS = 360
GRID = 6  # local likeness on a GRID x GRID grid: one changed character spoils its cell
MIN_CELL_INK = 0.16  # a cell counts when either image inks this share of it
MIN_STAMP_PX = 300  # fewer red pixels than this (at 12 px/mm, ~2 mm²) is no stamp
GREY_SPREAD = 18  # max-min over channels below this almost everywhere: a grey scan
BORDER_BAND_MM = 2.5  # ruled cell borders lie within this band of the slice edge
EDGE_PX = 3  # source pixels this close to the slice edge may cut a stamp off: not evidence
RING_BAND = (0.55, 0.93)  # ring text lies between these shares of a round seal's radius
RING_BINS = 360
RING_SECTORS = 18  # 20 degree sectors, about one ring character each
RING_MIN_INK = 0.08
RING_LOW_RANK = 0  # which lowest sector correlation counts
ROUND_FIT_RMS = 0.02  # hull-to-circle RMS (share of radius) below which a stamp is round


@dataclass(frozen=True)
class Stamp:
    """Red ink of one impression, resampled to the canonical frame."""

    mask: np.ndarray  # CANON_SIZE x CANON_SIZE float32 ink strength 0..1
    radius_mm: float  # enclosing-circle radius in the source, physical
    ink_px: int  # red pixels found in the source
    valid: np.ndarray | None = None  # canonical frame: 1 where the source saw the paper
    round: bool = False  # the outline is a circle (a company seal with ring text)


@dataclass(frozen=True)
class Alignment:
    angle_deg: float  # stamp rotated by this to lie on the specimen
    scale: float  # canonical-frame scale refinement (1 = the enclosing circles agree)
    shift_px: tuple[float, float]
    warp: np.ndarray  # 2x3, canonical stamp -> canonical specimen


@dataclass(frozen=True)
class SealScore:
    likeness: float  # 0..1: worst local agreement blended with the global one
    global_corr: float  # correlation of stroke detail over the whole seal
    local_min: float  # the worst grid cell's correlation
    size_ratio: float  # stamp size / specimen size, physical
    alignment: Alignment


@dataclass(frozen=True)
class SealComparison:
    verdict: str  # pass | fail | manual
    reason: str  # matched | mismatch | size_mismatch | grayscale_scan | no_stamp | ...
    score: SealScore | None
    overlay: np.ndarray | None  # RGB: specimen blue, stamp red, both dark


@dataclass(frozen=True)
class SealThresholds:
    pass_at: float = 0.83  # likeness at or above: pass (docs/decisions-verification.md)
    fail_below: float = 0.60  # below: fail; between: manual
    size_tolerance: float = 0.10  # |size ratio - 1| above this: fail


def is_grayscale(image: np.ndarray) -> bool:
    """True for a single-channel image or one whose channels agree almost everywhere."""
    if image.ndim == 2 or image.shape[2] == 1:
        return True
    step = max(1, min(image.shape[:2]) // 200)
    small = image[::step, ::step].astype(np.int16)
    spread = small.max(axis=2) - small.min(axis=2)
    return float(np.percentile(spread, 99.5)) < GREY_SPREAD


def red_ink_mask(rgb: np.ndarray) -> np.ndarray:
    """uint8 0/1: pixels of red stamp ink (red hue, saturated, not near-black), by HSV and
    Lab together so faded pink ink still counts and brown or black print does not."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    a = lab[..., 1].astype(np.int16) - 128
    b = lab[..., 2].astype(np.int16) - 128
    red_hue = (h <= 12) | (h >= 160)
    mask = red_hue & (s >= 50) & (v >= 70) & (a >= 16) & (a > b)
    return mask.astype(np.uint8)


def drop_ruling(mask: np.ndarray, px_per_mm: float) -> np.ndarray:
    """Clear the seal cell's printed border: rows and columns near the slice edge that are
    mostly ink (scanning breaks thin rules, so count ink rather than look for runs)."""
    h, w = mask.shape
    band = max(2, round(BORDER_BAND_MM * px_per_mm))
    out = mask.copy()
    rows = mask.mean(axis=1) > 0.12
    cols = mask.mean(axis=0) > 0.12
    for idx in np.flatnonzero(rows):
        if idx < band or idx >= h - band:
            out[max(0, idx - 2) : idx + 3] = 0
    for idx in np.flatnonzero(cols):
        if idx < band or idx >= w - band:
            out[:, max(0, idx - 2) : idx + 3] = 0
    return out


def drop_specks(mask: np.ndarray, min_px: int, join_px: int) -> np.ndarray:
    """Keep the one stamp: components of at least min_px that belong to the biggest cluster
    (components closer than join_px are one cluster; a stamp's characters are)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(count, np.uint8)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_px
    mask = keep[labels]
    if not mask.any():
        return mask
    joined = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (join_px, join_px)))
    n, clusters, cstats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    sizes = np.bincount(clusters[mask.astype(bool)], minlength=n)
    sizes[0] = 0
    return (mask.astype(bool) & (clusters == int(np.argmax(sizes)))).astype(np.uint8)


def ink_strength(rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """float32 0..1 inside region: how dark the green channel is (red ink absorbs green, and
    luminance keeps the stroke detail that JPEG's halved chroma loses)."""
    g = rgb[..., 1].astype(np.float32)
    paper = float(np.percentile(g, 90))
    dark = np.clip((paper - g) / max(paper - float(np.percentile(g[region > 0], 5)), 20.0), 0, 1)
    near = cv2.dilate(region, np.ones((3, 3), np.uint8))
    return dark * near


def extract_stamp(rgb: np.ndarray, px_per_mm: float) -> Stamp | None:
    """The red stamp in a colour image, canonicalised; None when there is no stamp."""
    mask = drop_ruling(red_ink_mask(rgb), px_per_mm)
    mask = drop_specks(mask, max(4, round(0.15 * px_per_mm**2)), max(3, round(1.5 * px_per_mm)))
    ink = int(mask.sum())
    if ink < MIN_STAMP_PX * (px_per_mm / 12.0) ** 2:
        return None
    points = cv2.findNonZero(mask)
    edge = EDGE_PX
    (cx, cy), radius, is_round = _outer_circle(points, mask.shape, edge)
    scale = CANON_RADIUS / max(radius, 1.0)
    half = CANON_SIZE / 2
    m = np.array([[scale, 0, half - cx * scale], [0, scale, half - cy * scale]], np.float64)
    strength = ink_strength(rgb, mask)
    canon = cv2.warpAffine(strength, m, (CANON_SIZE, CANON_SIZE), flags=cv2.INTER_AREA)
    seen = np.zeros(mask.shape, np.float32)
    seen[edge:-edge, edge:-edge] = 1.0
    valid = cv2.warpAffine(seen, m, (CANON_SIZE, CANON_SIZE), flags=cv2.INTER_NEAREST)
    return Stamp(canon, radius / px_per_mm, ink, valid, is_round)


def _outer_circle(
    points: np.ndarray, shape: tuple[int, ...], edge: int
) -> tuple[tuple[float, float], float, bool]:
    """The stamp's circle: for a round seal, a circle fitted to its convex hull away from the
    slice edges (a stamp half off the cell keeps its true centre and radius); otherwise, or
    when the fit is poor, the minimum enclosing circle."""
    (cx, cy), radius = cv2.minEnclosingCircle(points)
    hull = cv2.convexHull(points)[:, 0, :].astype(np.float64)
    h, w = shape[:2]
    near = edge + 3
    keep = (
        (hull[:, 0] > near)
        & (hull[:, 0] < w - 1 - near)
        & (hull[:, 1] > near)
        & (hull[:, 1] < h - 1 - near)
    )
    pts = hull[keep]
    if len(pts) < 12:
        return (cx, cy), radius, False
    # Too little of the outline left to tell a circle: keep the enclosing circle.
    ang = np.arctan2(pts[:, 1] - cy, pts[:, 0] - cx)
    if np.ptp(np.unwrap(np.sort(ang))) < np.radians(200):
        return (cx, cy), radius, False
    a = np.column_stack([2 * pts[:, 0], 2 * pts[:, 1], np.ones(len(pts))])
    b = (pts**2).sum(axis=1)
    (fx, fy, c), *_ = np.linalg.lstsq(a, b, rcond=None)
    fr = float(np.sqrt(max(c + fx * fx + fy * fy, 1.0)))
    resid = np.abs(np.hypot(pts[:, 0] - fx, pts[:, 1] - fy) - fr)
    if float(np.sqrt((resid**2).mean())) > ROUND_FIT_RMS * fr or fr < 0.9 * radius:
        return (cx, cy), radius, False
    return (float(fx), float(fy)), fr, True


def _soft(mask: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)


def _rotation_candidates(spec: np.ndarray, stamp: np.ndarray, keep: int = 3) -> list[float]:
    """Angles (deg) at which the stamp's polar image best matches the specimen's."""
    centre = (CANON_SIZE / 2, CANON_SIZE / 2)
    size = (CANON_RADIUS + 4, ANGLE_BINS)
    pa = cv2.warpPolar(_soft(spec), size, centre, CANON_RADIUS + 4, cv2.WARP_POLAR_LINEAR)
    pb = cv2.warpPolar(_soft(stamp), size, centre, CANON_RADIUS + 4, cv2.WARP_POLAR_LINEAR)
    corr = np.fft.ifft(np.fft.fft(pa, axis=0) * np.conj(np.fft.fft(pb, axis=0)), axis=0)
    profile = corr.real.sum(axis=1)
    order = np.argsort(profile)[::-1]
    picked: list[int] = []
    for idx in order:
        if all(min(abs(idx - p), ANGLE_BINS - abs(idx - p)) > 8 for p in picked):
            picked.append(int(idx))
        if len(picked) == keep:
            break
    # A shift of k bins in the polar image is a turn of -k bins in the canonical frame.
    return [-p * 360.0 / ANGLE_BINS for p in picked]


def _refine(spec: np.ndarray, stamp: np.ndarray, angle: float) -> np.ndarray:
    """ECC (rotation + shift) from a starting angle; 2x3 warp, stamp -> specimen."""
    centre = (CANON_SIZE / 2, CANON_SIZE / 2)
    warp = cv2.getRotationMatrix2D(centre, angle, 1.0).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
    try:
        # findTransformECC's warp maps template coordinates to input ones: invert ours.
        inv = cv2.invertAffineTransform(warp).astype(np.float32)
        _, inv = cv2.findTransformECC(
            _soft(spec), _soft(stamp), inv, cv2.MOTION_EUCLIDEAN, criteria, None, 5
        )
        warp = cv2.invertAffineTransform(inv).astype(np.float32)
    except cv2.error:
        pass  # no convergence: the polar estimate stands
    return warp


def _apply(stamp: np.ndarray, warp: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(stamp, warp, (CANON_SIZE, CANON_SIZE), flags=cv2.INTER_LINEAR)


def _detail(ink: np.ndarray) -> np.ndarray:
    """Stroke detail: ink minus its broad average (stamping pressure varies smoothly)."""
    fine = cv2.GaussianBlur(ink, (0, 0), 1.5)
    return fine - cv2.GaussianBlur(ink, (0, 0), 5.0)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return 0.0 if den < 1e-6 else max(0.0, float((a * b).sum()) / den)


def _ring_sectors(
    da: np.ndarray, db: np.ndarray, spec: np.ndarray, stamp: np.ndarray, valid: np.ndarray | None
) -> float:
    """Ring text, angularly: the band between the star and the outer ring unwrapped to polar
    coordinates and cut into sectors about one character wide; a low quantile of the sector
    correlations (one changed character spoils its sector, scan noise spoils none)."""
    centre = (CANON_SIZE / 2, CANON_SIZE / 2)
    size = (CANON_RADIUS, RING_BINS)  # radius along x, angle along y

    def polar(img: np.ndarray) -> np.ndarray:
        p = cv2.warpPolar(img, size, centre, CANON_RADIUS, cv2.WARP_POLAR_LINEAR)
        return p[:, round(RING_BAND[0] * CANON_RADIUS) : round(RING_BAND[1] * CANON_RADIUS)]

    pa, pb, ia, ib = polar(da), polar(db), polar(spec), polar(stamp)
    pv = polar(valid) if valid is not None else np.ones_like(pa)
    step = RING_BINS // RING_SECTORS
    scores = []
    for k in range(RING_SECTORS * 2):  # half-overlapping sectors: a character is never split
        rows = np.arange(k * step // 2, k * step // 2 + step) % RING_BINS
        if float(pv[rows].mean()) < 0.9:
            continue  # the stamp ran off the slice here: no evidence either way
        if max(float((ia[rows] > 0.3).mean()), float((ib[rows] > 0.3).mean())) < RING_MIN_INK:
            continue
        scores.append(_ncc(pa[rows], pb[rows]))
    if len(scores) < 4:
        return 1.0
    return float(np.sort(scores)[min(RING_LOW_RANK, len(scores) - 1)])


def _likeness(
    spec: np.ndarray, stamp: np.ndarray, valid: np.ndarray | None = None, ring: bool = False
) -> tuple[float, float]:
    """Global and worst local (grid cell, or ring sector of a round seal) correlation of
    stroke detail, over the part of the frame both scans saw."""
    if valid is not None:
        spec, stamp = spec * valid, stamp * valid
    da, db = _detail(spec), _detail(stamp)
    global_c = _ncc(da, db)
    if ring:
        # A round seal's text runs along the ring: sectors replace the grid's square cells.
        return global_c, _ring_sectors(da, db, spec, stamp, valid)
    cell = CANON_SIZE // GRID
    worst = 1.0
    for i in range(GRID):
        for j in range(GRID):
            sl = (slice(i * cell, (i + 1) * cell), slice(j * cell, (j + 1) * cell))
            if valid is not None and float(valid[sl].mean()) < 0.9:
                continue
            if max(float((spec[sl] > 0.3).mean()), float((stamp[sl] > 0.3).mean())) < MIN_CELL_INK:
                continue
            worst = min(worst, _ncc(da[sl], db[sl]))
    return global_c, worst


def align_and_score(specimen: Stamp, stamp: Stamp) -> SealScore:
    """Best alignment over the rotation candidates (ECC-refined); its likeness."""
    best: tuple[float, np.ndarray, float, float] | None = None
    for angle in _rotation_candidates(specimen.mask, stamp.mask, keep=2):
        warp = _refine(specimen.mask, stamp.mask, angle)
        valid = None
        if specimen.valid is not None and stamp.valid is not None:
            valid = specimen.valid * (_apply(stamp.valid, warp) > 0.5)
        ring = specimen.round and stamp.round
        global_c, local_min = _likeness(specimen.mask, _apply(stamp.mask, warp), valid, ring)
        likeness = 0.5 * global_c + 0.5 * local_min
        if best is None or likeness > best[0]:
            best = (likeness, warp, global_c, local_min)
    assert best is not None
    likeness, warp, global_c, local_min = best
    rot = float(np.degrees(np.arctan2(warp[1, 0], warp[0, 0])))
    return SealScore(
        likeness=round(likeness, 4),
        global_corr=round(global_c, 4),
        local_min=round(local_min, 4),
        size_ratio=round(stamp.radius_mm / max(specimen.radius_mm, 1e-6), 4),
        alignment=Alignment(
            angle_deg=round(-rot, 2),
            scale=1.0,
            shift_px=(round(float(warp[0, 2]), 2), round(float(warp[1, 2]), 2)),
            warp=warp.astype(np.float32),
        ),
    )


def render_overlay(specimen: Stamp, stamp: Stamp, warp: np.ndarray) -> np.ndarray:
    """RGB, canonical frame, 2x: specimen ink blue, aligned stamp ink red, both near black."""
    aligned = _apply(stamp.mask, warp) > 0.3
    spec = specimen.mask > 0.3
    out = np.full((CANON_SIZE, CANON_SIZE, 3), 255, np.uint8)
    out[spec & ~aligned] = (40, 90, 230)
    out[aligned & ~spec] = (230, 40, 40)
    out[spec & aligned] = (40, 20, 60)
    return cv2.resize(out, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)


def compare_seal(
    slice_rgb: np.ndarray,
    specimen_rgb: np.ndarray,
    *,
    slice_px_per_mm: float,
    specimen_px_per_mm: float,
    thresholds: SealThresholds | None = None,
) -> SealComparison:
    """Verdict on one voucher's seal slice against one specimen image."""
    th = thresholds or SealThresholds()
    if is_grayscale(slice_rgb):
        return SealComparison("manual", "grayscale_scan", None, None)
    specimen = (
        None if is_grayscale(specimen_rgb) else extract_stamp(specimen_rgb, specimen_px_per_mm)
    )
    if specimen is None:
        return SealComparison("manual", "specimen_unreadable", None, None)
    stamp = extract_stamp(slice_rgb, slice_px_per_mm)
    if stamp is None:
        return SealComparison("fail", "no_stamp", None, None)
    score = align_and_score(specimen, stamp)
    overlay = render_overlay(specimen, stamp, score.alignment.warp)
    if abs(score.size_ratio - 1.0) > th.size_tolerance:
        return SealComparison("fail", "size_mismatch", score, overlay)
    if score.likeness >= th.pass_at:
        return SealComparison("pass", "matched", score, overlay)
    if score.likeness < th.fail_below:
        return SealComparison("fail", "mismatch", score, overlay)
    return SealComparison("manual", "uncertain", score, overlay)
