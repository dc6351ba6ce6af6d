"""find_form / register_form accuracy against the renderer's exact transform."""

import cv2
import numpy as np
import pytest

from imaging.geometry import find_form
from imaging.register import register_form


def _rgb(data):
    return cv2.cvtColor(
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )


@pytest.mark.parametrize("angle", [-5.0, -2.5, 0.0, 1.0, 5.0])
@pytest.mark.parametrize("form", ["transfer_cheque", "account_opening"])
def test_find_form_corners_within_quarter_mm(make_scan, form, angle):
    data, truth = make_scan(form, dpi=220, angle=angle, bg=140, noise=6, blur=0.7, shift=(40, -25))
    quad = find_form(_rgb(data))
    assert quad is not None
    err_mm = np.abs(np.asarray(quad.corners) - truth["corners"]).max() / truth["ppm"]
    assert err_mm < 0.25
    assert abs(quad.angle_deg + angle) < 0.2  # image y points down


def test_find_form_portrait_scan_is_ordered_landscape(make_scan):
    data, _ = make_scan("wire_transfer", angle=2, turn=1)
    quad = find_form(_rgb(data))
    assert quad.width_px > quad.height_px


def test_register_form_rulings_residual_small(make_scan, layouts):
    data, truth = make_scan("wire_transfer", dpi=260, angle=-3.5, bg=120, noise=5, blur=0.6)
    img = _rgb(data)
    reg = register_form(img, find_form(img), layouts["wire_transfer"], px_per_mm=12)
    assert reg.image.shape[:2] == (110 * 12, 210 * 12)
    assert reg.lines_found > 40
    assert reg.residual_mm < 0.1
    # Frame corner (0,0) maps back onto the true corner.
    inv = np.linalg.inv(np.asarray(reg.homography))
    p = inv @ np.array([0.0, 0.0, 1.0])
    assert np.hypot(*(p[:2] / p[2] - truth["corners"][0])) / truth["ppm"] < 0.25


def _stray_marks(img):
    out = img.copy()
    h, w = out.shape[:2]
    # A pen stroke crossing the frame, a blot on the top edge, a fold shadow on the background.
    cv2.line(out, (int(w * 0.05), int(h * 0.5)), (int(w * 0.45), int(h * 0.35)), (20, 20, 90), 6)
    cv2.circle(out, (int(w * 0.5), int(h * 0.29)), 25, (40, 40, 40), -1)
    cv2.line(out, (0, int(h * 0.9)), (w, int(h * 0.85)), (90, 90, 90), 3)
    return out


def test_find_form_ignores_stray_marks(make_scan):
    data, truth = make_scan("deposit_slip", dpi=240, angle=3.0, bg=180, noise=4, post=_stray_marks)
    quad = find_form(_rgb(data))
    err_mm = np.abs(np.asarray(quad.corners) - truth["corners"]).max() / truth["ppm"]
    assert err_mm < 0.3
