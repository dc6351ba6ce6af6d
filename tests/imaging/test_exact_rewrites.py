"""The faster forms of imaging steps (docs/decisions-ocr.md, "Speed, round 4") against the
straightforward code they replaced: the same numbers, bit for bit."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from imaging.barcodes import read_codes
from imaging.decode import decode_image
from imaging.geometry import (
    FormQuad,
    find_form,
    percentile_rows,
    rectify,
    shifted_profiles,
    shrink_keep_ink,
    stroke_centres,
    work_image,
)
from imaging.ocr_prep import (
    LINE_MIN_FRACTION_H,
    count_ink,
    crop_box,
    find_rules,
    keep_text_components,
    open_runs,
    prepare_slice,
    text_components,
)
from imaging.quality import assess_quality, percentiles_u8
from imaging.register import _profile_minima

MAX = 40_000_000


def _stroke_centre_loop(p, offsets, paper, ink):
    """The former per-sample code of geometry.refine_quad."""
    if paper - ink < 25:
        return None
    thr = (paper + ink) / 2
    dark = p < thr
    edges = np.flatnonzero(np.diff(np.concatenate([[0], dark.view(np.int8), [0]])))
    runs = edges.reshape(-1, 2)
    if len(runs) == 0:
        return None
    centres = [(offsets[a] + offsets[b - 1]) / 2 for a, b in runs]
    a, b = runs[int(np.argmin(np.abs(centres)))]
    wts = thr - p[a:b]
    return float((offsets[a:b] * wts).sum() / wts.sum())


def _profiles(seed: int, rows: int = 48, search: float = 6.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    offsets = np.arange(-search, search + 0.25, 0.5)
    prof = rng.normal(220, 6, (rows, len(offsets)))
    for r in range(rows):
        for _ in range(int(rng.integers(0, 3))):  # 0-2 dark strokes per profile
            c, w = rng.uniform(-search, search), rng.uniform(0.5, 3)
            prof[r] -= rng.uniform(10, 180) * np.exp(-(((offsets - c) / w) ** 2))
    return prof.astype(np.float32), offsets


@pytest.mark.parametrize("seed", range(6))
def test_stroke_centres_equal_the_per_sample_loop(seed):
    prof, offsets = _profiles(seed)
    paper = percentile_rows(prof, 90)
    ink = prof.min(axis=1)
    found, offs = stroke_centres(prof, offsets, paper, ink)
    for k in range(len(prof)):
        ref = _stroke_centre_loop(prof[k], offsets, paper[k], ink[k])
        assert found[k] == (ref is not None)
        if ref is not None:
            assert offs[k] == ref  # bit for bit: the corners must not move


@pytest.mark.parametrize("seed", range(4))
def test_percentile_rows_and_shifted_profiles_equal_numpy(seed):
    prof, offsets = _profiles(seed, rows=20, search=3.0 + seed)
    for q in (90, 95, 1, 50, 0, 100):
        ref = np.percentile(prof, q, axis=1)
        got = percentile_rows(prof, q)
        assert got.dtype == ref.dtype and np.array_equal(got, ref)
    shifts = np.random.default_rng(seed).uniform(-4, 4, len(prof))
    expected = np.array(
        [np.interp(offsets + s, offsets, p) for p, s in zip(prof, shifts, strict=True)]
    )
    np.testing.assert_allclose(shifted_profiles(prof, offsets, shifts), expected, atol=1e-9)


def test_percentiles_u8_equal_numpy():
    rng = np.random.default_rng(3)
    for _ in range(200):
        img = rng.integers(0, 256, (int(rng.integers(1, 40)), int(rng.integers(1, 40))), np.uint8)
        if rng.random() < 0.5:
            img = np.clip(img, 90, 140).astype(np.uint8)
        qs = (90, 1, 50, 37.5, 0, 100)
        assert percentiles_u8(img, qs) == [float(np.percentile(img, q)) for q in qs]


def test_shrink_keep_ink_is_the_anchored_erosion_sampled():
    rng = np.random.default_rng(5)
    for h, w in ((2200, 2900), (1511, 1852), (3001, 1000), (800, 900)):
        gray = rng.integers(0, 256, (h, w), np.uint8)
        k = max(1, int(np.ceil(max(h, w) / 1000)))
        ref = cv2.erode(gray, np.ones((k, k), np.uint8), anchor=(0, 0))[
            : h - h % k : k, : w - w % k : k
        ]
        small, got_k = shrink_keep_ink(gray)
        assert got_k == k and np.array_equal(small, ref)


def _profile_minima_loop(expected, lows, profs, ppm):
    """The former per-strip code of register._line_offsets."""
    pairs = []
    for pos, lo, prof in zip(expected, lows, profs, strict=True):
        k = int(np.argmin(prof))
        depth = float(np.percentile(prof, 80)) - prof
        if depth[k] < 20.0:
            continue
        j0, j1 = max(0, k - 3), min(len(prof), k + 4)
        wts = np.clip(depth[j0:j1] - depth[k] / 2, 0, None)
        pairs.append(
            (pos, (lo + j0 + (np.arange(j1 - j0) * wts).sum() / max(wts.sum(), 1e-6)) / ppm)
        )
    return np.asarray(pairs, dtype=np.float64).reshape(-1, 2)


def test_profile_minima_equal_the_per_strip_loop():
    rng = np.random.default_rng(11)
    profs, expected, lows = [], [], []
    for i in range(300):
        prof = rng.normal(200, 5, 19).clip(0, 255)
        k = int(rng.integers(0, 19))  # minima at the ends too: windows cut short
        prof[k] -= rng.uniform(0, 150)
        profs.append(prof)
        expected.append(float(i))
        lows.append(int(rng.integers(0, 2000)))
    ref = _profile_minima_loop(expected, lows, profs, 8.0)
    got = _profile_minima(np.asarray(expected), np.asarray(lows), profs, 8.0)
    assert got.shape == ref.shape and np.array_equal(got, ref)


def _ink(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(60, 140)), int(rng.integers(80, 900))
    ink = np.zeros((h, w), np.uint8)
    for _ in range(40):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        ink[y : y + int(rng.integers(1, 40)), x : x + int(rng.integers(1, 40))] = 255
    ink[int(rng.integers(0, 8)), : int(rng.integers(w // 3, w))] = 255  # rules, some at borders
    ink[h - 1 - int(rng.integers(0, 8)), int(rng.integers(0, w // 2)) :] = 255
    ink[:, int(rng.integers(0, 5))] = 255
    ink[: int(rng.integers(h // 3, h)), w - 1 - int(rng.integers(0, 5))] = 255
    return ink


@pytest.mark.parametrize("seed", range(12))
def test_open_runs_equals_morphology_open(seed):
    ink = _ink(seed)
    h, w = ink.shape
    for length in (15, 16, max(15, int(w * LINE_MIN_FRACTION_H)), w // 2 + 1):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
        ref = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
        assert np.array_equal(open_runs(ink, length, horizontal=True), ref)
    for length in (15, 16, h // 2, h // 2 + 1):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1, length))
        ref = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
        assert np.array_equal(open_runs(ink, length, horizontal=False), ref)


@pytest.mark.parametrize("seed", range(8))
def test_text_components_box_and_count_match_the_mask(seed):
    ink = _ink(seed)
    horiz, vert = find_rules(ink)
    h, w = ink.shape
    interior = (-1, -1, w, h) if seed % 2 else (w // 10, 5, w - w // 10, h - 5)
    text = text_components(ink, interior)
    mask = keep_text_components(ink, interior)
    assert np.array_equal(text.mask(), mask)
    box = crop_box(mask)
    assert text.pixels == int(np.count_nonzero(mask))
    if box is not None:
        assert text.box == box
        x0, y0, x1, y1 = box
        assert np.array_equal(text.mask(box), mask[y0:y1, x0:x1])


def _jpeg_bytes(array: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG", **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_fast_path_gives_pillows_pixels(mode):
    rng = np.random.default_rng(1)
    shape = (300, 420, 3) if mode == "RGB" else (300, 420)
    data = _jpeg_bytes(rng.integers(0, 256, shape, np.uint8), quality=85)
    with Image.open(io.BytesIO(data)) as im:
        ref = np.asarray(im.convert("RGB"))
        ref_grey = np.asarray(im) if mode == "L" else None
    assert np.array_equal(decode_image(data, max_pixels=MAX).pages[0], ref)
    kept = decode_image(data, max_pixels=MAX, keep_grey=True).pages[0]
    assert np.array_equal(kept, ref_grey if mode == "L" else ref)


def test_jpeg_truncated_still_refused_and_trailing_bytes_fine():
    data = _jpeg_bytes(np.random.default_rng(2).integers(0, 256, (200, 300, 3), np.uint8))
    from imaging.errors import ImageError

    with pytest.raises(ImageError) as err:
        decode_image(data[: len(data) // 2], max_pixels=MAX)
    assert err.value.code == "corrupt_image"
    padded = decode_image(data + b"\x00\x00", max_pixels=MAX).pages[0]
    assert np.array_equal(padded, decode_image(data, max_pixels=MAX).pages[0])


def test_shared_work_image_gives_the_same_frame_and_quality(make_scan):
    data, _ = make_scan("deposit_slip", dpi=200, angle=1.5)
    gray = decode_image(data, max_pixels=MAX, keep_grey=True).pages[0]
    gray = gray if gray.ndim == 2 else cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    work = work_image(gray)
    quad = find_form(gray, work=work)
    assert quad == find_form(gray)
    assert assess_quality(gray, quad=quad, work=work) == assess_quality(gray, quad=quad)
    assert assess_quality(gray, work=work) == assess_quality(gray)


def test_upright_barcode_pass_reads_the_rectified_frame(make_scan):
    data, truth = make_scan("deposit_slip", dpi=200, angle=-2.0)
    gray = decode_image(data, max_pixels=MAX, keep_grey=True).pages[0]
    gray = gray if gray.ndim == 2 else cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    quad = find_form(gray)
    assert isinstance(quad, FormQuad)
    rect, _ = rectify(gray, quad, out_w=round(quad.width_px), out_h=round(quad.height_px))
    for img in (rect, cv2.rotate(rect, cv2.ROTATE_180)):
        upright = {c.text for c in read_codes(img, thorough=False, upright=True)}
        assert upright == {c.text for c in read_codes(img, thorough=False)}
        assert truth["serial"] in upright


@pytest.mark.parametrize("seed", range(6))
def test_count_ink_equals_count_nonzero(seed):
    ink = _ink(seed)
    ink[ink > 0] = np.random.default_rng(seed).integers(1, 256, int((ink > 0).sum()))
    for axis in (0, 1):
        assert np.array_equal(count_ink(ink, axis), np.count_nonzero(ink, axis=axis))
    assert np.array_equal(count_ink(ink[:0], 1), np.count_nonzero(ink[:0], axis=1))


@pytest.mark.parametrize("seed", range(4))
def test_prepared_binary_made_on_first_use_is_the_ink_crop(seed):
    """The lazily made binary image: 0/255, the gray one's size, ink where the gray is dark."""
    rng = np.random.default_rng(seed)
    gray = np.full((96, 400), 235, np.uint8)
    gray[2:4, :] = gray[-4:-2, :] = 40  # the cell's rules
    for x in range(60, 300, 40):  # a row of glyph-like blocks
        gray[30 : 30 + int(rng.integers(25, 40)), x : x + 18] = 30
    prep = prepare_slice(gray, 40, 12)
    assert not prep.blank
    binary = prep.binary
    assert binary is prep.binary  # made once
    assert binary.shape == prep.gray.shape and set(np.unique(binary)) <= {0, 255}
    dark = prep.gray < 128
    assert (binary[dark] == 0).mean() > 0.9 and (binary[~dark] == 255).mean() > 0.9
