"""Command line: python -m synth OUT_DIR -n 20 --seed 1 [--hard] [--clean] [--forms a,b]."""

import argparse
import time
from datetime import date
from pathlib import Path

from synth.fills import DEFAULT_PROCESSING_DATE
from synth.generate import generate_vouchers


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m synth", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hard", action="store_true", help="90/180 turns, stronger damage")
    parser.add_argument("--clean", action="store_true", help="undistorted 300 dpi renders")
    parser.add_argument("--forms", help="comma-separated form names (default: all four)")
    parser.add_argument(
        "--processing-date",
        type=date.fromisoformat,
        default=DEFAULT_PROCESSING_DATE,
        help="dates are drawn relative to this day (YYYY-MM-DD)",
    )
    args = parser.parse_args()
    forms = args.forms.split(",") if args.forms else None
    start = time.perf_counter()
    paths = generate_vouchers(
        args.out_dir,
        n=args.n,
        seed=args.seed,
        hard=args.hard,
        forms=forms,
        clean=args.clean,
        processing_date=args.processing_date,
    )
    elapsed = time.perf_counter() - start
    print(f"wrote {len(paths)} vouchers to {args.out_dir} in {elapsed:.1f}s")


if __name__ == "__main__":
    main()
