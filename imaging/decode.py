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
    pages: tuple[np.ndarray, ...]  # each HxWx3 uint8 RGB (HxW grey with keep_grey), EXIF applied
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


def _to_rgb_array(grey: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


def _page_array(im: Image.Image, keep_grey: bool) -> np.ndarray:
    if keep_grey and im.mode == "L":
        return np.array(im, dtype=np.uint8)
    if keep_grey and im.mode.startswith("I;16"):
        return (np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8)
    return _to_rgb(im)


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


# JPEG modes OpenCV decodes to the same pixels as Pillow (both libjpeg-turbo, ISLOW IDCT,
# fancy upsampling; checked byte for byte on the synth scans and in the tests).
_CV_JPEG_FLAGS = {
    "L": cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION,
    "RGB": cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION,
}
_JPEG_EOI = b"\xff\xd9"


def _fast_jpeg(data: bytes, im: Image.Image) -> np.ndarray | None:
    """A plain single-frame JPEG (grey or RGB, no EXIF turn) decoded by OpenCV straight into
    an array: Pillow's decode plus its tobytes copy cost ~2.4x as much for an RGB page. Only
    for a file that ends in its EOI marker (a truncated one goes to Pillow, which refuses it);
    None whenever anything is unusual, so Pillow's checked path decides."""
    flags = _CV_JPEG_FLAGS.get(im.mode)
    if flags is None or getattr(im, "n_frames", 1) != 1:
        return None
    if im.getexif().get(EXIF_ORIENTATION, 1) not in (1, None):
        return None
    if not data.rstrip(b"\x00\r\n ").endswith(_JPEG_EOI):
        return None
    try:
        out = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None
    if out is None or out.shape[:2] != (im.height, im.width):
        return None
    return out


def decode_image(data: bytes, *, max_pixels: int, keep_grey: bool = False) -> DecodedImage:
    """Decode JPEG/PNG/TIFF bytes into RGB pages; raise ImageError with a code on any problem.

    keep_grey: a grey page stays HxW instead of being widened to RGB (the pipeline works on
    grey; widening and narrowing again cost ~4 ms a page for the same pixels)."""
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
                if fmt == "jpeg":
                    fast = _fast_jpeg(data, im)
                    if fast is not None:
                        page = fast if keep_grey or fast.ndim == 3 else _to_rgb_array(fast)
                        return DecodedImage(pages=(page,), format=fmt, dpi=dpi)
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
                    pages.append(_page_array(upright, keep_grey))
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
