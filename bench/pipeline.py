"""Pipeline benchmark: generated scans through the whole image pipeline with 2 worker processes.

Prints vouchers/s, CPU ms per voucher (and the throughput it implies on a quiet 2-core box,
labelled derived), ms per step, peak RSS per worker process, barcode/form accuracy, per field
type the exact share and the share (and exactness) at high confidence; then the baseline a user
would otherwise run — one full-page `tesseract -l chi_sim+eng` call per image.

Fields whose value a verified QR payload gives are not OCR'd (workers/readings.QR_SKIPS_OCR):
their value comes from the QR. The OCR columns count only the fields that were OCR'd; the
"via QR" column counts the others (and whether their value was right). --ocr-all reads every
field as before the skip (the OCR columns then cover all fields, as in earlier rounds).

    python -m bench.pipeline --n 40 --seed 7 [--hard] [--workers 2] [--baseline 10] [--ocr-all]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from imaging.layout import FormLayout  # noqa: E402
from imaging.ocr import HIGH_CONFIDENCE, preload_engines  # noqa: E402
from storage.builtin_forms import load_builtin_forms  # noqa: E402
from workers.pipeline import process_scan  # noqa: E402
from workers.readings import (  # noqa: E402
    SKIPPED_FOR_QR,
    field_readings,
    make_ocr_callback,
    verify_qr,
)

KEY = b"demo-evoucher-key-not-for-production"
DIGIT_TYPES = frozenset({"account", "amount", "digits", "id_number", "integer", "phone"})
_LAYOUTS: dict = {}
_OCR: list = []


def _init(ocr_all: bool = False) -> None:
    preload_engines()
    forms = load_builtin_forms()
    _LAYOUTS.update({n: FormLayout.from_dict(d) for n, d in forms.items()})
    _OCR[:] = [make_ocr_callback(KEY, skip_qr_fields=not ocr_all)]


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children (tesseract)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_ocr(slices, layout, context):
    """The OCR callback with its own CPU time (this process + tesseract children) recorded."""
    cpu0, child0 = time.process_time(), _children_cpu()
    out = _OCR[0](slices, layout, context)
    _OCR_CPU.append((time.process_time() - cpu0, _children_cpu() - child0))
    return out


_OCR_CPU: list[tuple[float, float]] = []


def _one(path: str) -> dict:
    start = time.perf_counter()
    cpu0, child0 = time.process_time(), _children_cpu()
    _OCR_CPU.clear()
    res = process_scan(Path(path).read_bytes(), _LAYOUTS, ocr=_timed_ocr)
    forms = load_builtin_forms()
    qr = verify_qr(res, KEY)
    readings = field_readings(res, forms[res.form], qr) if res.form in forms else {}
    return {
        "path": path,
        "form": res.form,
        "serial": res.serial,
        "quality_ok": res.quality.ok,
        "timings": res.timings_ms,
        "wall_ms": (time.perf_counter() - start) * 1000,
        # CPU of the whole voucher in this worker, plus the tesseract processes it started.
        "cpu_ms": (time.process_time() - cpu0) * 1000,
        "child_cpu_ms": (_children_cpu() - child0) * 1000,
        "ocr_cpu_ms": sum(c for c, _ in _OCR_CPU) * 1000,
        "ocr_child_cpu_ms": sum(c for _, c in _OCR_CPU) * 1000,
        "qr_present": res.qr_payload is not None,
        "qr_valid": bool(qr and qr.valid),
        "readings": {
            k: {"value": r.ocr_value, "conf": r.confidence, "qr": r.qr_value, "engine": r.engine}
            for k, r in readings.items()
        },
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pid": os.getpid(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--hard", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", type=int, default=10, help="images for the tesseract baseline")
    ap.add_argument(
        "--ocr-all", action="store_true", help="OCR fields a verified QR gives too (no skip)"
    )
    args = ap.parse_args()

    from synth.generate import generate_vouchers

    out = Path(tempfile.mkdtemp(prefix="vf-bench-pipeline-"))
    paths = [str(p) for p in generate_vouchers(out, n=args.n, seed=args.seed, hard=args.hard)]
    forms = load_builtin_forms()
    print(f"{len(paths)} generated vouchers ({'hard' if args.hard else 'normal'}) in {out}")

    with ProcessPoolExecutor(
        max_workers=args.workers, initializer=_init, initargs=(args.ocr_all,)
    ) as pool:
        list(pool.map(_one, paths[: args.workers]))  # warm-up: engines loaded, caches hot
        t0 = time.perf_counter()
        results = list(pool.map(_one, paths))
        elapsed = time.perf_counter() - t0

    walls = [r["wall_ms"] for r in results]
    print(
        f"\nthroughput: {len(results) / elapsed:.2f} vouchers/s with {args.workers} processes "
        f"({elapsed:.1f}s); mean wall per voucher {statistics.mean(walls):.0f} ms"
    )
    cpu = [(r["cpu_ms"] + r["child_cpu_ms"]) / 1000 for r in results]
    ocr_cpu = [r["ocr_cpu_ms"] + r["ocr_child_cpu_ms"] for r in results]
    child = [r["child_cpu_ms"] for r in results]
    mean_cpu = statistics.mean(cpu)
    print(
        f"CPU per voucher (worker + its tesseract children): mean {mean_cpu * 1000:.0f} ms, "
        f"median {statistics.median(cpu) * 1000:.0f} ms; of which OCR "
        f"{statistics.mean(ocr_cpu):.0f} ms (tesseract children {statistics.mean(child):.0f} ms), "
        f"imaging and readings {mean_cpu * 1000 - statistics.mean(ocr_cpu):.0f} ms"
    )
    print(
        f"DERIVED throughput on a quiet machine with {args.workers} cores and {args.workers} "
        f"processes: {args.workers / mean_cpu:.2f} vouchers/s (= {args.workers} / CPU s per "
        f"voucher; not measured)"
    )
    steps = defaultdict(list)
    for r in results:
        for k, v in r["timings"].items():
            steps[k].append(v)
    print("ms per step (median / p95):")
    for k, v in steps.items():
        v.sort()
        print(f"  {k:<10} {statistics.median(v):7.1f} / {v[int(0.95 * (len(v) - 1))]:7.1f}")
    rss = defaultdict(float)
    for r in results:
        rss[r["pid"]] = max(rss[r["pid"]], r["rss_mb"])
    print("peak RSS per worker process: " + ", ".join(f"{v:.0f} MB" for v in rss.values()))

    truths = [json.loads(Path(r["path"]).with_suffix(".json").read_text()) for r in results]
    barcode_ok = sum(r["serial"] == t["serial"] for r, t in zip(results, truths, strict=True))
    form_ok = sum(r["form"] == t["form"] for r, t in zip(results, truths, strict=True))
    qr_truth = [t["qr"]["present"] for t in truths]
    qr_read = sum(r["qr_present"] for r, q in zip(results, qr_truth, strict=True) if q)
    qr_verdict = sum(
        r["qr_valid"] == t["qr"]["valid"]
        for r, t in zip(results, truths, strict=True)
        if t["qr"]["present"] and r["qr_present"]
    )
    n = len(results)
    print(f"\nbarcode serial right: {barcode_ok}/{n} ({100 * barcode_ok / n:.1f}%)")
    print(f"form right:           {form_ok}/{n} ({100 * form_ok / n:.1f}%)")
    print(f"QR read: {qr_read}/{sum(qr_truth)}; MAC verdict right on {qr_verdict} of those read")

    # fields, OCR'd, exact, high, high-exact, via QR, QR value right
    per_type = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])
    delivered = 0  # fields whose value (the QR's where verified, else OCR's) is right
    for r, t in zip(results, truths, strict=True):
        if r["form"] != t["form"]:
            continue
        for f in forms[t["form"]]["fields"]:
            gt = t["fields"].get(f["name"])
            if gt in (None, ""):
                continue
            rd = r["readings"].get(f["name"], {})
            row = per_type[f["type"]]
            row[0] += 1
            if rd.get("qr") is not None:
                row[5] += 1
                row[6] += rd["qr"] == gt
                delivered += rd["qr"] == gt
            else:
                delivered += rd.get("value") == gt
            if rd.get("engine") == SKIPPED_FOR_QR:
                continue  # not OCR'd: the verified QR gives the value
            row[1] += 1
            row[2] += rd.get("value") == gt
            if rd.get("value") is not None and rd.get("conf", 0) >= HIGH_CONFIDENCE:
                row[3] += 1
                row[4] += rd.get("value") == gt
    print(
        f"\nper field type (high confidence = ≥ {HIGH_CONFIDENCE}; exact and at high are shares "
        f"of the fields OCR'd):"
    )
    print(
        f"  {'type':<13}{'fields':>7}{'OCR d':>7}{'exact':>9}{'at high':>9}{'high exact':>12}"
        f"{'via QR':>8}{'QR right':>9}"
    )
    all_high = all_high_exact = 0
    groups = defaultdict(lambda: [0, 0])
    for ftype, (cnt, ocrd, ex, hi, hix, q, qok) in sorted(per_type.items()):
        all_high += hi
        all_high_exact += hix
        group = groups["digit" if ftype in DIGIT_TYPES else "Chinese and other"]
        group[0] += ocrd
        group[1] += ex
        print(
            f"  {ftype:<13}{cnt:>7}{ocrd:>7}{(100 * ex / ocrd if ocrd else 0):>8.1f}%"
            f"{(100 * hi / ocrd if ocrd else 0):>8.1f}%"
            f"{(100 * hix / hi if hi else 0):>11.2f}%{q:>8}{qok:>9}"
        )
    for name, (ocrd, ex) in sorted(groups.items()):
        print(f"  {name} types: {ocrd} OCR'd, {100 * ex / max(1, ocrd):.1f}% exact")
    if all_high:
        print(
            f"  all types: {all_high} high-confidence values, "
            f"{100 * all_high_exact / all_high:.2f}% exact"
        )
    fields_n = sum(row[0] for row in per_type.values())
    print(
        f"  values delivered right (QR where verified, else OCR): {delivered}/{fields_n} "
        f"({100 * delivered / max(1, fields_n):.1f}%)"
    )

    base = paths[: args.baseline]
    t0 = time.perf_counter()
    base_child0 = _children_cpu()
    found = total = 0
    for p, t in zip(base, truths, strict=False):
        text = subprocess.run(
            ["tesseract", p, "stdout", "-l", "chi_sim+eng"], capture_output=True, text=True
        ).stdout.replace(" ", "")
        for value in t["printed"].values():
            total += 1
            found += str(value).replace(" ", "") in text
    per_image = (time.perf_counter() - t0) / max(1, len(base))
    per_image_cpu = (_children_cpu() - base_child0) / max(1, len(base))
    ours = elapsed / n * args.workers  # seconds of one process per voucher
    print(
        f"\nbaseline: one full-page tesseract (chi_sim+eng) per image: {per_image * 1000:.0f} ms "
        f"per image, one process; printed values found verbatim in its text: "
        f"{100 * found / max(1, total):.1f}%"
    )
    print(
        f"pipeline: {ours * 1000:.0f} ms per voucher per process → {per_image / ours:.1f}× "
        f"the baseline's speed (wall clock), with fields located, typed and checked"
    )
    print(
        f"CPU: baseline {per_image_cpu * 1000:.0f} ms per image, pipeline "
        f"{mean_cpu * 1000:.0f} ms per voucher → {per_image_cpu / mean_cpu:.1f}× (CPU-derived)"
    )


if __name__ == "__main__":
    sys.exit(main())
