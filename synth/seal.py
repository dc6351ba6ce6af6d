"""Red round and square stamps and handwritten signatures, drawn into the seal cell."""

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from synth.fonts import HANDWRITING_FONT, SEAL_FONT, load_font

SEAL_RED = ((200, 30, 40), (215, 45, 50), (190, 20, 35), (225, 60, 70))
SIGN_INKS = ((20, 30, 90), (25, 25, 30), (15, 40, 120))


def draw_round_seal(
    diameter: int, ring_text: str, bottom_text: str, rng: random.Random
) -> Image.Image:
    """A round official seal: ring, text along the upper arc, star, bottom line; RGBA."""
    size = diameter
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    color = rng.choice(SEAL_RED)
    ring = max(2, round(size * 0.035))
    draw.ellipse(
        (ring // 2, ring // 2, size - 1 - ring // 2, size - 1 - ring // 2),
        outline=color + (255,),
        width=ring,
    )
    _draw_star(draw, size / 2, size / 2, size * 0.15, color)
    ring_text = ring_text.replace("（", "").replace("）", "")
    n = len(ring_text)
    span = min(260.0, 20.0 * n + 30)
    char_px = max(6, round(size * 0.13))
    # Long names get smaller characters so neighbours on the arc do not overlap.
    while char_px > 6 and n * char_px * 0.95 > (size / 2 - ring - char_px * 0.62) * math.radians(
        span
    ):
        char_px -= 1
    font = load_font(SEAL_FONT[0], char_px, SEAL_FONT[1])
    radius = size / 2 - ring - char_px * 0.62
    for i, ch in enumerate(ring_text):
        # Angle measured from the top, clockwise; characters face the centre.
        angle = -span / 2 + span * (i + 0.5) / n
        rad = math.radians(angle - 90)
        cx, cy = size / 2 + radius * math.cos(rad), size / 2 + radius * math.sin(rad)
        glyph = Image.new("RGBA", (char_px * 2, char_px * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text(
            (char_px, char_px), ch, font=font, fill=color + (255,), anchor="mm"
        )
        glyph = glyph.rotate(-angle, resample=Image.BICUBIC)
        img.alpha_composite(glyph, (round(cx - char_px), round(cy - char_px)))
    if bottom_text:
        small = load_font(SEAL_FONT[0], max(5, round(size * 0.1)), SEAL_FONT[1])
        draw.text(
            (size / 2, size * 0.76), bottom_text, font=small, fill=color + (255,), anchor="mm"
        )
    return _add_ink_texture(img, rng)


def draw_square_seal(side: int, name: str, rng: random.Random) -> Image.Image:
    """A personal name seal: square border, characters in right-to-left columns; RGBA."""
    chars = list(name + ("之印" if len(name) == 2 else "印" if len(name) == 3 else ""))[:4]
    while len(chars) < 4:
        chars.append("印")
    # Drawn on a canvas 1/0.7 larger so the caller can rotate it without clipping corners.
    canvas = round(side / 0.7)
    off = (canvas - side) / 2
    img = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    color = rng.choice(SEAL_RED)
    border = max(2, round(side * 0.06))
    draw.rectangle((off, off, off + side - 1, off + side - 1), outline=color + (255,), width=border)
    cell = (side - 2 * border) / 2
    font = load_font(SEAL_FONT[0], max(6, round(cell * 0.85)), SEAL_FONT[1])
    # Traditional order: right column top-down, then left column.
    slots = [(1, 0), (1, 1), (0, 0), (0, 1)]
    for ch, (col, row) in zip(chars, slots, strict=True):
        cx = off + border + cell * (col + 0.5)
        cy = off + border + cell * (row + 0.5)
        draw.text((cx, cy), ch, font=font, fill=color + (255,), anchor="mm")
    return _add_ink_texture(img, rng)


def draw_signature(width: int, height: int, name: str, rng: random.Random) -> Image.Image:
    """A handwritten-looking signature in pen ink, slanted, fitting width x height; RGBA."""
    size = round(height * rng.uniform(0.45, 0.65))
    font = load_font(HANDWRITING_FONT, size)
    while font.getlength(name) * 1.3 > width * 0.9 and size > 8:
        size -= 2
        font = load_font(HANDWRITING_FONT, size)
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    color = rng.choice(SIGN_INKS)
    draw = ImageDraw.Draw(img)
    x = width * 0.08
    for ch in name:
        # Uneven size, height and spacing per character, like a real hand.
        ch_font = load_font(HANDWRITING_FONT, max(8, round(size * rng.uniform(0.9, 1.15))))
        y = height / 2 + rng.uniform(-0.08, 0.08) * height
        draw.text((x, y), ch, font=ch_font, fill=color + (255,), anchor="lm")
        x += ch_font.getlength(ch) * rng.uniform(0.8, 1.0)
    shear = rng.uniform(-0.3, -0.1)
    img = img.transform(
        img.size, Image.AFFINE, (1, shear, -shear * height / 2, 0, 1, 0), resample=Image.BICUBIC
    )
    return img


def _draw_star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, color) -> None:
    points = []
    for k in range(10):
        rad = math.radians(-90 + 36 * k)
        rr = r if k % 2 == 0 else r * 0.38
        points.append((cx + rr * math.cos(rad), cy + rr * math.sin(rad)))
    draw.polygon(points, fill=color + (255,))


def _add_ink_texture(img: Image.Image, rng: random.Random) -> Image.Image:
    """Uneven stamp pressure: thin the ink in blotches and overall."""
    alpha = np.asarray(img.getchannel("A"), dtype=np.float32)
    nrng = np.random.default_rng(rng.getrandbits(32))
    noise = nrng.random(
        (max(2, alpha.shape[0] // 8), max(2, alpha.shape[1] // 8)), dtype=np.float32
    )
    blotch = (
        np.asarray(
            Image.fromarray((noise * 255).astype(np.uint8)).resize(img.size, Image.BICUBIC),
            dtype=np.float32,
        )
        / 255.0
    )
    strength = rng.uniform(0.75, 1.05)
    alpha = alpha * np.clip(strength + 0.5 * (blotch - 0.5), 0.15, 1.0)
    img.putalpha(Image.fromarray(alpha.astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6)))
    return img
