"""Scanner and handling damage on a clean render: margin, rotation, blur, noise, light, JPEG."""

import random

import cv2
import numpy as np
from PIL import Image

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1


def apply_scan_effects(
    img: Image.Image,
    rng: random.Random,
    *,
    hard: bool,
    dpi: int = 300,
    keep_out: list[Rect] | None = None,
    grayscale: bool | None = None,
) -> tuple[np.ndarray, dict]:
    """Make a clean render look scanned; return the image (BGR or gray) and what was applied.

    `keep_out` are rectangles in input pixels where no stray mark may land (value cells,
    barcode, QR, seal); without it marks stay off the form entirely. The returned params
    include `transform` (2x3, input pixels -> output pixels) and `form_corners`: where the
    form's TL, TR, BR, BL corners ended up. `grayscale` forces a colour or a grey scan
    (None: 30 % grey, at random).
    """
    nrng = np.random.default_rng(rng.getrandbits(64))
    params: dict = {"hard": hard}
    bgr = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)

    eff_dpi = rng.uniform(200, 300)
    scale = eff_dpi / dpi
    bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = bgr.shape[:2]
    params.update(dpi_effective=round(eff_dpi, 1), scale=round(scale, 4))

    grey_bg = rng.random() < 0.45
    bg = rng.randint(110, 200) if grey_bg else rng.randint(236, 255)
    margins = [
        round(rng.uniform(0.03, 0.12) * max(w, h)) for _ in range(4)
    ]  # left top right bottom
    left, top, right, bottom = margins
    canvas = np.full((h + top + bottom, w + left + right, 3), bg, np.uint8)
    canvas[top : top + h, left : left + w] = bgr
    params.update(background=bg, background_kind="grey" if grey_bg else "white", margins=margins)

    if keep_out is None:
        forbidden = [(left, top, left + w, top + h)]
    else:
        forbidden = [
            (
                round(x0 * scale) + left,
                round(y0 * scale) + top,
                round(x1 * scale) + left,
                round(y1 * scale) + top,
            )
            for x0, y0, x1, y1 in keep_out
        ]
    params["stray_marks"] = draw_stray_marks(
        canvas, forbidden, rng, count=rng.randint(0, 6 if hard else 3)
    )

    # `transform` maps input pixels to output pixels, composed as each step is applied.
    transform = np.array([[scale, 0, left], [0, scale, top], [0, 0, 1]], dtype=np.float64)
    angle = rng.uniform(-5, 5)
    canvas, rotation = rotate_expand(canvas, angle, bg)
    transform = np.vstack([rotation, [0, 0, 1]]) @ transform
    turn = rng.choice((90, 180, 270)) if hard and rng.random() < 0.3 else 0
    for _ in range(turn // 90):
        # A counter-clockwise quarter turn maps (x, y) to (y, W - x).
        quarter = np.array([[0, 1, 0], [-1, 0, canvas.shape[1]], [0, 0, 1]], dtype=np.float64)
        canvas = cv2.rotate(canvas, cv2.ROTATE_90_COUNTERCLOCKWISE)
        transform = quarter @ transform
    params.update(rotation_deg=round(angle, 3), turn_deg=turn)

    strength = rng.uniform(0.0, 0.4 if hard else 0.22)
    canvas = apply_uneven_light(canvas, strength, rng)
    params["lighting"] = round(strength, 3)

    # Grain before blur: the optics and JPEG soften sensor noise as they do the page.
    noise = rng.uniform(0.0, 7.0 if hard else 4.0)
    if noise > 0.5:
        grain = (nrng.standard_normal(canvas.shape[:2], dtype=np.float32) * noise).astype(np.int16)
        canvas = cv2.add(canvas, cv2.merge([grain] * 3), dtype=cv2.CV_8U)
    params["noise_sigma"] = round(noise, 3)

    sigma = rng.uniform(0.0, 1.2 if hard else 0.8)
    if sigma > 0.25:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    params["blur_sigma"] = round(sigma, 3)

    gray = rng.random() < 0.3  # drawn even when forced, so the other draws stay the same
    if grayscale is not None:
        gray = grayscale
    if gray:
        canvas = cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY)
    params["grayscale"] = gray

    quality = rng.randint(40 if hard else 60, 95)
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    canvas = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    params["jpeg_quality"] = quality
    params["transform"] = [[round(float(v), 6) for v in row] for row in transform[:2]]
    corners = [(0, 0), (img.width, 0), (img.width, img.height), (0, img.height)]
    params["form_corners"] = [map_point(transform, x, y) for x, y in corners]
    params["size"] = [int(canvas.shape[1]), int(canvas.shape[0])]
    return canvas, params


def rotate_expand(img: np.ndarray, angle: float, bg: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by angle degrees (counter-clockwise) growing the canvas; return it and the 2x3
    matrix that maps old pixel coordinates to new ones."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(bg, bg, bg))
    return out, m


def map_point(transform: np.ndarray | list, x: float, y: float) -> list[float]:
    """Where input pixel (x, y) lands in the output, per a `transform` from the params."""
    t = np.asarray(transform, dtype=np.float64)
    return [
        round(float(t[0, 0] * x + t[0, 1] * y + t[0, 2]), 1),
        round(float(t[1, 0] * x + t[1, 1] * y + t[1, 2]), 1),
    ]


def apply_uneven_light(img: np.ndarray, strength: float, rng: random.Random) -> np.ndarray:
    """Darken towards one side and one spot, as a lid left ajar or a curled page does."""
    if strength <= 0.01:
        return img
    h, w = img.shape[:2]
    # Computed small and upsampled: the field is smooth, and full-size maths is slow.
    sh, sw = max(2, h // 16), max(2, w // 16)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (xx / sw - 0.5) * np.cos(theta) + (yy / sh - 0.5) * np.sin(theta) + 0.5
    cx, cy = rng.uniform(0, sw), rng.uniform(0, sh)
    spot = np.exp(-(((xx - cx) / sw) ** 2 + ((yy - cy) / sh) ** 2) * 4)
    field = 1.0 - strength * np.clip(0.7 * ramp + 0.3 * spot, 0, 1)
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(img, cv2.merge([field] * img.shape[2]), dtype=cv2.CV_8U)


def draw_stray_marks(
    canvas: np.ndarray, forbidden: list[Rect], rng: random.Random, *, count: int
) -> int:
    """Pen strokes, dots and smudges placed where they touch no forbidden rectangle."""
    h, w = canvas.shape[:2]
    drawn = 0
    for _ in range(count):
        for _attempt in range(25):
            mw, mh = rng.randint(8, max(9, w // 12)), rng.randint(8, max(9, h // 12))
            x0, y0 = rng.randint(0, w - mw - 1), rng.randint(0, h - mh - 1)
            rect = (x0, y0, x0 + mw, y0 + mh)
            if not any(_overlaps(rect, f) for f in forbidden):
                _draw_mark(canvas, rect, rng)
                drawn += 1
                break
    return drawn


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _draw_mark(canvas: np.ndarray, rect: Rect, rng: random.Random) -> None:
    x0, y0, x1, y1 = rect
    color = rng.choice(((40, 40, 40), (140, 60, 20), (40, 40, 190), (90, 90, 90)))  # BGR
    kind = rng.random()
    if kind < 0.5:
        pts = np.array(
            [[rng.randint(x0, x1), rng.randint(y0, y1)] for _ in range(rng.randint(2, 5))]
        )
        cv2.polylines(canvas, [pts.astype(np.int32)], False, color, rng.randint(1, 3), cv2.LINE_AA)
    elif kind < 0.8:
        r = max(1, min(x1 - x0, y1 - y0) // rng.randint(4, 10))
        cv2.circle(canvas, ((x0 + x1) // 2, (y0 + y1) // 2), r, color, -1, cv2.LINE_AA)
    else:
        roi = canvas[y0:y1, x0:x1]
        smudge = roi.copy()
        centre, axes = ((x1 - x0) // 2, (y1 - y0) // 2), ((x1 - x0) // 2, (y1 - y0) // 3)
        cv2.ellipse(smudge, centre, axes, rng.uniform(0, 180), 0, 360, (150, 150, 150), -1)
        cv2.addWeighted(smudge, 0.25, roi, 0.75, 0, dst=roi)
