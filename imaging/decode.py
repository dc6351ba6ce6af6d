"""Bytes to pixel arrays: format sniffing, pixel-count guard before decoding, EXIF, TIFF pages."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from imaging.errors import ImageError

# A voucher batch scanner never produces more; more pages means a wrong or hostile file.
MAX_PAGES = 20

_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}


@dataclass(frozen=True)
class DecodedImage:
    pages: tuple[np.ndarray, ...]  # each HxWx3 uint8 RGB, EXIF orientation applied
    format: str
    dpi: float | None = None


def sniff_format(head: bytes) -> str | None:
    """'jpeg' | 'png' | 'tiff' from the first bytes, or None."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


EXIF_ORIENTATION = 0x0112


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError("corrupt_image", "zero-sized image")
    if width * height > max_pixels:
        raise ImageError("too_many_pixels", f"{width}x{height} exceeds {max_pixels} pixels")


def _dpi_of(im: Image.Image) -> float | None:
    dpi = im.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None
    return value if value and value > 1 else None


def _to_rgb(im: Image.Image) -> np.ndarray:
    # Grey scans are common; widening with OpenCV is several times cheaper than PIL convert.
    if im.mode == "L":
        return cv2.cvtColor(np.asarray(im), cv2.COLOR_GRAY2RGB)
    if im.mode.startswith("I;16"):  # 16-bit grey scans: PIL's convert would clip to white
        grey = (np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.array(im, dtype=np.uint8)


def decode_image(data: bytes, *, max_pixels: int) -> DecodedImage:
    """Decode JPEG/PNG/TIFF bytes into RGB pages; raise ImageError with a code on any problem."""
    if not data:
        raise ImageError("empty_file", "no bytes")
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise ImageError("unsupported_format", "not JPEG, PNG or TIFF")
    pages: list[np.ndarray] = []
    with warnings.catch_warnings():
        # Pillow's own bomb guard warns first; a warning must stop us as well.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]]) as im:
                _check_pixels(im.width, im.height, max_pixels)  # header only, nothing decoded
                dpi = _dpi_of(im)
                total = 0
                for index, frame in enumerate(ImageSequence.Iterator(im)):
                    if index >= MAX_PAGES:
                        raise ImageError("too_many_pages", f"more than {MAX_PAGES} pages")
                    _check_pixels(frame.width, frame.height, max_pixels)
                    total += frame.width * frame.height
                    if total > max_pixels * MAX_PAGES:
                        raise ImageError("too_many_pixels", "pages exceed the pixel budget")
                    frame.load()  # a truncated file fails here, not later
                    # exif_transpose copies the whole page even when there is nothing to turn.
                    turned = frame.getexif().get(EXIF_ORIENTATION, 1) not in (1, None)
                    upright = ImageOps.exif_transpose(frame) if turned else frame
                    pages.append(_to_rgb(upright))
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError("too_many_pixels", str(exc)) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageError("corrupt_image", type(exc).__name__) from exc
        except (MemoryError, Exception) as exc:  # noqa: BLE001 - any decoder failure is ours to map
            raise ImageError("corrupt_image", type(exc).__name__) from exc
    if not pages:
        raise ImageError("corrupt_image", "no pages")
    return DecodedImage(pages=tuple(pages), format=fmt, dpi=dpi)
