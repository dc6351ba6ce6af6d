"""decode_image: formats, pixel guard before decoding, EXIF, multi-page TIFF, hostile bytes."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from imaging.decode import decode_image, sniff_format
from imaging.errors import ImageError

MAX = 40_000_000


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _huge_png(side: int = 30000) -> bytes:
    """A real, valid 1-bit PNG of side x side that is ~100 KB on disk."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + side // 8)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg(w=64, h=32, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(buf, "JPEG", **kw)
    return buf.getvalue()


def test_sniff_format_magic_bytes():
    assert sniff_format(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff_format(b"\x89PNG\r\n\x1a\nxx") == "png"
    assert sniff_format(b"II*\x00") == "tiff"
    assert sniff_format(b"MM\x00*") == "tiff"
    assert sniff_format(b"GIF89a") is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"hello, this is a text file named scan.jpg\n" * 10, "unsupported_format"),
        (np.random.default_rng(1).bytes(5000), "unsupported_format"),
        (b"\xff\xd8\xff" + np.random.default_rng(2).bytes(5000), "corrupt_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt_image"),
    ],
)
def test_decode_image_hostile_bytes(data, code):
    with pytest.raises(ImageError) as exc:
        decode_image(data, max_pixels=MAX)
    assert exc.value.code == code


def test_decode_image_truncated_jpeg():
    data = _jpeg(800, 600, quality=95)
    with pytest.raises(ImageError) as exc:
        decode_image(data[: len(data) // 2], max_pixels=MAX)
    assert exc.value.code == "corrupt_image"


def test_decode_image_huge_png_refused_from_header():
    data = _huge_png()
    assert len(data) < 1_000_000
    with pytest.raises(ImageError) as exc:
        decode_image(data, max_pixels=MAX)
    assert exc.value.code == "too_many_pixels"


def test_decode_image_pixel_limit_is_the_callers():
    with pytest.raises(ImageError) as exc:
        decode_image(_jpeg(100, 100), max_pixels=5000)
    assert exc.value.code == "too_many_pixels"


def test_decode_image_jpeg_to_rgb():
    out = decode_image(_jpeg(64, 32), max_pixels=MAX)
    assert out.format == "jpeg"
    assert out.pages[0].shape == (32, 64, 3)
    assert out.pages[0].dtype == np.uint8


def test_decode_image_applies_exif_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = decode_image(_jpeg(64, 32, exif=exif), max_pixels=MAX)
    assert out.pages[0].shape == (64, 32, 3)


def test_decode_image_all_tiff_pages():
    buf = io.BytesIO()
    frames = [Image.fromarray(np.full((20, 30), v, np.uint8)) for v in (10, 128, 250)]
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    out = decode_image(buf.getvalue(), max_pixels=MAX)
    assert out.format == "tiff"
    assert [int(p[0, 0, 0]) for p in out.pages] == [10, 128, 250]


def test_decode_image_grey_png_dpi():
    buf = io.BytesIO()
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(buf, "PNG", dpi=(300, 300))
    out = decode_image(buf.getvalue(), max_pixels=MAX)
    assert out.pages[0].shape == (10, 12, 3)
    assert out.dpi == pytest.approx(300, abs=1)


def test_decode_image_16bit_grey_png_scaled_not_clipped():
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), 30000, np.uint16)).save(buf, "PNG")
    out = decode_image(buf.getvalue(), max_pixels=MAX)
    assert int(out.pages[0][0, 0, 0]) == 30000 >> 8
