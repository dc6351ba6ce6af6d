"""Intake checks on an uploaded scan with Pillow only (the API never imports OpenCV).

Format from the magic bytes, pixel count from the header before any decoding, then a full
decode of every page so that truncated or corrupt files are refused before anything is stored.
"""

import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageFile, UnidentifiedImageError

from storage.errors import InvalidInputError

ImageFile.LOAD_TRUNCATED_IMAGES = False

MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "tiff": "image/tiff"}
MAX_PAGES = 20


@dataclass(frozen=True)
class ScanInfo:
    format: str
    width: int
    height: int
    pages: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def sniff_format(head: bytes) -> str | None:
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def check_scan(fileobj: BinaryIO, *, max_pixels: int) -> ScanInfo:
    """Validate a scan; raise InvalidInputError with a machine-readable code if it is unusable."""
    fileobj.seek(0)
    head = fileobj.read(16)
    if not head:
        raise InvalidInputError("文件为空 (empty file)", code="empty_file")
    fmt = sniff_format(head)
    if fmt is None:
        raise InvalidInputError(
            "不支持的文件格式，请上传 JPEG、PNG 或 TIFF 扫描件 (unsupported format)",
            code="unsupported_format",
        )
    fileobj.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(fileobj)
            pages = getattr(img, "n_frames", 1)
            if pages > MAX_PAGES:
                raise InvalidInputError(f"页数过多 ({pages} > {MAX_PAGES})", code="too_many_pages")
            width, height = img.size
            for page in range(pages):
                img.seek(page)
                w, h = img.size
                if w * h > max_pixels:
                    raise InvalidInputError(
                        f"图像像素过多 ({w}×{h})，超过上限 {max_pixels}",
                        code="too_many_pixels",
                        details={"width": w, "height": h, "max_pixels": max_pixels},
                    )
                img.load()
        except InvalidInputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidInputError(
                "图像像素过多 (decompression bomb)", code="too_many_pixels"
            ) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidInputError(
                "图像文件已损坏或不完整 (corrupt or truncated image)", code="corrupt_image"
            ) from exc
    if width < 200 or height < 100:
        raise InvalidInputError("图像尺寸过小，无法识别", code="image_too_small")
    return ScanInfo(format=fmt, width=width, height=height, pages=pages)
