"""QR e-voucher payloads: HMAC signing and verification, with recovery of mis-decoded text."""

import hashlib
import hmac
import json
from dataclasses import dataclass, field

DEMO_EVOUCHER_KEY = b"demo-evoucher-key-not-for-production"
PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class EVoucher:
    """A decoded QR payload; `fields` is filled only when `valid` (MAC verified, well formed)."""

    present: bool
    valid: bool
    form: str | None
    serial: str | None
    fields: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


class _DuplicateKeyError(ValueError):
    pass


def _mac_message(obj: dict) -> bytes:
    body = {k: v for k, v in obj.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_mac(obj: dict, key: bytes) -> str:
    """HMAC-SHA256 hex over the canonical JSON of `obj` without its `mac` member."""
    return hmac.new(key, _mac_message(obj), hashlib.sha256).hexdigest()


def sign_payload(payload: dict, key: bytes) -> dict:
    """A copy of `payload` with its `mac` set (any existing `mac` is replaced)."""
    signed = {k: v for k, v in payload.items() if k != "mac"}
    signed["mac"] = compute_mac(signed, key)
    return signed


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        # The MAC covers the re-serialized object, so duplicates could hide what was signed.
        raise _DuplicateKeyError("duplicate key")
    return dict(pairs)


def _text_candidates(data: str | bytes) -> list[str]:
    """The payload text as decoded, then as recovered from common decoder mojibake."""
    if isinstance(data, bytes | bytearray):
        try:
            return [bytes(data).decode("utf-8-sig")]
        except UnicodeDecodeError:
            return []
    candidates = [data]
    # Scanners that ignore the UTF-8 intent decode bytes as ISO-8859-1 or Shift-JIS;
    # re-encoding with that codec gives the original bytes back.
    for codec in ("latin-1", "cp1252", "shift_jis", "cp932"):
        try:
            recovered = data.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if recovered not in candidates:
            candidates.append(recovered)
    return candidates


def _parse(text: str) -> dict | None | str:
    try:
        obj = json.loads(text.lstrip("\ufeff"), object_pairs_hook=_reject_duplicates)
    except _DuplicateKeyError:
        return "duplicate_key"
    except (json.JSONDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else "not_object"


def _mac_ok(obj: dict, key: bytes) -> bool:
    mac = obj.get("mac")
    if not isinstance(mac, str) or not mac.isascii():
        return False
    return hmac.compare_digest(compute_mac(obj, key), mac.lower())


def _well_formed(obj: dict) -> str | None:
    """None when the verified object has the payload shape, else the reason it has not."""
    if obj.get("v") != PAYLOAD_VERSION or isinstance(obj.get("v"), bool):
        return "unsupported_version"
    fields = obj.get("fields")
    if not isinstance(obj.get("form"), str) or not isinstance(obj.get("serial"), str):
        return "bad_structure"
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        return "bad_structure"
    return None


def verify_payload(data: str | bytes | None, key: bytes = DEMO_EVOUCHER_KEY) -> EVoucher:
    """Decode and verify a QR payload; a payload failing its MAC yields no values at all.

    Reasons: `absent`, `not_utf8`, `not_json`, `not_object`, `duplicate_key`, `missing_mac`,
    `mac_mismatch`, `unsupported_version`, `bad_structure`.
    """
    if data is None or len(data) == 0:
        return EVoucher(present=False, valid=False, form=None, serial=None, reason="absent")
    candidates = _text_candidates(data)
    if not candidates:
        return EVoucher(present=True, valid=False, form=None, serial=None, reason="not_utf8")
    reason = "not_json"
    for text in candidates:
        obj = _parse(text)
        if not isinstance(obj, dict):
            if reason == "not_json" and obj is not None:
                reason = obj
            continue
        if "mac" not in obj:
            reason = "missing_mac" if reason in ("not_json", "not_object") else reason
            continue
        if not _mac_ok(obj, key):
            reason = "mac_mismatch"
            continue
        problem = _well_formed(obj)
        if problem:
            return EVoucher(present=True, valid=False, form=None, serial=None, reason=problem)
        return EVoucher(
            present=True,
            valid=True,
            form=obj["form"],
            serial=obj["serial"],
            fields=dict(obj["fields"]),
            reason=None,
        )
    return EVoucher(present=True, valid=False, form=None, serial=None, reason=reason)
