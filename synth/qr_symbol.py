"""QR symbol of an e-voucher payload (UTF-8 JSON), rasterized to a given size."""

import json
import zlib

import numpy as np
import qrcode
from PIL import Image

QR_BORDER_MODULES = 4


def encode_qr_text(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def render_qr(payload: dict, side_px: int) -> Image.Image:
    """The QR symbol, quiet zone included, as an L image of side_px x side_px."""
    # Level L keeps the version low, so modules stay large enough for a 200 dpi scan.
    data = encode_qr_text(payload).encode("utf-8")
    # A fixed mask (any of the 8 is valid) skips qrcode's pure-Python penalty scoring of all
    # eight, which otherwise dominates render time.
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_L,
        border=QR_BORDER_MODULES,
        mask_pattern=zlib.crc32(data) % 8,
    )
    qr.add_data(data)
    qr.make(fit=True)
    matrix = np.array(qr.get_matrix(), dtype=bool)
    modules = Image.fromarray(np.where(matrix, 0, 255).astype(np.uint8), mode="L")
    return modules.resize((side_px, side_px), Image.NEAREST)
