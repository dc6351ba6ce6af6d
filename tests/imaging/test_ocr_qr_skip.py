"""Fields a verified QR e-voucher payload gives are not OCR'd; with a bad MAC every field is."""

import json
from pathlib import Path

import pytest

import workers.readings as readings
from cli.read import run_read
from entry.evoucher import DEMO_EVOUCHER_KEY
from storage.builtin_forms import load_builtin_forms
from synth.generate import generate_vouchers
from workers.pipeline import process_scan


@pytest.fixture(scope="module")
def qr_scan(tmp_path_factory) -> Path:
    """A generated scan whose QR payload is present and signed with the demo key."""
    paths = generate_vouchers(tmp_path_factory.mktemp("qr"), n=12, seed=11)
    for path in paths:
        qr = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["qr"]
        if qr["present"] and qr["valid"]:
            return path
    raise AssertionError("seed 11 no longer draws a valid QR voucher")


def _truth(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


@pytest.fixture
def recorded(monkeypatch):
    """ocr_slices replaced by a recorder: which fields were sent to OCR."""
    asked: list[str] = []

    def fake_ocr_slices(requests, engine=None):
        asked.extend(r.key for r in requests)
        return {r.key: readings.OcrReading(r.key, "", 0.0, "none") for r in requests}

    monkeypatch.setattr(readings, "ocr_slices", fake_ocr_slices)
    return asked


def test_verified_qr_fields_are_not_ocrd_and_come_from_the_qr(qr_scan, layouts, recorded):
    truth = _truth(qr_scan)
    forms = load_builtin_forms()
    res = process_scan(
        qr_scan.read_bytes(), layouts, ocr=readings.make_ocr_callback(DEMO_EVOUCHER_KEY)
    )
    qr = readings.verify_qr(res, DEMO_EVOUCHER_KEY)
    assert qr is not None and qr.valid and res.form == truth["form"]
    names = [f["name"] for f in forms[res.form]["fields"]]
    given = {n for n in names if n in qr.fields}
    assert given  # the payload carries field values
    assert set(recorded) == set(names) - given
    fields = readings.field_readings(res, forms[res.form], qr)
    for name in given:
        reading = fields[name]
        assert reading.engine == readings.SKIPPED_FOR_QR
        assert reading.ocr_text is None and reading.ocr_value is None
        assert reading.confidence == 0.0
        assert reading.qr_value == truth["fields"][name]


def test_a_payload_that_fails_its_mac_skips_nothing(qr_scan, layouts, recorded):
    forms = load_builtin_forms()
    res = process_scan(
        qr_scan.read_bytes(), layouts, ocr=readings.make_ocr_callback(b"another-key")
    )
    assert res.qr_payload is not None
    assert set(recorded) == {f["name"] for f in forms[res.form]["fields"]}
    fields = readings.field_readings(res, forms[res.form], readings.verify_qr(res, b"another-key"))
    assert all(r.qr_value is None and r.engine != readings.SKIPPED_FOR_QR for r in fields.values())


def test_skip_can_be_turned_off(qr_scan, layouts, recorded):
    forms = load_builtin_forms()
    callback = readings.make_ocr_callback(DEMO_EVOUCHER_KEY, skip_qr_fields=False)
    res = process_scan(qr_scan.read_bytes(), layouts, ocr=callback)
    assert set(recorded) == {f["name"] for f in forms[res.form]["fields"]}


def test_read_json_names_the_qr_as_the_source(qr_scan):
    truth = _truth(qr_scan)
    [out] = run_read([qr_scan])
    assert out["qr"]["valid"] and out["qr"]["matches_serial"]
    from_qr = {k: v for k, v in out["fields"].items() if v["source"] == "qr"}
    assert from_qr
    for name, field in from_qr.items():
        assert field["value"] == truth["fields"][name] and field["confidence"] == 1.0
    assert all(v["source"] in ("ocr", None) for k, v in out["fields"].items() if k not in from_qr)
