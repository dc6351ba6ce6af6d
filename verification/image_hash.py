"""Perceptual difference hash (dHash, 64 bits) of a voucher image, with Pillow only."""

import io

from PIL import Image, ImageOps


def dhash_hex(data: bytes) -> str:
    """16 hex digits: is each pixel of a 9x8 grey thumbnail brighter than its right neighbour."""
    with Image.open(io.BytesIO(data)) as img:
        img.draft("L", (256, 256))  # JPEG: decode at reduced size, much cheaper
        small = ImageOps.exif_transpose(img).convert("L").resize((9, 8), Image.LANCZOS)
        px = small.tobytes()  # one byte per pixel in mode L
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col] > px[row * 9 + col + 1])
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


BAND_BITS = (13, 13, 13, 13, 12)  # five bands: exact for Hamming distances up to 4


def bands(hex_hash: str) -> tuple[int, ...]:
    """The 64-bit hash cut in five bands, high bits first. By the pigeonhole principle two
    hashes whose distance is at most len(BAND_BITS) - 1 agree on at least one band."""
    value, out, shift = int(hex_hash, 16), [], 64
    for width in BAND_BITS:
        shift -= width
        out.append((value >> shift) & ((1 << width) - 1))
    return tuple(out)
