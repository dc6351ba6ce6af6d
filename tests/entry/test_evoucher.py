import json

import pytest

from entry.evoucher import DEMO_EVOUCHER_KEY, EVoucher, sign_payload, verify_payload

FIELDS = {"payer_name": "李四", "amount": "12345.67", "amount_words": "12345.67"}
PAYLOAD = {"v": 1, "form": "deposit_slip", "serial": "DS0000012345", "fields": FIELDS}


def signed_text(payload=PAYLOAD, key=DEMO_EVOUCHER_KEY) -> str:
    return json.dumps(sign_payload(payload, key), ensure_ascii=False)


def test_sign_payload_adds_mac_over_canonical_json():
    import hashlib
    import hmac

    signed = sign_payload(PAYLOAD, DEMO_EVOUCHER_KEY)
    assert set(signed) == set(PAYLOAD) | {"mac"}
    assert "mac" not in PAYLOAD
    body = json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hmac.new(DEMO_EVOUCHER_KEY, body.encode("utf-8"), hashlib.sha256).hexdigest()
    assert signed["mac"] == expected
    assert sign_payload(signed, DEMO_EVOUCHER_KEY) == signed


def test_verify_payload_valid_text_and_bytes():
    for data in (signed_text(), signed_text().encode("utf-8")):
        ev = verify_payload(data, DEMO_EVOUCHER_KEY)
        assert ev == EVoucher(True, True, "deposit_slip", "DS0000012345", FIELDS, None)


def test_verify_payload_default_key_is_demo_key():
    assert verify_payload(signed_text()).valid


def test_verify_payload_compact_serialization_and_bom():
    compact = json.dumps(
        sign_payload(PAYLOAD, DEMO_EVOUCHER_KEY), separators=(",", ":"), ensure_ascii=True
    )
    assert verify_payload(compact).valid
    assert verify_payload(b"\xef\xbb\xbf" + compact.encode()).valid


def test_verify_payload_recovers_latin1_mojibake():
    mojibake = signed_text().encode("utf-8").decode("latin-1")
    ev = verify_payload(mojibake, DEMO_EVOUCHER_KEY)
    assert ev.valid and ev.fields == FIELDS


def test_verify_payload_recovers_shift_jis_mojibake():
    raw = signed_text().encode("utf-8")
    mojibake = raw.decode("shift_jis")  # these particular bytes happen to be valid Shift-JIS
    assert mojibake != signed_text()
    ev = verify_payload(mojibake, DEMO_EVOUCHER_KEY)
    assert ev.valid and ev.fields == FIELDS


def test_verify_payload_tampered_value_gives_no_values():
    tampered = signed_text().replace("12345.67", "92345.67")
    ev = verify_payload(tampered, DEMO_EVOUCHER_KEY)
    assert ev == EVoucher(True, False, None, None, {}, "mac_mismatch")


def test_verify_payload_wrong_key():
    ev = verify_payload(signed_text(key=b"another-key"), DEMO_EVOUCHER_KEY)
    assert not ev.valid and ev.fields == {} and ev.reason == "mac_mismatch"


def test_verify_payload_mac_stripped_or_forged():
    obj = sign_payload(PAYLOAD, DEMO_EVOUCHER_KEY)
    del obj["mac"]
    assert verify_payload(json.dumps(obj)).reason == "missing_mac"
    for forged in ("0" * 64, "", "ä" * 64, 12):
        obj["mac"] = forged
        ev = verify_payload(json.dumps(obj))
        assert (ev.valid, ev.fields, ev.reason) == (False, {}, "mac_mismatch")


@pytest.mark.parametrize(
    ("data", "reason"),
    [("not json at all", "not_json"), ("{", "not_json"), (b"\xff\xfe\x00", "not_utf8"),
     ("[1,2]", "not_object"), ('{"mac":"a","mac":"b"}', "duplicate_key")],
)  # fmt: skip
def test_verify_payload_garbage(data, reason):
    ev = verify_payload(data, DEMO_EVOUCHER_KEY)
    assert ev.present and not ev.valid and ev.fields == {} and ev.reason == reason


@pytest.mark.parametrize("data", [None, "", b""])
def test_verify_payload_absent(data):
    ev = verify_payload(data, DEMO_EVOUCHER_KEY)
    assert not ev.present and not ev.valid and ev.reason == "absent"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [({**PAYLOAD, "v": 2}, "unsupported_version"), ({**PAYLOAD, "v": True}, "unsupported_version"),
     ({**PAYLOAD, "fields": {"amount": 12}}, "bad_structure"),
     ({**PAYLOAD, "fields": ["x"]}, "bad_structure"),
     ({**PAYLOAD, "serial": None}, "bad_structure")],
)  # fmt: skip
def test_verify_payload_signed_but_malformed(payload, reason):
    ev = verify_payload(signed_text(payload), DEMO_EVOUCHER_KEY)
    assert (ev.valid, ev.fields, ev.reason) == (False, {}, reason)
