"""Independent test renderer: draws a form per the README spec with OpenCV and distorts it."""

from __future__ import annotations

import cv2
import numpy as np
import qrcode
from barcode.codex import Code128

QUIET_MODULES = 10


def _draw_box(canvas, box, ppm, thick_px, value=(0, 0, 0)):
    x, y, w, h = (v * ppm for v in box)
    cv2.rectangle(canvas, (round(x), round(y)), (round(x + w), round(y + h)), value, thick_px)


def _draw_code128(canvas, text, box, ppm):
    modules = Code128(text).build()[0]
    x, y, w, h = (v * ppm for v in box)
    total = len(modules) + 2 * QUIET_MODULES
    mod = w / total
    assert mod / ppm >= 0.35, "module too narrow for spec"
    for i, bit in enumerate(modules):
        if bit == "1":
            x0 = x + (QUIET_MODULES + i) * mod
            canvas[round(y + 0.1 * h) : round(y + 0.95 * h), round(x0) : round(x0 + mod)] = 0


def _draw_qr(canvas, payload: bytes, box, ppm):
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(payload)
    m = np.array(qr.get_matrix(), np.uint8)
    x, y, w, h = (v * ppm for v in box)
    side = min(w, h)
    img = cv2.resize((1 - m) * 255, (round(side), round(side)), interpolation=cv2.INTER_NEAREST)
    canvas[round(y) : round(y) + img.shape[0], round(x) : round(x) + img.shape[1]] = img[..., None]


def render_form(layout, serial, *, dpi=300, qr_payload=None, seed=0, frame_mm=0.5):
    """Form canvas (RGB) of exactly size_mm at dpi, frame centre-line on the size_mm border."""
    rng = np.random.default_rng(seed)
    ppm = dpi / 25.4
    pad = 3 * ppm  # paper margin around the frame
    w, h = layout.size_mm
    canvas = np.full((round(h * ppm + 2 * pad), round(w * ppm + 2 * pad), 3), 250, np.uint8)
    sub = canvas[round(pad) :, round(pad) :]
    _draw_box(sub, (0, 0, w, h), ppm, max(1, round(frame_mm * ppm)))
    for box in layout.ruled_boxes():
        _draw_box(sub, box, ppm, max(1, round(0.2 * ppm)))
    for f in layout.fields:
        x, y, bw, bh = f.box
        text = "".join(str(d) for d in rng.integers(0, 10, size=max(3, int(bw / 5))))
        org = (round((x + 1.5) * ppm), round((y + bh * 0.75) * ppm))
        cv2.putText(sub, text, org, cv2.FONT_HERSHEY_SIMPLEX, bh * ppm / 45, (20, 20, 20), 2)
    sx, sy, sw, sh = layout.seal_box
    cv2.circle(
        sub,
        (round((sx + sw / 2) * ppm), round((sy + sh / 2) * ppm)),
        round(min(sw, sh) * 0.4 * ppm),
        (200, 30, 30),
        max(2, round(0.6 * ppm)),
    )
    _draw_code128(sub, serial, layout.barcode_box, ppm)
    if qr_payload is not None and layout.qr_box:
        _draw_qr(sub, qr_payload, layout.qr_box, ppm)
    return canvas, pad


def scan(
    form_rgb,
    pad_px,
    *,
    angle=0.0,
    scale=1.0,
    shift=(0, 0),
    bg=255,
    noise=0.0,
    blur=0.0,
    jpeg=90,
    light=0.0,
    turn=0,
    cut=None,
    seed=0,
):
    """Place the form on a larger background with the given distortions; returns (bytes, H)
    where H maps form mm -> output px (for exact residual measurement)."""
    rng = np.random.default_rng(seed)
    fh, fw = form_rgb.shape[:2]
    diag = int(np.hypot(fw, fh) * scale) + 200
    out_w, out_h = diag, int(diag * 0.8)
    cx, cy = out_w / 2 + shift[0], out_h / 2 + shift[1]
    m = cv2.getRotationMatrix2D((fw / 2, fh / 2), angle, scale)
    m[:, 2] += (cx - fw / 2, cy - fh / 2)
    paper = np.full((fh, fw), 255, np.uint8)
    warped = cv2.warpAffine(
        form_rgb, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=(bg, bg, bg)
    )
    pmask = cv2.warpAffine(paper, m, (out_w, out_h)) > 127
    img = warped.astype(np.float32)
    img[~pmask] = bg
    if light:
        yy, xx = np.mgrid[0:out_h, 0:out_w]
        img *= (1 - light * (xx / out_w))[..., None]
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise:
        img += rng.normal(0, noise, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img, m


def encode(img, jpeg=90, turn=0, cut=None):
    if cut:
        img = img[:, : int(img.shape[1] * cut)]
    if turn:
        img = np.ascontiguousarray(np.rot90(img, k=turn))
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg]
    )
    assert ok
    return buf.tobytes()
