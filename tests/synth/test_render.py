"""Clean renders: values inside their cells, barcode and QR readable by real decoders."""

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw
from pyzbar.pyzbar import ZBarSymbol, decode

from entry.evoucher import verify_payload
from storage.builtin_forms import load_builtin_forms
from synth import fonts
from synth.barcode128 import MIN_MODULE_MM, QUIET_MODULES, encode_modules
from synth.evoucher_qr import build_qr_payload
from synth.fills import make_fills
from synth.layout import mm_box
from synth.render import render_voucher, render_voucher_layout

FORMS = load_builtin_forms()


def serial_of(form: dict, n: int) -> str:
    return f"{form['serial']['prefix']}{n:010d}"


@pytest.mark.parametrize("form_name", sorted(FORMS))
def test_render_voucher_size_follows_dpi(form_name):
    form = FORMS[form_name]
    rng = random.Random(1)
    for dpi in (200, 300):
        img = render_voucher(
            form, make_fills(form, rng), serial=serial_of(form, 1), dpi=dpi, rng=rng
        )
        assert img.size == (
            round(form["size_mm"][0] * dpi / 25.4),
            round(form["size_mm"][1] * dpi / 25.4),
        )


@pytest.mark.parametrize("form_name", sorted(FORMS))
def test_render_voucher_barcode_decodes_to_serial(form_name):
    form = FORMS[form_name]
    for seed in range(3):
        rng = random.Random(seed)
        serial = serial_of(form, rng.randrange(10**10))
        img = render_voucher(form, make_fills(form, rng), serial=serial, rng=rng)
        assert [s.data.decode() for s in decode(img, symbols=[ZBarSymbol.CODE128])] == [serial]


@pytest.mark.parametrize("form_name", sorted(FORMS))
def test_barcode_narrowest_bar_meets_spec_and_fits_box(form_name):
    form = FORMS[form_name]
    width_mm = form["barcode"]["box"][2]
    for serial in (serial_of(form, 0), serial_of(form, 9999999999), serial_of(form, 1234567890)):
        modules = len(encode_modules(serial)) + 2 * QUIET_MODULES
        assert width_mm / modules >= MIN_MODULE_MM


@pytest.mark.parametrize("font", fonts.available_fonts())
def test_render_voucher_values_inside_cells(font):
    for form in FORMS.values():
        for seed in range(5):
            rng = random.Random(seed)
            fills = make_fills(form, rng)
            rendered = render_voucher_layout(
                form, fills, serial=serial_of(form, seed), font=font, rng=rng
            )
            printed = {k for k, v in fills.items() if v.printed}
            assert set(rendered.placements) == printed
            for field in form["fields"]:
                if field["name"] not in printed:
                    continue
                placed = rendered.placements[field["name"]]
                assert placed.cell == mm_box(field["box"], 300)
                cx0, cy0, cx1, cy1 = placed.cell
                ix0, iy0, ix1, iy1 = placed.ink
                assert cx0 < ix0 < ix1 < cx1 and cy0 < iy0 < iy1 < cy1, field["name"]
                assert_drawn_ink_inside(placed, font)


def assert_drawn_ink_inside(placed, font):
    """Draw the value alone as the renderer does and check every inked pixel is in the cell."""
    x0, y0, x1, y1 = placed.cell
    canvas = Image.new("L", (x1 + 50, y1 + 50), 255)
    draw = ImageDraw.Draw(canvas)
    for glyph in placed.glyphs:
        draw.text((glyph.x, glyph.y), glyph.text, font=fonts.load_font(font, glyph.size), fill=0)
    ys, xs = np.nonzero(np.asarray(canvas) < 250)
    assert xs.min() > x0 and xs.max() < x1 and ys.min() > y0 and ys.max() < y1


@pytest.mark.parametrize("valid", [True, False])
@pytest.mark.parametrize("form_name", ["deposit_slip", "wire_transfer", "account_opening"])
def test_render_voucher_qr_verifies_only_with_good_mac(form_name, valid):
    form = FORMS[form_name]
    for seed in range(3):
        rng = random.Random(seed)
        fills = make_fills(form, rng)
        serial = serial_of(form, seed)
        payload = build_qr_payload(form, fills, serial, rng, valid=valid)
        img = render_voucher(form, fills, serial=serial, qr_payload=payload, rng=rng)
        symbols = decode(img, symbols=[ZBarSymbol.QRCODE])
        assert len(symbols) == 1
        result = verify_payload(symbols[0].data)
        assert result.valid is valid
        if valid:
            assert result.serial == serial
            assert result.fields == {k: v.canonical for k, v in fills.items()}


def test_render_voucher_without_qr_has_none():
    form = FORMS["deposit_slip"]
    rng = random.Random(0)
    img = render_voucher(form, make_fills(form, rng), serial=serial_of(form, 0), rng=rng)
    assert decode(img, symbols=[ZBarSymbol.QRCODE]) == []


def test_render_voucher_seal_kinds_follow_form():
    seen = {}
    for form in FORMS.values():
        for seed in range(6):
            rng = random.Random(seed)
            rendered = render_voucher_layout(
                form, make_fills(form, rng), serial=serial_of(form, seed), rng=rng
            )
            seen.setdefault(form["seal"]["kind"], set()).add(rendered.seal["kind"])
    assert seen["signature"] == {"signature"}
    assert seen["bank_seal"] <= {"round", "square"}
    assert seen["drawer_seal"] <= {"round", "square"}


@pytest.mark.parametrize("form_name", sorted(FORMS))
def test_render_voucher_seal_stays_in_seal_box(form_name):
    form = FORMS[form_name]
    x0, y0, x1, y1 = mm_box(form["seal"]["box"], 300)
    for seed in range(4):
        images = []
        for seal in (True, False):
            rng = random.Random(seed)
            fills = make_fills(form, rng)
            img = render_voucher(form, fills, serial=serial_of(form, 1), seal=seal, rng=rng)
            images.append(np.asarray(img))
        ys, xs = np.nonzero(np.any(images[0] != images[1], axis=2))
        assert len(xs) > 0
        assert xs.min() > x0 and xs.max() < x1 and ys.min() > y0 and ys.max() < y1
