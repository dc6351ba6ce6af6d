"""Imaging figures over synth vouchers: barcode read rate per engine, form accuracy, field-box
placement error against synth's truth, ruling residual, quality reasons, ms per step.

    python -m bench.imaging_steps --n 200 [--hard] [--seed 7] [--dir /tmp/x [--reuse]] [--engines]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from imaging.barcodes import read_zbar, read_zxing
from imaging.decode import decode_image
from imaging.geometry import rectify, to_gray
from imaging.layout import FormLayout
from storage.builtin_forms import load_builtin_forms
from synth.generate import generate_vouchers
from workers.pipeline import DEFAULT_MAX_PIXELS, REGISTER_PX_PER_MM, process_scan


def _placement_error_mm(res, truth: dict, layout: FormLayout) -> float | None:
    """Worst field-box corner error (mm) against synth's own mm -> pixel mapping."""
    eff = truth.get("effects", {})
    if res.homography is None or "form_corners" not in eff:
        return None
    w, h = layout.size_mm
    mm_to_px = cv2.getPerspectiveTransform(
        np.float32([[0, 0], [w, 0], [w, h], [0, h]]), np.float32(eff["form_corners"])
    )
    ours = np.linalg.inv(np.asarray(res.homography))
    ppm = REGISTER_PX_PER_MM
    worst = 0.0
    for f in layout.fields:
        x, y, bw, bh = f.box
        for ex, ey in ((x, y), (x + bw, y), (x + bw, y + bh), (x, y + bh)):
            a = ours @ np.array([ex * ppm, ey * ppm, 1.0])
            t = mm_to_px @ np.array([ex, ey, 1.0])
            d = np.hypot(*(a[:2] / a[2] - t[:2] / t[2])) * 25.4 / eff.get("dpi_effective", 300)
            worst = max(worst, float(d))
    return worst


def run(n: int, hard: bool, seed: int, out_dir: Path, engines: bool, reuse: bool = False) -> None:
    layouts = {k: FormLayout.from_dict(v) for k, v in load_builtin_forms().items()}
    paths = sorted(out_dir.glob("*.jpg")) if reuse else []
    if len(paths) < n:
        paths = generate_vouchers(out_dir, n=n, seed=seed, hard=hard)
    paths = paths[:n]
    steps: dict[str, list[float]] = defaultdict(list)
    serial_ok = form_ok = qr_ok = qr_total = 0
    engine_hits: Counter[str] = Counter()
    residuals, corner_err_mm, cpu_ms = [], [], []
    reasons: Counter[str] = Counter()
    failures = []
    for path in paths:
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        data = path.read_bytes()
        cpu0 = time.process_time()
        res = process_scan(data, layouts)
        cpu_ms.append((time.process_time() - cpu0) * 1000)
        for k, v in res.timings_ms.items():
            steps[k].append(v)
        serial_ok += res.serial == truth["serial"]
        form_ok += res.form == truth["form"]
        if res.serial != truth["serial"] or res.form != truth["form"]:
            failures.append((path.name, res.form, res.serial, res.quality.reasons))
        if truth.get("qr", {}).get("present"):
            qr_total += 1
            qr_ok += res.qr_payload is not None
        reasons.update(res.quality.reasons or ("ok",))
        if res.residual_mm is not None:
            residuals.append(res.residual_mm)
        if res.form in layouts:
            err = _placement_error_mm(res, truth, layouts[res.form])
            if err is not None:
                corner_err_mm.append(err)
        if engines and res.frame_corners is not None:
            page = decode_image(data, max_pixels=DEFAULT_MAX_PIXELS).pages[0]
            quad_img = _upright(page, res.frame_corners)
            for name, fn in (("zxing", read_zxing), ("zbar", read_zbar)):
                engine_hits[name] += any(c.text == truth["serial"] for c in fn(quad_img))
    print(f"images: {n}  hard={hard}  seed={seed}")
    print(f"serial read (pipeline):   {serial_ok / n:.2%}")
    print(f"form right:               {form_ok / n:.2%}")
    if qr_total:
        print(f"QR payload read:          {qr_ok / qr_total:.2%} of {qr_total}")
    if engines:
        for name in ("zxing", "zbar"):
            print(f"single pass {name:5s}:       {engine_hits[name] / n:.2%}")
    if residuals:
        r = np.asarray(residuals)
        print(
            f"ruling residual mm:       median {np.median(r):.3f}  p95 {np.percentile(r, 95):.3f}"
            f"  max {r.max():.3f}"
        )
    if corner_err_mm:
        c = np.asarray(corner_err_mm)
        print(
            f"box corner vs synth mm:   worst/image median {np.median(c):.3f}"
            f"  p95 {np.percentile(c, 95):.3f}  max {c.max():.3f}"
        )
    print("quality reasons:          " + ", ".join(f"{k}={v}" for k, v in reasons.most_common()))
    print(
        f"CPU ms per image (all threads): mean {np.mean(cpu_ms):.0f}"
        f"  => imaging alone ~{2000 / np.mean(cpu_ms):.1f} vouchers/s on 2 cores"
    )
    print("wall ms per step (mean / p95):")
    for k, v in steps.items():
        print(f"  {k:10s} {np.mean(v):7.1f} {np.percentile(v, 95):7.1f}")
    for f in failures[:20]:
        print("  FAIL", *f)


def _upright(page, corners):
    from imaging.geometry import FormQuad

    quad = FormQuad(corners=tuple(tuple(c) for c in corners))
    img, _ = rectify(page, quad, out_w=round(quad.width_px), out_h=round(quad.height_px))
    return to_gray(img)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--hard", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--engines", action="store_true", help="also rate single-pass engines")
    ap.add_argument("--reuse", action="store_true", help="reuse images already in --dir")
    args = ap.parse_args()
    if args.dir:
        run(args.n, args.hard, args.seed, args.dir, args.engines, args.reuse)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(args.n, args.hard, args.seed, Path(tmp), args.engines)


if __name__ == "__main__":
    main()
