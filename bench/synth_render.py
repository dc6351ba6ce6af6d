"""Print how long the synthetic voucher generator takes per render and per scanned voucher.

Wall time depends on machine load; the CPU figure is the one to compare across runs.
"""

import random
import statistics
import time

from storage.builtin_forms import load_builtin_forms
from synth.evoucher_qr import build_qr_payload
from synth.fills import make_fills
from synth.render import render_voucher
from synth.scanner import apply_scan_effects

ROUNDS = 10


def main() -> None:
    forms = load_builtin_forms()
    for name, form in sorted(forms.items()):
        fills_t, render_t, render_cpu, scan_t = [], [], [], []
        for seed in range(ROUNDS):
            rng = random.Random(seed)
            serial = f"{form['serial']['prefix']}{seed:010d}"
            start = time.perf_counter()
            fills = make_fills(form, rng)
            qr = build_qr_payload(form, fills, serial, rng, valid=True) if form["qr"] else None
            fills_t.append(time.perf_counter() - start)
            start, cpu = time.perf_counter(), time.process_time()
            img = render_voucher(form, fills, serial=serial, qr_payload=qr, rng=rng)
            render_t.append(time.perf_counter() - start)
            render_cpu.append(time.process_time() - cpu)
            start = time.perf_counter()
            apply_scan_effects(img, rng, hard=seed % 2 == 1)
            scan_t.append(time.perf_counter() - start)
        print(
            f"{name:16s} fills {statistics.median(fills_t) * 1000:6.1f} ms  "
            f"render median {statistics.median(render_t) * 1000:6.1f} ms "
            f"max {max(render_t) * 1000:6.1f} ms "
            f"(cpu median {statistics.median(render_cpu) * 1000:6.1f} ms)  "
            f"scan effects median {statistics.median(scan_t) * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
