"""Field-slice clean-up before OCR: gray, ruling-line removal, ink crop, binarize, rescale."""

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

# Slices come cut from a registered form at ~12 px/mm; borders are >= 0.8 cell-height long
# while no glyph stroke of a value printed inside the cell is.
LINE_MIN_FRACTION_H = 0.35  # of slice width, for horizontal rules
# Vertical rules: a run this long (of the height between the horizontal rules) that reaches
# one of them within RULE_TOUCH_PX; a value is padded >= 0.6 mm away from every rule.
LINE_MIN_FRACTION_V = 0.5
RULE_TOUCH_PX = 3
# Without horizontal rules in the slice, a vertical rule is a run this long (of slice height).
LINE_MIN_FRACTION_V_UNANCHORED = 0.75
# Components smaller than this (px at 12 px/mm) are dust, not strokes of a digit or dot.
MIN_COMPONENT_AREA = 6
# Ink below this many pixels after clean-up is a blank cell.
MIN_INK_PIXELS = 40


class PreparedSlice:
    """A cleaned field slice: `gray` is the ink crop on white, `binary` its 0/255 version.

    `binary` is made on first use (`make_binary`): PP-OCR reads the gray one, and only
    tesseract's cross-check (~10 % of digit slices) and the bar count of I/II/III choices read
    the binary one, which cost ~0.3 ms a slice to make (mask, resize, threshold, border)."""

    __slots__ = ("_binary", "_make_binary", "blank", "gray")

    def __init__(
        self,
        gray: np.ndarray,
        binary: np.ndarray | None = None,
        blank: bool = False,
        *,
        make_binary: Callable[[], np.ndarray] | None = None,
    ) -> None:
        if binary is None and make_binary is None:
            raise ValueError("a binary image or a way to make it is needed")
        self.gray = gray
        self.blank = blank
        self._binary = binary
        self._make_binary = make_binary

    @property
    def binary(self) -> np.ndarray:
        if self._binary is None:
            assert self._make_binary is not None
            self._binary = self._make_binary()
            self._make_binary = None  # and what it held (the slice's labels) with it
        return self._binary


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def paper_level(gray: np.ndarray) -> float:
    """90th percentile grey level (the paper), from a histogram: a sort per slice cost more."""
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel().cumsum()
    return float(np.searchsorted(hist, 0.9 * hist[-1]))


def binarize_ink(gray: np.ndarray) -> np.ndarray:
    """Ink mask (255 = ink) by Otsu, guarded so a near-blank slice does not turn noise into ink."""
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    thresh, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    # Otsu on a blank (or uniform grey) cell splits noise; demand real contrast with paper.
    paper = paper_level(blurred)
    if paper - thresh < 40:
        thresh = paper - 60
        mask = np.where(blurred < thresh, 255, 0).astype(np.uint8)
    return mask


def count_ink(mask: np.ndarray, axis: int) -> np.ndarray:
    """np.count_nonzero(mask, axis=axis) for a 2-D mask, the same counts by cv2.reduce: numpy's
    counting along an axis cost ~70 us on a slice, ~6 times per slice."""
    if mask.size == 0:
        return np.count_nonzero(mask, axis=axis)
    ones = (mask != 0).view(np.uint8)
    return cv2.reduce(ones, axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()


def open_runs(ink: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """cv2.morphologyEx(ink, MORPH_OPEN, a 1-px-thin rect of `length`) bit for bit, on only the
    rows (columns) that hold enough ink for such a run: the opening of a line depends on that
    line alone, and a run needs `length` px, or half of it where it touches the border (the
    erosion counts outside as ink). Most rows of a slice hold text, not rules: ~3x faster."""
    counts = count_ink(ink, axis=1 if horizontal else 0)
    lines = np.flatnonzero(counts >= length - length // 2)
    out = np.zeros_like(ink)
    if lines.size == 0:
        return out
    if horizontal:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
        out[lines] = cv2.morphologyEx(np.ascontiguousarray(ink[lines]), cv2.MORPH_OPEN, kernel)
    else:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1, length))
        part = np.ascontiguousarray(ink[:, lines])
        out[:, lines] = cv2.morphologyEx(part, cv2.MORPH_OPEN, kernel)
    return out


def rule_rows(horiz: np.ndarray) -> tuple[int, int]:
    """Inner edges (top, bottom) of the cell's horizontal rules; -1 / height when not seen."""
    h, w = horiz.shape
    rows = np.flatnonzero(count_ink(horiz, axis=1) >= LINE_MIN_FRACTION_H * w)
    return _last_below(rows, 0.4 * h, -1), _first_above(rows, 0.6 * h, h)


def _last_below(sorted_idx: np.ndarray, limit: float, default: int) -> int:
    """max(i for i in sorted_idx if i < limit), else default (sorted_idx ascending)."""
    below = sorted_idx[sorted_idx < limit]
    return int(below[-1]) if below.size else default


def _first_above(sorted_idx: np.ndarray, limit: float, default: int) -> int:
    """min(i for i in sorted_idx if i > limit), else default (sorted_idx ascending)."""
    above = sorted_idx[sorted_idx > limit]
    return int(above[0]) if above.size else default


def find_rules(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Long thin horizontal and vertical runs of ink: the printed cell borders.

    A vertical rule must reach the cell's top or bottom rule. Length alone does not separate
    it from a glyph: with a 1 mm slice margin the vertical stroke of 中, 市 or 州 in a value
    set at 78 % of the cell height is as long as 55 % of the slice, and removing it (and then
    taking it for the cell's side) cut whole characters off the value.
    """
    h, w = ink.shape
    horiz = open_runs(ink, max(15, int(w * LINE_MIN_FRACTION_H)), horizontal=True)
    top, bottom = rule_rows(horiz)
    if top < 0 or bottom >= h:
        # No frame to anchor on: only runs longer than any glyph count.
        vert_len = max(15, int(h * LINE_MIN_FRACTION_V_UNANCHORED))
        return horiz, open_runs(ink, vert_len, horizontal=False)
    vert_len = max(15, int((bottom - top) * LINE_MIN_FRACTION_V))
    vert = open_runs(ink, vert_len, horizontal=False)
    n, labels = cv2.connectedComponents(vert, connectivity=8)
    if n <= 1:
        return horiz, vert
    y0, _, y1, _ = component_extents(labels, n)
    anchored = (y0 <= top + RULE_TOUCH_PX) | (y1 >= bottom - RULE_TOUCH_PX)
    anchored[0] = False
    # Only the columns holding a run can hold a rule: relabel just those.
    cols = np.flatnonzero(count_ink(vert, axis=0))
    out = np.zeros_like(vert)
    out[:, cols] = np.where(anchored[labels[:, cols]], 255, 0)
    return horiz, out


def ink_points(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the non-zero pixels; cv2.findNonZero is ~5x np.nonzero here."""
    if mask.dtype != np.uint8:
        mask = (mask != 0).view(np.uint8)
    points = cv2.findNonZero(mask)
    if points is None:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    points = points.reshape(-1, 2)  # (N, 1, 2) in OpenCV 4, (N, 2) in 5
    return points[:, 1].astype(np.intp), points[:, 0].astype(np.intp)


def component_extents(
    labels: np.ndarray, n: int, points: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per label: top row, left column, bottom row + 1, right column + 1 (label 0 included).
    `points` are the labelled pixels when the caller has them already (ink_points).

    connectedComponentsWithStats costs ~5x the labelling itself (0.6 ms per slice with
    OpenCV 5); the ink is a small share of a slice, so reducing over its pixels is cheaper.
    """
    ys, xs = ink_points(labels) if points is None else points
    lab = labels[ys, xs]
    top = np.full(n, labels.shape[0], np.int64)
    left = np.full(n, labels.shape[1], np.int64)
    bottom = np.zeros(n, np.int64)
    right = np.zeros(n, np.int64)
    np.minimum.at(top, lab, ys)
    np.minimum.at(left, lab, xs)
    np.maximum.at(bottom, lab, ys + 1)
    np.maximum.at(right, lab, xs + 1)
    return top, left, bottom, right


def cell_interior(horiz: np.ndarray, vert: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the value cell: the rules nearest the slice centre.

    The slice margin shows the neighbouring cells too, and their values can reach right up
    to the shared border; anything beyond the cell's own rules is not this field.
    """
    h, w = horiz.shape
    top, bottom = rule_rows(horiz)
    cols = np.flatnonzero(count_ink(vert, axis=0))
    return _last_below(cols, 0.3 * w, -1), top, _first_above(cols, 0.7 * w, w), bottom


@dataclass(frozen=True)
class TextComponents:
    """The glyph components of a slice: labels, which to keep, and the kept ink's extent."""

    labels: np.ndarray
    keep: np.ndarray  # per label
    pixels: int  # ink pixels kept
    box: tuple[int, int, int, int] | None  # x0, y0, x1, y1 of the kept ink

    def mask(self, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """255 where kept ink is, within `box` (x0, y0, x1, y1) or the whole slice."""
        labels = self.labels
        if box is not None:
            x0, y0, x1, y1 = box
            labels = labels[y0:y1, x0:x1]
        return np.where(self.keep[labels], 255, 0).astype(np.uint8)


def text_components(ink: np.ndarray, interior: tuple[int, int, int, int]) -> TextComponents:
    """Glyph components centred inside the cell; dust and rule slivers dropped."""
    left, top, right, bottom = interior
    n, labels = cv2.connectedComponents(ink, connectivity=8)
    if n <= 1:
        return TextComponents(labels, np.zeros(max(n, 1), bool), 0, None)
    ys, xs = ink_points(ink)
    lab = labels[ys, xs]
    area = np.bincount(lab, minlength=n)
    cx = np.bincount(lab, weights=xs, minlength=n) / np.maximum(area, 1)
    cy = np.bincount(lab, weights=ys, minlength=n) / np.maximum(area, 1)
    y0, x0, y1, x1 = component_extents(labels, n, (ys, xs))
    bw, bh = x1 - x0, y1 - y0
    thin, long = np.minimum(bw, bh), np.maximum(bw, bh)
    sliver = (thin <= 2) & (long > 6 * thin)
    keep = (area >= MIN_COMPONENT_AREA) & ~sliver
    keep &= (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
    keep[0] = False
    if not keep.any():
        return TextComponents(labels, keep, 0, None)
    # The kept ink's bounding box is the union of the kept components' boxes.
    box = (int(x0[keep].min()), int(y0[keep].min()), int(x1[keep].max()), int(y1[keep].max()))
    return TextComponents(labels, keep, int(area[keep].sum()), box)


def keep_text_components(ink: np.ndarray, interior: tuple[int, int, int, int]) -> np.ndarray:
    """The kept glyph components as a 0/255 mask (text_components)."""
    return text_components(ink, interior).mask()


def crop_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the ink, or None when there is too little ink."""
    if int(np.count_nonzero(ink)) < MIN_INK_PIXELS:
        return None
    ys, xs = ink_points(ink)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def prepare_slice(image: np.ndarray, target_height: int, pad: int) -> PreparedSlice:
    """Remove rules, crop to the ink, scale so the ink is `target_height` px tall, pad white."""
    gray = to_gray(np.asarray(image))
    if gray.dtype != np.uint8:
        gray = cv2.normalize(gray, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    ink = binarize_ink(gray)
    horiz, vert = find_rules(ink)
    # Widen by a pixel so the anti-aliased edge of the rule goes too.
    rules = cv2.dilate(cv2.bitwise_or(horiz, vert), np.ones((3, 3), np.uint8))
    text = text_components(cv2.bitwise_and(ink, cv2.bitwise_not(rules)), cell_interior(horiz, vert))
    if text.box is None or text.pixels < MIN_INK_PIXELS:
        blank = np.full((target_height + 2 * pad, target_height + 2 * pad), 255, np.uint8)
        return PreparedSlice(gray=blank, binary=blank, blank=True)
    x0, y0, x1, y1 = text.box
    # Paper where the rules were, so the gray crop carries no border either.
    gray_crop = gray[y0:y1, x0:x1].copy()
    gray_crop[rules[y0:y1, x0:x1] > 0] = np.uint8(paper_level(gray))
    scale = target_height / max(1, y1 - y0)
    size = (max(1, round((x1 - x0) * scale)), target_height)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    gray_crop = cv2.resize(gray_crop, size, interpolation=interp)

    def make_binary() -> np.ndarray:
        bin_crop = cv2.bitwise_not(text.mask(text.box))
        bin_crop = cv2.resize(bin_crop, size, interpolation=interp)
        _, bin_crop = cv2.threshold(bin_crop, 127, 255, cv2.THRESH_BINARY)
        return cv2.copyMakeBorder(bin_crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)

    return PreparedSlice(
        gray=cv2.copyMakeBorder(gray_crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255),
        blank=False,
        make_binary=make_binary,
    )


def count_leading_bars(binary: np.ndarray) -> int:
    """How many plain vertical bars (I, 1, l, serifed or not) start the line.

    Both engines drop or merge runs of bare bars ("II类户" reads "I类户"); the count lets a
    choice between I/II/III be checked by geometry. Stems are found in the middle band of
    the line, where serifs that join neighbouring I's do not reach.
    """
    ink = binary < 128
    rows = np.nonzero(ink.any(axis=1))[0]
    if rows.size == 0:
        return 0
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    height = bottom - top
    band = ink[top + int(0.35 * height) : top + int(0.65 * height) + 1]
    cols = band.any(axis=0).astype(np.int8)
    edges = np.diff(np.concatenate(([0], cols, [0])))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    count = 0
    for x0, x1 in zip(starts, ends, strict=True):
        stem_rows = np.nonzero(ink[:, x0:x1].any(axis=1))[0]
        if x1 - x0 <= 0.25 * height and stem_rows[-1] - stem_rows[0] + 1 >= 0.55 * height:
            count += 1
        else:
            break
    return count
