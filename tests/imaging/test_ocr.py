"""OCR of field slices with the real engines (tesseract, PP-OCRv4 via rapidocr): rendered
cells with borders and neighbours, read and judged on canonical values."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from entry.fieldtypes import FieldSpec, canonicalize_ocr
from imaging.ocr import (
    CROSS_CHECK_BELOW,
    HIGH_CONFIDENCE,
    IMPLAUSIBLE_CAP,
    OcrReading,
    OcrRequest,
    needs_cross_check,
    ocr_slices,
)
from imaging.ocr_engines import run_tesseract_batch
from synth.fonts import load_font

DPI = 300
PX_PER_MM = DPI / 25.4
SLICE_PX_PER_MM = 12
MARGIN_MM = 1.5


def render_slice(
    text: str,
    size_mm: tuple[float, float] = (75, 9),
    font: str = "Noto Sans CJK SC",
    text_mm: float = 4.5,
    below: str = "",
    x_mm: float = 3.0,
) -> np.ndarray:
    """A value cell as a registered scan shows it: printed borders, the value, 1.5 mm of the
    neighbouring cells (with `below` printed at the top of the cell underneath), 12 px/mm."""
    w, h = size_mm
    pad = MARGIN_MM * PX_PER_MM
    page_w, page_h = round((w + 2 * MARGIN_MM) * PX_PER_MM), round((h + 2 * MARGIN_MM) * PX_PER_MM)
    page = Image.new("RGB", (page_w, page_h), (246, 250, 246))
    draw = ImageDraw.Draw(page)
    rule = (40, 90, 40)
    x0, y0, x1, y1 = pad, pad, pad + w * PX_PER_MM, pad + h * PX_PER_MM
    for y in (y0, y1):
        draw.line([(0, y), (page_w, y)], fill=rule, width=2)
    for x in (x0, x1):
        draw.line([(x, 0), (x, page_h)], fill=rule, width=2)
    if text:
        f = load_font(font, round(text_mm * PX_PER_MM))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=f)
        ty = y0 + (h * PX_PER_MM - (bottom - top)) / 2 - top
        draw.text((x0 + x_mm * PX_PER_MM - left, ty), text, font=f, fill=(10, 10, 10))
    if below:
        f = load_font(font, round(6 * PX_PER_MM))
        draw.text((x0 + 5 * PX_PER_MM, y1 + 0.4 * PX_PER_MM), below, font=f, fill=(10, 10, 10))
    size = (
        round((w + 2 * MARGIN_MM) * SLICE_PX_PER_MM),
        round((h + 2 * MARGIN_MM) * SLICE_PX_PER_MM),
    )
    return np.asarray(page.resize(size, Image.Resampling.LANCZOS))[:, :, ::-1].copy()


def read_one(field: dict, printed: str, **render_kw) -> tuple[OcrReading, str | None]:
    request = OcrRequest(
        key=field["name"],
        image=render_slice(printed, **render_kw),
        field_type=field["type"],
        length=field.get("length"),
        choices=tuple(field.get("choices", ())),
    )
    reading = ocr_slices([request])[field["name"]]
    return reading, canonicalize_ocr(FieldSpec.from_dict(field), reading.text)


def field(name: str, ftype: str, **extra) -> dict:
    return {"name": name, "type": ftype, "label": "", "required": True, **extra}


@pytest.mark.parametrize(
    ("spec", "printed", "canonical"),
    [
        (field("acct", "account"), "6222 0202 0011 2233 446", "6222020200112233446"),
        (field("acct", "account"), "6217833254302029", "6217833254302029"),
        (field("pw", "digits", length=16), "0385921746100293", "0385921746100293"),
        (field("no", "digits", length=8), "00519983", "00519983"),
        (field("tel", "phone"), "13812345678", "13812345678"),
        (field("count", "integer", min=1, max=99), "54", "54"),
        (field("id", "id_number"), "11010519491231002X", "11010519491231002X"),
    ],
)
def test_ocr_slices_digit_types_read_exactly(spec, printed, canonical):
    reading, value = read_one(spec, printed, font="Noto Serif CJK SC")
    assert value == canonical
    assert reading.confidence >= HIGH_CONFIDENCE


@pytest.mark.parametrize(
    ("printed", "canonical"),
    [("¥12,345.67", "12345.67"), ("40,008.00", "40008.00"), ("300.50", "300.50")],
)
def test_ocr_slices_amounts_read_exactly(printed, canonical):
    reading, value = read_one(field("amount", "amount"), printed, size_mm=(63, 10))
    assert value == canonical
    assert reading.confidence >= HIGH_CONFIDENCE


@pytest.mark.parametrize(
    ("spec", "printed", "canonical"),
    [
        (field("date", "date"), "2026年11月27日", "2026-11-27"),
        (field("date", "date"), "2026-03-05", "2026-03-05"),
        (field("issue_date", "date_words"), "贰零贰陆年壹拾壹月贰拾柒日", "2026-11-27"),
        (field("issue_date", "date_words"), "贰零贰陆年零壹拾月零贰拾日", "2026-10-20"),
    ],
)
def test_ocr_slices_dates_read_exactly(spec, printed, canonical):
    reading, value = read_one(spec, printed, size_mm=(65, 8), text_mm=4.0)
    assert value == canonical
    assert reading.confidence >= HIGH_CONFIDENCE


@pytest.mark.parametrize(
    ("spec", "printed", "canonical"),
    [
        (field("payee", "name"), "欧阳明华", "欧阳明华"),
        (field("payee", "name"), "杭州国泰食品(集团)有限公司", "杭州国泰食品(集团)有限公司"),
        (field("bank", "bank_name"), "示范银行上海浦东支行", "示范银行上海浦东支行"),
        (field("words", "amount_words"), "人民币壹万贰仟叁佰肆拾伍元陆角柒分", "12345.67"),
        (field("words", "amount_words"), "人民币肆万零捌元整", "40008.00"),
    ],
)
def test_ocr_slices_chinese_fields_read_exactly(spec, printed, canonical):
    reading, value = read_one(spec, printed, size_mm=(100, 10), font="Noto Serif CJK SC")
    assert value == canonical
    assert reading.confidence >= HIGH_CONFIDENCE
    assert reading.engine == "rapidocr"


def test_ocr_slices_roman_numeral_choice_uses_bar_count():
    spec = field("account_type", "choice", choices=["I类户", "II类户", "III类户"])
    for printed in spec["choices"]:
        _, value = read_one(spec, printed, size_mm=(40, 9))
        assert value == printed


def test_ocr_slices_ignores_neighbour_value_in_margin():
    reading, value = read_one(
        field("acct", "account"), "62282469994645139", below="示范银行成都分行营业部"
    )
    assert value == "62282469994645139"
    assert reading.confidence >= HIGH_CONFIDENCE


def test_ocr_slices_batch_returns_one_reading_per_request_by_key():
    printed = {
        "payer_account": ("account", "6212075100214011457"),
        "payee_account": ("account", "6217833254302029"),
        "amount": ("amount", "7,510.00"),
        "payee_name": ("name", "王小明"),
        "instrument_number": ("digits", "00519983"),
    }
    requests = [
        OcrRequest(key, render_slice(text), ftype, length=8 if ftype == "digits" else None)
        for key, (ftype, text) in printed.items()
    ]
    readings = ocr_slices(requests)
    assert set(readings) == set(printed)
    for key, (_, text) in printed.items():
        assert readings[key].key == key
        assert readings[key].text.replace(" ", "") == text.replace(" ", "")


def test_ocr_slices_blank_cell_gives_empty_text_low_confidence():
    requests = [
        OcrRequest("remark", render_slice(""), "text"),
        OcrRequest("amount", render_slice(""), "amount"),
        OcrRequest("white", np.full((120, 600), 255, np.uint8), "digits", length=8),
    ]
    for reading in ocr_slices(requests).values():
        assert reading.text == ""
        assert reading.confidence < 0.1
        assert reading.engine == "none"


def test_ocr_slices_value_of_wrong_shape_is_not_trusted():
    # 7 digits where the field holds 8: read as printed, but never at high confidence.
    reading, _ = read_one(field("no", "digits", length=8), "0051998")
    assert reading.text == "0051998"
    assert reading.confidence <= IMPLAUSIBLE_CAP


def test_ocr_slices_accepts_gray_slices():
    gray = render_slice("13812345678").mean(axis=2).astype(np.uint8)
    reading = ocr_slices([OcrRequest("tel", gray, "phone")])["tel"]
    assert reading.text == "13812345678"


def test_run_tesseract_batch_keeps_page_order():
    images = []
    for text in ("111", "2222", "30303"):
        img = Image.new("L", (300, 70), 255)
        ImageDraw.Draw(img).text((12, 10), text, font=load_font("Noto Sans CJK SC", 40), fill=0)
        images.append(np.asarray(img))
    results = run_tesseract_batch(images, "eng", 7, "0123456789")
    assert [text for text, _ in results] == ["111", "2222", "30303"]
    assert all(0.0 <= conf <= 1.0 for _, conf in results)


def test_needs_cross_check_only_for_unsure_or_misshapen_readings():
    request = OcrRequest("tel", np.zeros((1, 1), np.uint8), "phone")
    assert not needs_cross_check(request, "13812345678", CROSS_CHECK_BELOW)
    assert needs_cross_check(request, "13812345678", CROSS_CHECK_BELOW - 0.01)
    assert needs_cross_check(request, "1381234567", 1.0)  # ten digits is no phone number


def test_ocr_slices_runs_tesseract_only_on_unsure_digit_readings(monkeypatch):
    import imaging.ocr as ocr_module

    seen: list[int] = []
    real = ocr_module.read_tesseract

    def counting(prepared, settings):
        seen.append(len(prepared))
        return real(prepared, settings)

    monkeypatch.setattr(ocr_module, "read_tesseract", counting)
    sure = OcrRequest("tel", render_slice("13812345678"), "phone")
    readings = ocr_slices([sure, OcrRequest("payee", render_slice("王小明"), "name")])
    assert readings["tel"].text == "13812345678"
    assert readings["tel"].engine == "rapidocr"  # sure alone: no second engine
    assert readings["tel"].confidence >= HIGH_CONFIDENCE
    assert seen == [0]
    monkeypatch.setattr(ocr_module, "CROSS_CHECK_BELOW", 1.01)  # force the cross-check
    seen.clear()
    readings = ocr_slices([sure])
    assert readings["tel"].engine == "rapidocr+tesseract"
    assert readings["tel"].text == "13812345678"
    assert seen == [1]
