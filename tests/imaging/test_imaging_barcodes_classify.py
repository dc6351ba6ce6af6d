"""read_codes (Code 128 + QR raw bytes) and classify_form by serial and by layout."""

import json

import cv2
import numpy as np
import pytest

from imaging.barcodes import read_codes
from imaging.classify import classify_form, parse_serial
from workers.pipeline import process_scan


def _rgb(data):
    return cv2.cvtColor(
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )


def test_read_codes_serial_and_utf8_qr_bytes_kept(make_scan):
    payload = json.dumps(
        {"v": 1, "serial": "DS0000012345", "payee": "示范银行上海浦东支行"}, ensure_ascii=False
    ).encode()
    data, _ = make_scan("deposit_slip", angle=4, qr_payload=payload, noise=4)
    codes = read_codes(_rgb(data))
    assert [c.text for c in codes if c.symbology == "code128"] == ["DS0000012345"]
    qr = [c for c in codes if c.symbology == "qrcode"]
    assert len(qr) == 1 and qr[0].raw == payload


def test_parse_serial_exact_prefix_and_digits(layouts):
    assert parse_serial("TC0000012345", layouts) == ("transfer_cheque", "TC0000012345")
    assert parse_serial("AO9999999999", layouts) == ("account_opening", "AO9999999999")
    assert parse_serial("TC000001234", layouts) is None
    assert parse_serial("XX0000012345", layouts) is None
    assert parse_serial("DS0000012345X", layouts) is None


def test_classify_form_without_codes_or_frame_is_none(layouts):
    cls = classify_form((), layouts)
    assert (cls.form, cls.method) == (None, "none")


@pytest.mark.parametrize("turn", [0, 2])
@pytest.mark.parametrize(
    "form", ["transfer_cheque", "deposit_slip", "wire_transfer", "account_opening"]
)
def test_process_scan_classifies_by_layout_when_barcode_missing(make_scan, layouts, form, turn):
    data, _ = make_scan(form, angle=-1.5, bg=190, noise=4, barcode=False, turn=turn)
    res = process_scan(data, layouts)
    assert (res.form, res.serial, res.classification_method) == (form, None, "layout")
    # Upright: the (blank) barcode box is at the top, so the seal box is found bottom-left.
    assert res.residual_mm is not None and res.residual_mm < 0.15


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
@pytest.mark.parametrize("angle", [-5.0, 5.0])
def test_process_scan_turned_and_rotated(make_scan, layouts, turn, angle):
    data, _ = make_scan("account_opening", dpi=240, angle=angle, bg=150, noise=5, turn=turn)
    res = process_scan(data, layouts)
    assert (res.form, res.serial) == ("account_opening", "AO0000012345")
    assert res.classification_method == "barcode"
    assert res.quality.ok
    assert res.residual_mm < 0.15
