"""E-voucher QR payload: canonical values signed with the demo key, some deliberately tampered."""

import json
import random

from entry.evoucher import DEMO_EVOUCHER_KEY, sign_payload
from synth.fills import FilledValue


def build_qr_payload(
    form: dict, fills: dict[str, FilledValue], serial: str, rng: random.Random, *, valid: bool
) -> dict:
    """The signed payload of canonical values; when not `valid`, its MAC does not verify."""
    payload = {
        "v": 1,
        "form": form["form"],
        "serial": serial,
        "fields": {name: value.canonical for name, value in fills.items()},
    }
    signed = sign_payload(payload, DEMO_EVOUCHER_KEY)
    if valid:
        return signed
    tampered = json.loads(json.dumps(signed, ensure_ascii=False))
    if rng.random() < 0.5 and "amount" in tampered["fields"]:
        # A doctored amount under the original MAC: the tampering a MAC is there to catch.
        tampered["fields"]["amount"] = f"{float(tampered['fields']['amount']) * 10:.2f}"
    else:
        mac = tampered["mac"]
        pos = rng.randrange(len(mac))
        tampered["mac"] = mac[:pos] + ("0" if mac[pos] != "0" else "1") + mac[pos + 1 :]
    return tampered
