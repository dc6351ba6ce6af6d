"""assess_quality reason codes on scans drawn by the independent test renderer."""

import cv2
import numpy as np
import pytest

from imaging.quality import assess_quality


def _quality(data: bytes, layouts):
    img = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    return assess_quality(img, form_sizes_mm=[lay.size_mm for lay in layouts.values()])


@pytest.mark.parametrize(
    "form", ["transfer_cheque", "deposit_slip", "wire_transfer", "account_opening"]
)
def test_assess_quality_good_scan_ok(make_scan, layouts, form):
    data, _ = make_scan(form, dpi=250, angle=3, bg=170, noise=4, blur=0.8, light=0.2)
    report = _quality(data, layouts)
    assert report.ok, report
    assert report.metrics["dpi"] == pytest.approx(250, rel=0.03)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"blur": 5.0}, "blurred"),
        ({"post": lambda im: (im * 0.3).astype(np.uint8)}, "too_dark"),
        ({"post": lambda im: (170 + im * 0.33).astype(np.uint8)}, "too_bright"),
        ({"cut": 0.7}, "edges_cut"),
        ({"dpi": 110}, "low_resolution"),
    ],
)
def test_assess_quality_bad_scan_reason(make_scan, layouts, kwargs, reason):
    data, _ = make_scan("deposit_slip", angle=-2, bg=200, noise=3, **kwargs)
    report = _quality(data, layouts)
    assert not report.ok
    assert reason in report.reasons, report


def test_assess_quality_blank_page(layouts):
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(245, 3, (1800, 2400, 3)), 0, 255).astype(np.uint8)
    report = assess_quality(img)
    assert report.reasons == ("blank",)


def test_assess_quality_no_frame_is_form_not_found():
    rng = np.random.default_rng(1)
    img = np.full((1500, 2000, 3), 250, np.uint8)
    for _ in range(300):  # scribbles and text-like strokes, no frame
        x, y = rng.integers(50, 1900), rng.integers(50, 1400)
        dx, dy = rng.integers(-40, 40, size=2)
        cv2.line(img, (int(x), int(y)), (int(x + dx), int(y + dy)), (30, 30, 30), 3)
    report = assess_quality(img)
    assert report.reasons == ("form_not_found",)
