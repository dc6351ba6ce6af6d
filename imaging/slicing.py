"""Cut each field's value cell (plus a margin) and the seal box out of a registered form."""

from __future__ import annotations

import cv2
import numpy as np

from imaging.layout import Box, FormLayout

SEAL_KEY = "__seal__"


def cut_box(registered: np.ndarray, box: Box, *, px_per_mm: float, margin_mm: float) -> np.ndarray:
    x, y, w, h = box
    hgt, wid = registered.shape[:2]
    x0 = max(0, int(np.floor((x - margin_mm) * px_per_mm)))
    y0 = max(0, int(np.floor((y - margin_mm) * px_per_mm)))
    x1 = min(wid, int(np.ceil((x + w + margin_mm) * px_per_mm)))
    y1 = min(hgt, int(np.ceil((y + h + margin_mm) * px_per_mm)))
    return registered[y0:y1, x0:x1].copy()


def cut_slices(
    registered: np.ndarray, layout: FormLayout, *, px_per_mm: float, margin_mm: float = 1.0
) -> dict[str, np.ndarray]:
    """{field name: value cell image, "__seal__": seal box image}, each with its borders."""
    slices = {
        f.name: cut_box(registered, f.box, px_per_mm=px_per_mm, margin_mm=margin_mm)
        for f in layout.fields
    }
    slices[SEAL_KEY] = cut_box(
        registered, layout.seal_box, px_per_mm=px_per_mm, margin_mm=margin_mm
    )
    return slices


def warp_box(
    img: np.ndarray, homography: np.ndarray, box: Box, *, px_per_mm: float, margin_mm: float
) -> np.ndarray:
    """The same cut as cut_box, resampled straight from the scan (e.g. a colour seal while
    the rest of the form was registered in grey). `homography`: scan px -> registered px."""
    x, y, w, h = box
    x0 = np.floor((x - margin_mm) * px_per_mm)
    y0 = np.floor((y - margin_mm) * px_per_mm)
    x1 = np.ceil((x + w + margin_mm) * px_per_mm)
    y1 = np.ceil((y + h + margin_mm) * px_per_mm)
    shift = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]])
    border = (255, 255, 255) if img.ndim == 3 else 255
    return cv2.warpPerspective(
        img,
        shift @ homography,
        (int(x1 - x0), int(y1 - y0)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
