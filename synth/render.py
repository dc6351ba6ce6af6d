"""Clean raster of a filled voucher: ruled form, labels, values, barcode, QR, seal or signature."""

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from synth import fonts
from synth.barcode128 import render_code128
from synth.fills import FilledValue
from synth.layout import Box, PlacedValue, mm_box, place_value
from synth.qr_symbol import render_qr
from synth.seal import draw_round_seal, draw_signature, draw_square_seal

FORM_INKS = ((30, 30, 30), (20, 50, 120), (25, 90, 60), (140, 40, 40), (60, 40, 110))
VALUE_INKS = ((10, 10, 10), (25, 25, 35), (20, 35, 110))  # printer black, pen black, pen blue
PAPERS = ((255, 255, 255), (252, 252, 248), (245, 250, 244), (252, 246, 246), (246, 248, 253))
SECURITY_TINT_FORMS = {"transfer_cheque"}  # cheque paper carries a fine anti-copy pattern
TINTS = ((120, 190, 150), (130, 170, 210), (200, 150, 170))
FRAME_MM, RULE_MM = 0.6, 0.2


@dataclass(frozen=True)
class RenderedVoucher:
    image: Image.Image
    placements: dict[str, PlacedValue]
    font: str
    seal: dict
    qr_present: bool


def render_voucher(
    form: dict,
    fills: dict[str, FilledValue],
    *,
    serial: str,
    dpi: int = 300,
    font: str | None = None,
    qr_payload: dict | None = None,
    seal: bool = True,
    rng: random.Random,
) -> Image.Image:
    """The clean filled form as an RGB image of size_mm at dpi."""
    return render_voucher_layout(
        form, fills, serial=serial, dpi=dpi, font=font, qr_payload=qr_payload, seal=seal, rng=rng
    ).image


def render_voucher_layout(
    form: dict,
    fills: dict[str, FilledValue],
    *,
    serial: str,
    dpi: int = 300,
    font: str | None = None,
    qr_payload: dict | None = None,
    seal: bool = True,
    rng: random.Random,
) -> RenderedVoucher:
    """Like render_voucher, also returning where each value was drawn and what seal/QR went in."""
    font = font or rng.choice(fonts.available_fonts())
    px = dpi / 25.4
    w, h = round(form["size_mm"][0] * px), round(form["size_mm"][1] * px)
    img = Image.new("RGB", (w, h), rng.choice(PAPERS))
    if form["form"] in SECURITY_TINT_FORMS:
        img = draw_security_tint(img, px, rng, clear=mm_box(form["barcode"]["box"], dpi))
    draw = ImageDraw.Draw(img)
    form_ink = rng.choice(FORM_INKS)
    rule = max(1, round(RULE_MM * px))
    frame = max(2, round(FRAME_MM * px))
    draw.rectangle((0, 0, w - 1, h - 1), outline=form_ink, width=frame)
    for field in form["fields"]:
        for key in ("label_box", "box"):
            draw_cell(draw, mm_box(field[key], dpi), form_ink, rule)
        draw_label(draw, field["label"], mm_box(field["label_box"], dpi), form_ink)
    if form.get("seal"):
        draw_cell(draw, mm_box(form["seal"]["label_box"], dpi), form_ink, rule)
        draw_cell(draw, mm_box(form["seal"]["box"], dpi), form_ink, rule)
        draw_label(draw, form["seal"]["label"], mm_box(form["seal"]["label_box"], dpi), form_ink)
    for item in form.get("static_text", []):
        draw_static(draw, item, dpi, form_ink, title=item is form["static_text"][0])

    ink = (
        VALUE_INKS[2]
        if fonts.is_handwriting(font) and rng.random() < 0.6
        else rng.choice(VALUE_INKS[:2])
    )
    placements = {}
    for field in form["fields"]:
        value = fills[field["name"]]
        if value.printed:
            placed = place_value(value.printed, mm_box(field["box"], dpi), font, dpi, rng)
            draw_value(draw, placed, font, ink)
            placements[field["name"]] = placed

    draw_barcode(img, serial, mm_box(form["barcode"]["box"], dpi), dpi)
    qr_present = bool(qr_payload and form.get("qr"))
    if qr_present:
        x0, y0, x1, y1 = mm_box(form["qr"]["box"], dpi)
        side = min(x1 - x0, y1 - y0)
        paste_ink(img, render_qr(qr_payload, side), (x0, y0))
    seal_info = {"kind": None, "present": False}
    if form.get("seal") and seal:
        seal_info = draw_seal(img, form, fills, mm_box(form["seal"]["box"], dpi), rng)
    return RenderedVoucher(img, placements, font, seal_info, qr_present)


def draw_security_tint(
    img: Image.Image, px: float, rng: random.Random, *, clear: Box
) -> Image.Image:
    """Pale wavy lines over the sheet, like cheque security paper, except the `clear` box
    (the barcode's, whose spaces and quiet zones a scanner needs blank)."""
    w, h = img.size
    period, amp, wave = rng.uniform(1.2, 2.0), rng.uniform(0.4, 1.0), rng.uniform(6, 12)
    # cos(X + Y) = cos X cos Y - sin X sin Y: two outer products instead of a 2-D trig call.
    ax = 2 * np.pi * (np.arange(w, dtype=np.float32) / px) / period
    by = 2 * np.pi * amp * np.sin(2 * np.pi * (np.arange(h, dtype=np.float32) / px) / wave)
    wave_2d = np.outer(np.cos(by), np.cos(ax)) - np.outer(np.sin(by), np.sin(ax))
    strength = rng.uniform(0.25, 0.45)
    alpha = np.clip((wave_2d - 0.7) * (strength / 0.3), 0, None)  # thin crests only
    alpha[clear[1] : clear[3], clear[0] : clear[2]] = 0
    tint = Image.new("RGB", img.size, rng.choice(TINTS))
    mask = Image.fromarray((alpha * 255).astype(np.uint8), mode="L")
    return Image.composite(tint, img, mask)


def draw_cell(draw: ImageDraw.ImageDraw, box: Box, ink, width: int) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle((x0, y0, x1, y1), outline=ink, width=width)


def fit_font(text: str, name: str, size: int, max_w: int, max_h: int):
    """The largest font <= size whose ink box of text fits max_w x max_h."""
    while True:
        f = fonts.load_font(name, size)
        left, top, right, bottom = f.getbbox(text)
        if (right - left <= max_w and bottom - top <= max_h) or size <= 4:
            return f, (left, top, right, bottom)
        size -= max(1, size // 12)


def draw_label(draw: ImageDraw.ImageDraw, text: str, box: Box, ink) -> None:
    x0, y0, x1, y1 = box
    f, _ = fit_font(
        text,
        fonts.FORM_FONT,
        round((y1 - y0) * 0.45),
        round((x1 - x0) * 0.9),
        round((y1 - y0) * 0.8),
    )
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, font=f, fill=ink, anchor="mm")


def draw_static(draw: ImageDraw.ImageDraw, item: dict, dpi: int, ink, *, title: bool) -> None:
    x0, y0, x1, y1 = mm_box(item["box"], dpi)
    text = item["text"]
    if item.get("vertical"):
        step = (y1 - y0) / len(text)
        f, _ = fit_font(
            "字", fonts.FORM_FONT, round(min(step, x1 - x0) * 0.8), x1 - x0, round(step)
        )
        for i, ch in enumerate(text):
            draw.text(((x0 + x1) / 2, y0 + step * (i + 0.5)), ch, font=f, fill=ink, anchor="mm")
        return
    if title:
        size = round((y1 - y0) * 0.7)
        name, style = fonts.FORM_TITLE_FONT
        while fonts.load_font(name, size, style).getlength(text) > (x1 - x0) and size > 6:
            size -= 1
        f = fonts.load_font(name, size, style)
    else:
        f, _ = fit_font(text, fonts.FORM_FONT, round((y1 - y0) * 0.5), x1 - x0, y1 - y0)
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, font=f, fill=ink, anchor="mm")


def draw_value(draw: ImageDraw.ImageDraw, placed: PlacedValue, font: str, ink) -> None:
    for glyph in placed.glyphs:
        f = fonts.load_font(font, glyph.size)
        draw.text((glyph.x, glyph.y), glyph.text, font=f, fill=ink)


def draw_barcode(img: Image.Image, serial: str, box: Box, dpi: int) -> None:
    x0, y0, x1, y1 = box
    bar_h = round((y1 - y0) * 0.76)
    paste_ink(img, render_code128(serial, x1 - x0, bar_h, dpi), (x0, y0))
    draw = ImageDraw.Draw(img)
    f, _ = fit_font(serial, fonts.SERIAL_FONT, round((y1 - y0) * 0.22), x1 - x0, y1 - y0 - bar_h)
    draw.text(((x0 + x1) / 2, y1), serial, font=f, fill=(0, 0, 0), anchor="md")


def paste_ink(img: Image.Image, symbol: Image.Image, at: tuple[int, int]) -> None:
    """Print a black-on-white symbol onto the paper (white stays paper-coloured)."""
    region = img.crop((at[0], at[1], at[0] + symbol.width, at[1] + symbol.height))
    img.paste(ImageChops.multiply(region, symbol.convert("RGB")), at)


def draw_seal(
    img: Image.Image, form: dict, fills: dict[str, FilledValue], box: Box, rng: random.Random
) -> dict:
    """Stamp or sign inside box; returns the ground truth of what was put there."""
    from synth.fills import make_company_name, make_person_name

    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    kind = form["seal"]["kind"]
    if kind == "signature":
        name = fills.get("applicant_name", FilledValue("", make_person_name(rng))).printed
        mark = draw_signature(round(bw * 0.9), round(bh * 0.7), name, rng)
        info = {"kind": "signature", "present": True, "text": name}
    else:
        if kind == "bank_seal":
            owner = next((v.printed for k, v in fills.items() if k.endswith("payee_bank")), "")
            owner, bottom = owner or "示范银行", "业务受理章"
        else:
            owner = next((v.printed for k, v in fills.items() if k in ("remitter_name",)), "")
            owner = owner or (
                make_company_name(rng) if rng.random() < 0.75 else make_person_name(rng)
            )
            bottom = "财务专用章"
        side = round(min(bw, bh) * rng.uniform(0.82, 0.94))
        if len(owner) <= 4:
            mark = draw_square_seal(round(side * 0.7), owner, rng)
            info = {"kind": "square", "present": True, "text": owner}
        else:
            mark = draw_round_seal(side, owner, bottom, rng)
            info = {"kind": "round", "present": True, "text": owner}
        mark = mark.rotate(rng.uniform(-12, 12), resample=Image.BICUBIC)
    mx = x0 + rng.randint(2, max(2, bw - mark.width - 2))
    my = y0 + rng.randint(2, max(2, bh - mark.height - 2))
    # Ink over ink: multiply, so printed text stays visible through the stamp.
    layer = Image.new("RGB", mark.size, (255, 255, 255))
    layer.paste(mark.convert("RGB"), (0, 0), mark)
    region = img.crop((mx, my, mx + mark.width, my + mark.height))
    img.paste(ImageChops.multiply(region, layer), (mx, my))
    return info
