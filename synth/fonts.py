"""The CJK fonts the generator prints with: the one list of families, and cached loading."""

import subprocess
from dataclasses import dataclass
from functools import cache

from PIL import ImageFont


@dataclass(frozen=True)
class FontSpec:
    name: str  # family name as fc-list reports it
    style: str
    handwriting: bool = False


FONTS: tuple[FontSpec, ...] = (
    FontSpec("Noto Sans CJK SC", "Regular"),
    FontSpec("Noto Serif CJK SC", "Regular"),
    FontSpec("WenQuanYi Zen Hei", "Regular"),
    FontSpec("WenQuanYi Micro Hei", "Regular"),
    FontSpec("AR PL UMing CN", "Light"),
    FontSpec("AR PL UKai CN", "Book", handwriting=True),
)
# The form itself (labels, title) is always printed in one font, like a real pre-printed form.
FORM_FONT = "Noto Serif CJK SC"
FORM_TITLE_FONT = ("Noto Serif CJK SC", "Bold")
HANDWRITING_FONT = "AR PL UKai CN"
SEAL_FONT = ("Noto Sans CJK SC", "Bold")
SERIAL_FONT = "Noto Sans CJK SC"


class FontNotFoundError(LookupError):
    pass


@cache
def list_installed_fonts() -> dict[tuple[str, str], tuple[str, int]]:
    """Map (family, style) to (file, index) for the CJK fonts fontconfig knows."""
    out = subprocess.run(
        ["fc-list", ":lang=zh", "--format", "%{file}|%{index}|%{family[0]}|%{style[0]}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[tuple[str, str], tuple[str, int]] = {}
    for line in out.splitlines():
        path, index, family, style = line.split("|")
        found.setdefault((family, style), (path, int(index)))
    return found


def available_fonts() -> list[str]:
    """Names of FONTS that are installed, in FONTS order."""
    installed = list_installed_fonts()
    return [f.name for f in FONTS if (f.name, f.style) in installed]


def is_handwriting(name: str) -> bool:
    return any(f.name == name and f.handwriting for f in FONTS)


@cache
def load_font(name: str, size_px: int, style: str | None = None) -> ImageFont.FreeTypeFont:
    """Load a font of FONTS (or FORM_TITLE_FONT) by family name at a pixel size."""
    if style is None:
        style = next((f.style for f in FONTS if f.name == name), "Regular")
    try:
        path, index = list_installed_fonts()[(name, style)]
    except KeyError:
        raise FontNotFoundError(f"font not installed: {name} {style}") from None
    return ImageFont.truetype(path, size_px, index=index)
