"""Code 128 symbol of the voucher serial, rasterized with exact area sampling at any dpi."""

import numpy as np
from barcode.codex import Code128
from PIL import Image

MIN_MODULE_MM = 0.35
QUIET_MODULES = 10  # ISO/IEC 15417 minimum quiet zone on each side


class BarcodeFitError(ValueError):
    pass


def encode_modules(content: str) -> str:
    """The symbol as a string of '1' (bar) and '0' (space) modules, without quiet zones."""
    return Code128(content).build()[0]


def render_code128(content: str, width_px: int, height_px: int, dpi: int) -> Image.Image:
    """A grayscale image of exactly width_px x height_px holding the symbol and its quiet zones.

    The module width is the widest that fits, and must be at least MIN_MODULE_MM; bars are
    area-sampled so their physical width is exact even when a module is not a whole pixel.
    """
    modules = encode_modules(content)
    total = len(modules) + 2 * QUIET_MODULES
    module_px = width_px / total
    if module_px * 25.4 / dpi < MIN_MODULE_MM:
        raise BarcodeFitError(f"{content}: {total} modules do not fit {width_px}px at {dpi}dpi")
    bars = np.array([c == "1" for c in modules], dtype=np.float64)
    # Cumulative ink at each pixel edge; the difference is each pixel's coverage.
    edges = (np.arange(width_px + 1) / module_px) - QUIET_MODULES
    cum = np.concatenate([[0.0], np.cumsum(bars)])
    padded = np.append(bars, 0.0)
    whole = np.clip(np.floor(edges), 0, len(modules)).astype(int)
    frac = np.clip(edges - whole, 0.0, 1.0)
    ink_at = cum[whole] + frac * padded[whole]
    coverage = np.diff(ink_at) * module_px  # modules of ink per pixel -> fraction of pixel
    row = (255 * (1.0 - np.clip(coverage, 0, 1))).astype(np.uint8)
    return Image.fromarray(np.tile(row, (height_px, 1)), mode="L")
