"""OCR bench: N synthetic clean vouchers -> per field type exactness, exactness at high
confidence, ms per slice (batched per voucher vs one tesseract process per slice), per engine.

    python -m bench.ocr --n 40 --seed 1 [--engines auto,rapidocr,tesseract] [--per-call]
"""

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from entry.fieldtypes import FieldSpec, canonicalize_ocr
from imaging.ocr import HIGH_CONFIDENCE, Engine, OcrRequest, ocr_slices, preload_engines
from imaging.ocr_engines import run_tesseract_single
from imaging.ocr_prep import prepare_slice
from storage.builtin_forms import load_builtin_forms

SLICE_PX_PER_MM = 12.0
SLICE_MARGIN_MM = 1.5
CONF_LEVELS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def cut_slice(page: np.ndarray, box_mm: list[float], dpi: float) -> np.ndarray:
    """A field slice as registration hands it over: box + margin, resampled to 12 px/mm."""
    x, y, w, h = box_mm
    m = SLICE_MARGIN_MM
    scale = dpi / 25.4
    x0, y0 = max(0, round((x - m) * scale)), max(0, round((y - m) * scale))
    x1, y1 = round((x + w + m) * scale), round((y + h + m) * scale)
    crop = page[y0:y1, x0:x1]
    size = (round((w + 2 * m) * SLICE_PX_PER_MM), round((h + 2 * m) * SLICE_PX_PER_MM))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)


def load_vouchers(n: int, seed: int, out_dir: Path) -> list[tuple[dict, list, dict]]:
    """(truth, requests, specs by key) per voucher, from clean synth renders."""
    from synth.generate import generate_vouchers

    forms = load_builtin_forms()
    vouchers = []
    for path in generate_vouchers(out_dir, n=n, seed=seed, clean=True):
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        page = cv2.imread(str(path))
        form = forms[truth["form"]]
        requests, specs = [], {}
        for field in form["fields"]:
            requests.append(
                OcrRequest(
                    key=field["name"],
                    image=cut_slice(page, field["box"], truth["dpi"]),
                    field_type=field["type"],
                    length=field.get("length"),
                    choices=tuple(field.get("choices") or ()),
                )
            )
            specs[field["name"]] = FieldSpec.from_dict(field)
        vouchers.append((truth, requests, specs))
    return vouchers


def is_handwriting(truth: dict) -> bool:
    from synth.fonts import is_handwriting as font_is_handwriting

    return font_is_handwriting(truth.get("font", ""))


def bench_engine(vouchers, engine: Engine | None, show_errors: bool = False) -> None:
    label = engine.value if engine else "auto (per-type choice)"
    rows: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    hand_rows: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    wrong: list[tuple[str, float, str]] = []
    times, slices, cpu = [], 0, cpu_seconds()
    for truth, requests, specs in vouchers:
        start = time.perf_counter()
        readings = ocr_slices(requests, engine)
        times.append(time.perf_counter() - start)
        slices += len(requests)
        target = hand_rows if is_handwriting(truth) else rows
        for request in requests:
            expected = truth["fields"][request.key]
            reading = readings[request.key]
            got = canonicalize_ocr(specs[request.key], reading.text) if reading.text else ""
            exact = (got or "") == expected
            target[request.field_type].append((exact, reading.confidence))
            if not exact and show_errors:
                # Synthetic data only: the bench never runs on customer images.
                print(
                    "  miss",
                    request.field_type,
                    repr(expected),
                    repr(reading.text),
                    reading.confidence,
                    reading.engine,
                    truth["font"],
                    truth["serial"],
                )
            if not exact and reading.confidence >= HIGH_CONFIDENCE:
                wrong.append((request.field_type, reading.confidence, truth["font"]))
    cpu = cpu_seconds() - cpu
    print(
        f"\n== engine {label}: {len(vouchers)} vouchers, {slices} slices, "
        f"{1000 * sum(times) / slices:.1f} ms/slice wall ({1000 * cpu / slices:.1f} ms CPU), "
        f"{1000 * statistics.median(times):.0f} ms/voucher median wall"
    )
    print_table("machine-printed fonts", rows)
    if hand_rows:
        print_table("handwriting-like font (AR PL UKai)", hand_rows)
    print(f"wrong at >= {HIGH_CONFIDENCE}: {len(wrong)}", wrong[:10])


def print_table(title: str, rows: dict[str, list[tuple[bool, float]]]) -> None:
    print(f"-- {title}; exact = canonicalize_ocr(text) == truth; high = conf >= {HIGH_CONFIDENCE}")
    head = "".join(f" >={c:<7}" for c in CONF_LEVELS[1:])
    print(f"{'type':13} {'n':>4} {'exact':>6} {'high':>6} {'hi_ex':>6} |{head}")
    print(" " * 41 + "(per level: exact share among slices at >= level / share of slices)")
    total = [0, 0, 0, 0]
    for ftype in sorted(rows):
        data = rows[ftype]
        n, ok = len(data), sum(e for e, _ in data)
        hi = [e for e, c in data if c >= HIGH_CONFIDENCE]
        levels = ""
        for level in CONF_LEVELS[1:]:
            sel = [e for e, c in data if c >= level]
            levels += f" {sum(sel) / len(sel):.3f}/{len(sel) / n:.2f}" if sel else "      -   "
        print(
            f"{ftype:13} {n:4d} {ok / n:6.3f} {len(hi) / n:6.3f} "
            f"{(sum(hi) / len(hi) if hi else float('nan')):6.3f} |{levels}"
        )
        total = [total[0] + n, total[1] + ok, total[2] + len(hi), total[3] + sum(hi)]
    if total[0]:
        print(
            f"{'ALL':13} {total[0]:4d} {total[1] / total[0]:6.3f} {total[2] / total[0]:6.3f} "
            f"{total[3] / max(1, total[2]):6.3f}"
        )


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (tesseract): what contention on a
    shared box does not inflate, unlike wall time."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_tesseract_calls(vouchers, limit: int) -> None:
    """One tesseract process per slice vs one per voucher, on the same prepared digit slices."""
    from imaging.ocr import PAD_PX, SETTINGS, TARGET_HEIGHT
    from imaging.ocr_engines import run_tesseract_batch

    per_call, batched, count = 0.0, 0.0, 0
    per_call_cpu, batched_cpu = 0.0, 0.0
    for _, requests, _ in vouchers[:limit]:
        digit = [r for r in requests if SETTINGS[r.field_type].lang == "eng"]
        images = [prepare_slice(r.image, TARGET_HEIGHT, PAD_PX).binary for r in digit]
        whitelist = "".join(sorted(set("".join(SETTINGS[r.field_type].alphabet for r in digit))))
        start, cpu = time.perf_counter(), cpu_seconds()
        for image in images:
            run_tesseract_single(image, "eng", 7, whitelist)
        per_call += time.perf_counter() - start
        per_call_cpu += cpu_seconds() - cpu
        start, cpu = time.perf_counter(), cpu_seconds()
        run_tesseract_batch(images, "eng", 7, whitelist)
        batched += time.perf_counter() - start
        batched_cpu += cpu_seconds() - cpu
        count += len(images)
    print(
        f"\n== tesseract eng digit slices ({count} over {limit} vouchers): "
        f"one process per slice {1000 * per_call / count:.1f} ms/slice wall, "
        f"{1000 * per_call_cpu / count:.1f} ms CPU; one process per voucher "
        f"{1000 * batched / count:.1f} ms/slice wall, {1000 * batched_cpu / count:.1f} ms CPU"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="auto,rapidocr,tesseract")
    parser.add_argument("--show-errors", action="store_true", help="print misread synth values")
    parser.add_argument("--per-call", type=int, default=8, help="vouchers for the per-call test")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    preload_engines()
    print(f"rapidocr recognizer load: {1000 * (time.perf_counter() - start):.0f} ms")
    with tempfile.TemporaryDirectory(prefix="vf_bench_ocr_") as tmp:
        vouchers = load_vouchers(args.n, args.seed, Path(tmp))
    for name in filter(None, args.engines.split(",")):
        bench_engine(vouchers, None if name == "auto" else Engine(name), args.show_errors)
    if args.per_call:
        bench_tesseract_calls(vouchers, args.per_call)
    return 0


if __name__ == "__main__":
    sys.exit(main())
