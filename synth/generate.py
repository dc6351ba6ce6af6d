"""Batches of synthetic vouchers on disk: one image plus one ground-truth JSON per voucher."""

import json
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path

import cv2

from storage.builtin_forms import load_builtin_forms
from synth.evoucher_qr import build_qr_payload
from synth.fills import DEFAULT_PROCESSING_DATE, make_fills
from synth.layout import mm_box
from synth.render import render_voucher_layout
from synth.scanner import apply_scan_effects, map_point

QR_RATE = 0.5  # of forms that have a QR box
BAD_MAC_RATE = 0.25  # of QR codes
SEAL_RATE = 0.9
CLEAN_DPI = 300


def generate_vouchers(
    out_dir: Path,
    *,
    n: int,
    seed: int,
    hard: bool = False,
    forms: list[str] | None = None,
    clean: bool = False,
    processing_date: date = DEFAULT_PROCESSING_DATE,
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write n vouchers into out_dir; return the image paths. Same seed, same files.

    Dates are drawn relative to `processing_date` (cheques mostly issued in the 10 days
    before it, some stale); it is recorded in each ground truth.
    """
    all_forms = load_builtin_forms()
    names = sorted(forms or all_forms)
    unknown = set(names) - set(all_forms)
    if unknown:
        raise ValueError(f"unknown forms: {sorted(unknown)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    serials: set[str] = set()
    paths = []
    for index in range(n):
        # One stream per voucher, so voucher i does not depend on how many draws i-1 made.
        rng = random.Random(f"voucherflow-synth:{seed}:{index}")
        form = all_forms[names[index % len(names)]]
        serial = make_serial(form, rng)
        while serial in serials:
            serial = make_serial(form, rng)
        serials.add(serial)
        paths.append(
            write_voucher(out_dir, form, serial, rng, hard=hard, clean=clean, today=processing_date)
        )
        if on_written:
            on_written(paths[-1])
    return paths


def corners_of(box: tuple[int, int, int, int]) -> list[list[float]]:
    x0, y0, x1, y1 = box
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def make_serial(form: dict, rng: random.Random) -> str:
    digits = form["serial"]["digits"]
    return form["serial"]["prefix"] + f"{rng.randrange(10**digits):0{digits}d}"


def write_voucher(
    out_dir: Path,
    form: dict,
    serial: str,
    rng: random.Random,
    *,
    hard: bool,
    clean: bool,
    today: date,
) -> Path:
    fills = make_fills(form, rng, processing_date=today)
    qr = {"present": False, "valid": False}
    payload = None
    if form.get("qr") and rng.random() < QR_RATE:
        valid = rng.random() >= BAD_MAC_RATE
        payload = build_qr_payload(form, fills, serial, rng, valid=valid)
        qr = {"present": True, "valid": valid}
    rendered = render_voucher_layout(
        form,
        fills,
        serial=serial,
        dpi=CLEAN_DPI,
        qr_payload=payload,
        seal=rng.random() < SEAL_RATE,
        rng=rng,
    )
    truth = {
        "form": form["form"],
        "serial": serial,
        "fields": {name: v.canonical for name, v in fills.items()},
        "printed": {name: v.printed for name, v in fills.items()},
        "qr": qr,
        "seal": {**rendered.seal, "form_kind": form["seal"]["kind"] if form.get("seal") else None},
        "font": rendered.font,
        "processing_date": today.isoformat(),
    }
    if clean:
        image_path = out_dir / f"{serial}.png"
        rendered.image.save(image_path)
        truth.update(dpi=CLEAN_DPI, effects={})
        truth["value_quads_px"] = {k: corners_of(p.ink) for k, p in rendered.placements.items()}
    else:
        keep_out = [p.cell for p in rendered.placements.values()]
        keep_out += [mm_box(f["box"], CLEAN_DPI) for f in form["fields"]]
        keep_out.append(mm_box(form["barcode"]["box"], CLEAN_DPI))
        for key in ("qr", "seal"):
            if form.get(key):
                keep_out.append(mm_box(form[key]["box"], CLEAN_DPI))
        image, effects = apply_scan_effects(
            rendered.image, rng, hard=hard, dpi=CLEAN_DPI, keep_out=keep_out
        )
        image_path = out_dir / f"{serial}.jpg"
        cv2.imwrite(str(image_path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        truth.update(dpi=round(effects["dpi_effective"]), effects=effects)
        truth["value_quads_px"] = {
            name: [map_point(effects["transform"], x, y) for x, y in corners_of(p.ink)]
            for name, p in rendered.placements.items()
        }
    image_path.with_suffix(".json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return image_path
