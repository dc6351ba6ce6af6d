"""Offline Monte Carlo of the keying rules (no database, no HTTP): residual error and human
keys per field for many fields, using the same keyer model and comparison as the real run.

OCR is SIMULATED. Run: python -m bench.entry_offline --fields 1000000 --error-rate 0.02
"""

import argparse
import random
from collections import Counter
from datetime import date

from bench.entry_keyers import SimKeyer, keyed_form, trap_value
from entry.comparison import Action, Ballot, ballot_token, judge, token_value
from entry.field_spec import FieldSpec
from entry.fieldtypes import validate_keyed
from entry.routing import OCR_TRUSTED_TYPES
from storage.builtin_forms import load_builtin_forms
from synth.fills import make_fills


def key_once(keyer: SimKeyer, spec: FieldSpec, truth: str, key: str) -> str:
    """One human key as the API would record it (a refused value is re-keyed right)."""
    typed, _ = keyer.read(truth, spec.type, key, list(spec.choices))
    result = validate_keyed(spec, typed)
    if not result.ok or result.warning_code:
        typed = keyed_form(truth, spec.type)  # validation caught it; the keyer looks again
        result = validate_keyed(spec, typed)
    return ballot_token(result.value, None)


def run(n_fields: int, p: float, correlated: float, qr_share: float, seed: int) -> None:
    rng = random.Random(seed)
    forms = [f for name, f in load_builtin_forms().items() if name != "account_opening"]
    keyers = [SimKeyer(seed * 100 + i, p, correlated) for i in range(50)]
    fields = wrong = human = arbitrated = 0
    how: Counter[str] = Counter()  # how the wrong fields settled
    ocr_ok, ocr_bad = 0.92, 0.003
    while fields < n_fields:
        form = rng.choice(forms)
        fills = make_fills(form, rng, processing_date=date.today())
        with_qr = bool(form.get("qr")) and rng.random() < qr_share
        for d in form["fields"]:
            spec = FieldSpec.from_dict(d)
            truth = fills[spec.name].canonical
            key = f"{fields}:{spec.name}"
            fields += 1
            if with_qr:
                continue  # a verified QR value is the truth
            ballots: list[Ballot] = []
            needed = 2
            if spec.type in OCR_TRUSTED_TYPES and truth:
                roll = rng.random()
                if roll < ocr_ok:
                    ballots.append(Ballot(None, "v:" + truth))
                    needed = 1
                elif roll < ocr_ok + ocr_bad:
                    trap = trap_value(truth, spec.type, key, list(spec.choices)) or truth
                    ballots.append(Ballot(None, "v:" + trap))
                    needed = 1
            crew = rng.sample(keyers, 3)
            verdict = None
            for i, keyer in enumerate(crew):
                ballots.append(Ballot(i, key_once(keyer, spec, truth, key)))
                human += 1
                verdict = judge(ballots, humans_needed=needed)
                if verdict.action in (Action.SETTLE, Action.ARBITRATE):
                    break
            if verdict.action == Action.ARBITRATE:
                arbitrated += 1
                continue  # the arbiter sees the slice: settles the truth
            if (token_value(verdict.token) or "") != truth:
                wrong += 1
                ocr = "OCR trap + " if ballots[0].key_id is None else ""
                how[f"{ocr}{len(ballots) - bool(ocr)} human keys"] += 1
    print("Offline keying simulation — OCR SIMULATED, no DB/HTTP (rules: entry.comparison)")
    print(f"  fields {fields}, p={p}, correlated share {correlated}, QR share {qr_share}")
    print(f"  residual errors {wrong}  ({10_000 * wrong / fields:.3f} per 10,000 fields)")
    print(f"  settled wrong by: {', '.join(f'{k} {n}' for k, n in how.most_common())}")
    print(f"  human keys per field {human / fields:.3f}, arbitrated {arbitrated}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fields", type=int, default=200_000)
    ap.add_argument("--error-rate", type=float, default=0.02)
    ap.add_argument("--correlated", type=float, default=0.3)
    ap.add_argument("--qr-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    run(a.fields, a.error_rate, a.correlated, a.qr_share, a.seed)


if __name__ == "__main__":
    main()
