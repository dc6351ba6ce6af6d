"""Slice clean-up helpers (imaging/ocr_prep.py) against OpenCV's own component statistics."""

import cv2
import numpy as np

from imaging.ocr_prep import (
    MIN_COMPONENT_AREA,
    component_extents,
    ink_points,
    keep_text_components,
)


def _blobs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink = np.zeros((90, 300), np.uint8)
    for _ in range(25):
        x, y = int(rng.integers(0, 290)), int(rng.integers(0, 80))
        w, h = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        ink[y : y + h, x : x + w] = 255
    ink[5, 10:200] = 255  # a rule sliver
    return ink


def test_ink_points_match_numpy_nonzero():
    ink = _blobs()
    ys, xs = ink_points(ink)
    ref_y, ref_x = np.nonzero(ink)
    assert sorted(zip(ys, xs, strict=True)) == sorted(zip(ref_y, ref_x, strict=True))
    labels = cv2.connectedComponents(ink, connectivity=8)[1]
    assert len(ink_points(labels)[0]) == len(ref_y)
    assert len(ink_points(np.zeros((4, 4), np.uint8))[0]) == 0


def test_component_extents_match_connected_components_with_stats():
    ink = _blobs(1)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    top, left, bottom, right = component_extents(labels, n)
    np.testing.assert_array_equal(top[1:], stats[1:, cv2.CC_STAT_TOP])
    np.testing.assert_array_equal(left[1:], stats[1:, cv2.CC_STAT_LEFT])
    np.testing.assert_array_equal(bottom[1:] - top[1:], stats[1:, cv2.CC_STAT_HEIGHT])
    np.testing.assert_array_equal(right[1:] - left[1:], stats[1:, cv2.CC_STAT_WIDTH])


def test_keep_text_components_matches_the_stats_based_rule():
    for seed in range(5):
        ink = _blobs(seed)
        interior = (20, 10, 280, 85)
        n, labels, stats, centroids = cv2.connectedComponentsWithStats(ink, connectivity=8)
        keep = np.zeros(n, bool)
        for i in range(1, n):
            _, _, bw, bh, area = stats[i]
            cx, cy = centroids[i]
            thin, long = min(bw, bh), max(bw, bh)
            if area < MIN_COMPONENT_AREA or thin <= 2 and long > 6 * thin:
                continue
            keep[i] = interior[0] < cx < interior[2] and interior[1] < cy < interior[3]
        expected = np.where(keep[labels], 255, 0).astype(np.uint8)
        np.testing.assert_array_equal(keep_text_components(ink, interior), expected)
    assert not keep_text_components(np.zeros((10, 10), np.uint8), (0, 0, 10, 10)).any()
