"""Seal false-accept / false-reject rates on generated colour scans (genuine vs each forgery
kind), time per seal check and per payment-password check.

    python -m bench.verification --accounts 100 --seed 7
"""

import argparse
import io
import random
import time
from datetime import date
from decimal import Decimal

import numpy as np
from PIL import Image

from entry.payment_password import PasswordInputs, check_code
from imaging.seals import SealThresholds, compare_seal
from synth.seal_cases import (
    FORGERY_KINDS,
    SLICE_PX_PER_MM,
    forge_spec,
    make_seal_spec,
    render_specimen,
    seal_slice_sample,
)


def run(accounts: int, seed: int, genuine_per_account: int, th: SealThresholds) -> None:
    verdicts: dict[str, list[str]] = {"genuine": [], **{k: [] for k in FORGERY_KINDS}}
    by_shape: dict[tuple[str, str], list[str]] = {}
    times = []
    for i in range(accounts):
        rng = random.Random(f"bench-verification:{seed}:{i}")
        spec = make_seal_spec(rng)
        specimen = np.asarray(Image.open(io.BytesIO(render_specimen(spec, rng))).convert("RGB"))
        cases = ["genuine"] * genuine_per_account + list(FORGERY_KINDS)
        for kind in cases:
            stamped = spec if kind == "genuine" else forge_spec(spec, kind, rng)
            slice_rgb = seal_slice_sample(stamped, rng)
            t = time.perf_counter()
            result = compare_seal(
                slice_rgb,
                specimen,
                slice_px_per_mm=SLICE_PX_PER_MM,
                specimen_px_per_mm=300 / 25.4,
                thresholds=th,
            )
            times.append(time.perf_counter() - t)
            verdicts[kind].append(result.verdict)
            by_shape.setdefault((kind, spec.kind), []).append(result.verdict)
    gen = verdicts["genuine"]
    forg = [v for k in FORGERY_KINDS for v in verdicts[k]]
    print(f"thresholds: pass >= {th.pass_at}, fail < {th.fail_below}, size ±{th.size_tolerance}")
    print(
        f"genuine {len(gen)}: false reject (fail) {gen.count('fail') / len(gen):.1%}, "
        f"manual {gen.count('manual') / len(gen):.1%}, pass {gen.count('pass') / len(gen):.1%}"
    )
    print(
        f"forgeries {len(forg)}: false accept (pass) {forg.count('pass') / len(forg):.1%}, "
        f"manual {forg.count('manual') / len(forg):.1%}"
    )
    for k in FORGERY_KINDS:
        v = verdicts[k]
        print(
            f"  {k:14s} n={len(v)} false accept {v.count('pass') / len(v):.1%} "
            f"manual {v.count('manual') / len(v):.1%}"
        )
    for (kind, shape), v in sorted(by_shape.items()):
        print(
            f"  [{shape:6s}] {kind:14s} n={len(v)} pass {v.count('pass') / len(v):.1%} "
            f"manual {v.count('manual') / len(v):.1%} fail {v.count('fail') / len(v):.1%}"
        )
    ms = np.array(times) * 1000
    print(f"seal check: mean {ms.mean():.0f} ms, p95 {np.percentile(ms, 95):.0f} ms per check")


def bench_password(n: int = 20000) -> None:
    key = b"k" * 32
    inputs = PasswordInputs("6222020000000007", date(2026, 11, 27), Decimal("1234.50"), "TC1")
    t = time.perf_counter()
    for _ in range(n):
        check_code(key, inputs, "0000000000000000")
    print(f"payment password check: {(time.perf_counter() - t) / n * 1e6:.1f} µs per check")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--genuine", type=int, default=3, help="genuine stamps per account")
    parser.add_argument("--pass-at", type=float, default=SealThresholds.pass_at)
    parser.add_argument("--fail-below", type=float, default=SealThresholds.fail_below)
    args = parser.parse_args()
    th = SealThresholds(pass_at=args.pass_at, fail_below=args.fail_below)
    run(args.accounts, args.seed, args.genuine, th)
    bench_password()


if __name__ == "__main__":
    main()
