"""Account seals with ground truth: a seal's design, genuine impressions, forgeries (changed
text, changed shape, another account's seal), specimen cards and seal-slice samples."""

import io
import random
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageDraw

from synth import names
from synth.fills import make_company_name, make_person_name
from synth.scanner import apply_scan_effects
from synth.seal import draw_round_seal, draw_square_seal

FORGERY_KINDS = ("changed_text", "changed_shape", "other_account")
SLICE_PX_PER_MM = 12.0  # what imaging.pipeline registers to
_TEXT_POOL = names.GIVEN_MALE + names.GIVEN_FEMALE + names.GIVEN_ANY + names.SURNAMES


@dataclass(frozen=True)
class SealSpec:
    """One physical seal: what a carved stamp looks like, independent of any impression."""

    kind: str  # round | square
    text: str  # ring text (round) or the name (square)
    bottom: str  # round seals only
    size_mm: float  # diameter (round) or side (square)
    squash: float = 1.0  # < 1: an oval/oblong carving (forgeries)


def make_seal_spec(rng: random.Random, owner: str | None = None) -> SealSpec:
    """A company's round seal or a person's square name seal, sized to fit the forms' seal
    cells (22-25 mm high)."""
    if owner is None:
        owner = make_company_name(rng) if rng.random() < 0.7 else make_person_name(rng)
    if len(owner) <= 4:
        return SealSpec("square", owner, "", round(rng.uniform(12, 15), 1))
    bottom = rng.choice(("财务专用章", "合同专用章", "公章"))
    return SealSpec("round", owner, bottom, round(rng.uniform(17, 20), 1))


def forge_spec(spec: SealSpec, kind: str, rng: random.Random) -> SealSpec:
    """A forgery of `spec` of the given kind (one of FORGERY_KINDS)."""
    if kind == "changed_text":
        chars = list(spec.text)
        for i in rng.sample(range(len(chars)), k=min(len(chars), rng.choice((1, 2)))):
            chars[i] = rng.choice([c for c in _TEXT_POOL if c != chars[i]])
        return replace(spec, text="".join(chars))
    if kind == "changed_shape":
        choice = rng.random()
        if choice < 0.4:
            return replace(spec, squash=rng.uniform(0.78, 0.88))
        if choice < 0.7:
            return replace(spec, size_mm=round(spec.size_mm * rng.uniform(1.15, 1.3), 1))
        if spec.kind == "round":
            return replace(spec, size_mm=round(spec.size_mm * 0.8, 1), kind="square")
        return replace(spec, kind="round", bottom="")
    if kind == "other_account":
        other = make_seal_spec(rng)
        while other.text == spec.text:
            other = make_seal_spec(rng)
        return other
    raise ValueError(f"unknown forgery kind {kind!r}")


def draw_impression(spec: SealSpec, dpi: float, rng: random.Random) -> Image.Image:
    """One stamping of the seal (ink colour and pressure vary by rng); RGBA, unrotated."""
    px = spec.size_mm * dpi / 25.4
    if spec.kind == "round":
        mark = draw_round_seal(round(px), spec.text, spec.bottom, rng)
    else:
        # draw_square_seal draws a side-px square on a canvas 1/0.7 larger.
        mark = draw_square_seal(round(px), spec.text, rng)
    if spec.squash != 1.0:
        w, h = mark.size
        squashed = mark.resize((w, max(8, round(h * spec.squash))), Image.BICUBIC)
        mark = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        mark.alpha_composite(squashed, (0, (h - squashed.height) // 2))
    return mark


def stamp_onto(img: Image.Image, mark: Image.Image, at: tuple[int, int]) -> None:
    """Ink over ink: multiply, so what is printed underneath stays visible."""
    layer = Image.new("RGB", mark.size, (255, 255, 255))
    layer.paste(mark.convert("RGB"), (0, 0), mark)
    region = img.crop((at[0], at[1], at[0] + mark.width, at[1] + mark.height))
    img.paste(ImageChops.multiply(region, layer), at)


def stamp_angle(rng: random.Random) -> float:
    """Mostly nearly upright, sometimes any way round (a hurried clerk)."""
    return rng.uniform(-15, 15) if rng.random() < 0.8 else rng.uniform(-180, 180)


def stamp_into_box(
    img: Image.Image, spec: SealSpec, box: tuple[int, int, int, int], dpi: float, rng: random.Random
) -> dict:
    """Stamp one impression of spec, rotated, somewhere inside box (pixels); ground truth."""
    x0, y0, x1, y1 = box
    angle = stamp_angle(rng)
    mark = draw_impression(spec, dpi, rng).rotate(angle, resample=Image.BICUBIC, expand=True)
    mx = x0 + rng.randint(2, max(2, x1 - x0 - mark.width - 2))
    my = y0 + rng.randint(2, max(2, y1 - y0 - mark.height - 2))
    stamp_onto(img, mark, (mx, my))
    return {"kind": spec.kind, "text": spec.text, "angle": round(angle, 2)}


def render_specimen(spec: SealSpec, rng: random.Random, *, dpi: int = 300) -> bytes:
    """A scanned specimen card (印鉴卡) impression: PNG bytes, colour, a little paper noise."""
    side = round(spec.size_mm * dpi / 25.4 * 1.8)
    card = Image.new("RGB", (side, side), (252, 251, 247))
    mark = draw_impression(spec, dpi, rng)
    stamp_onto(card, mark, ((side - mark.width) // 2, (side - mark.height) // 2))
    arr = np.asarray(card).astype(np.int16)
    nrng = np.random.default_rng(rng.getrandbits(32))
    arr = np.clip(arr + nrng.normal(0, 2.0, arr.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def seal_slice_sample(
    spec: SealSpec,
    rng: random.Random,
    *,
    box_mm: tuple[float, float] = (45.0, 22.0),
    grayscale: bool = False,
    hard: bool = False,
) -> np.ndarray:
    """A seal slice as the pipeline cuts it (12 px/mm, 1 mm margin, RGB): the seal cell of a
    form, stamped, then scanned (resolution, light, noise, blur, JPEG) and resampled back.

    Cheaper than a whole voucher, for measuring false accepts and rejects on many samples."""
    dpi = 300
    px = dpi / 25.4
    margin = round(6 * px)
    w, h = round(box_mm[0] * px), round(box_mm[1] * px)
    sheet = Image.new("RGB", (w + 2 * margin, h + 2 * margin), (250, 250, 246))
    box = (margin, margin, margin + w, margin + h)
    ImageDraw.Draw(sheet).rectangle(box, outline=rng.choice(((30, 30, 30), (140, 40, 40))), width=2)
    stamp_into_box(sheet, spec, box, dpi, rng)
    scanned, effects = apply_scan_effects(
        sheet, rng, hard=hard, dpi=dpi, keep_out=[(0, 0, *sheet.size)], grayscale=grayscale
    )
    # Ground-truth registration: clean px of the cell (+1 mm) -> scan px, as warp_box does.
    t = np.vstack([np.asarray(effects["transform"], dtype=np.float64), [0, 0, 1]])
    to_clean = np.array(
        [[px / SLICE_PX_PER_MM, 0, margin - px], [0, px / SLICE_PX_PER_MM, margin - px], [0, 0, 1]]
    )
    out_w = round((box_mm[0] + 2) * SLICE_PX_PER_MM)
    out_h = round((box_mm[1] + 2) * SLICE_PX_PER_MM)
    m = np.linalg.inv(t @ to_clean)
    if scanned.ndim == 2:
        scanned = cv2.cvtColor(scanned, cv2.COLOR_GRAY2BGR)
    warped = cv2.warpPerspective(scanned, m, (out_w, out_h), borderValue=(255, 255, 255))
    return cv2.cvtColor(warped, cv2.COLOR_BGR2RGB)
