"""Where values go: mm-to-pixel boxes, and a random size/position per value that fits its cell."""

import random
from dataclasses import dataclass

from synth import fonts

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive
VALUE_PAD_MM = 0.6
MIN_FONT_PX = 6


@dataclass(frozen=True)
class Glyph:
    text: str
    x: float  # drawing origin (PIL "la" anchor) of this run
    y: float
    size: int


@dataclass(frozen=True)
class PlacedValue:
    cell: Box
    ink: Box  # union of the glyph ink boxes; always inside the cell padding
    glyphs: tuple[Glyph, ...]


def mm_box(box_mm: list[float], dpi: int) -> Box:
    s = dpi / 25.4
    x, y, w, h = box_mm
    return round(x * s), round(y * s), round((x + w) * s), round((y + h) * s)


def place_value(text: str, cell: Box, font: str, dpi: int, rng: random.Random) -> PlacedValue:
    """A random size and position for text such that all its ink lies inside the cell padding.

    Printed fonts set the value as one run; the handwriting font sets each character on its
    own with uneven size, baseline and spacing, as a hand does.
    """
    x0, y0, x1, y1 = cell
    pad = max(2, round(VALUE_PAD_MM * dpi / 25.4))
    avail_w, avail_h = x1 - x0 - 2 * pad, y1 - y0 - 2 * pad
    size = round((y1 - y0) * rng.uniform(0.5, 0.78))
    jitter = fonts.is_handwriting(font)
    while True:
        glyphs, ink = layout_glyphs(text, font, size, rng, jitter=jitter)
        tw, th = ink[2] - ink[0], ink[3] - ink[1]
        if (tw <= avail_w and th <= avail_h) or size <= MIN_FONT_PX:
            break
        size -= max(1, size // 12)
    ix = x0 + pad + rng.randint(0, max(0, avail_w - tw))
    iy = y0 + pad + rng.randint(0, max(0, avail_h - th))
    dx, dy = ix - ink[0], iy - ink[1]
    moved = tuple(Glyph(g.text, g.x + dx, g.y + dy, g.size) for g in glyphs)
    return PlacedValue(cell, (ix, iy, ix + tw, iy + th), moved)


def layout_glyphs(text: str, font: str, size: int, rng: random.Random, *, jitter: bool):
    """Glyph runs at origin 0,0 and the integer box enclosing their ink."""
    if not jitter:
        left, top, right, bottom = fonts.load_font(font, size).getbbox(text)
        return (Glyph(text, 0, 0, size),), (left, top, right, bottom)
    glyphs, boxes, x = [], [], 0.0
    for ch in text:
        ch_size = max(MIN_FONT_PX, round(size * rng.uniform(0.88, 1.12)))
        f = fonts.load_font(font, ch_size)
        y = round(size * rng.uniform(-0.06, 0.06))
        gx = round(x)
        left, top, right, bottom = f.getbbox(ch)
        if right > left:
            glyphs.append(Glyph(ch, gx, y, ch_size))
            boxes.append((gx + left, y + top, gx + right, y + bottom))
        x += f.getlength(ch) * rng.uniform(0.86, 1.04)
    if not boxes:
        return (), (0, 0, 0, 0)
    ink = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return tuple(glyphs), ink
