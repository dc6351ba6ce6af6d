"""process_scan end to end on synth-generated vouchers (normal and hard) and hostile bytes."""

import json
from pathlib import Path

import pytest

from cli.read import run_read
from imaging.errors import ImageError
from synth.generate import generate_vouchers
from workers.pipeline import process_scan


@pytest.fixture(scope="module")
def synth_sets(tmp_path_factory):
    out = {}
    for hard in (False, True):
        d = tmp_path_factory.mktemp("hard" if hard else "normal")
        out[hard] = generate_vouchers(d, n=12, seed=11 + hard, hard=hard)
    return out


def _truth(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("hard", [False, True])
def test_process_scan_synth_form_serial_and_qr(synth_sets, layouts, hard):
    for path in synth_sets[hard]:
        truth = _truth(path)
        res = process_scan(path.read_bytes(), layouts)
        assert (res.form, res.serial) == (truth["form"], truth["serial"]), path.name
        assert res.classification_method == "barcode"
        assert set(res.slices) == {f.name for f in layouts[res.form].fields} | {"__seal__"}
        assert res.residual_mm is not None and res.residual_mm < 0.2, path.name
        if truth["qr"]["present"]:
            assert json.loads(res.qr_payload.decode("utf-8"))["serial"] == truth["serial"]
        assert {"decode", "find_form", "quality", "codes", "register", "slice"} <= set(
            res.timings_ms
        )


def test_process_scan_calls_ocr_with_slices(synth_sets, layouts):
    seen = {}

    def fake_ocr(slices, layout, context):
        seen["context"] = context
        seen["keys"] = set(slices)
        return {"form": layout.name}

    path = synth_sets[False][0]
    res = process_scan(path.read_bytes(), layouts, ocr=fake_ocr)
    assert res.ocr == {"form": res.form}
    assert "__seal__" in seen["keys"]
    assert (seen["context"].form, seen["context"].serial) == (res.form, res.serial)
    assert seen["context"].qr_payload == res.qr_payload


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"not an image at all", "unsupported_format"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "corrupt_image"),
    ],
)
def test_process_scan_hostile_bytes_raise_image_error(layouts, data, code):
    with pytest.raises(ImageError) as exc:
        process_scan(data, layouts)
    assert exc.value.code == code


def test_run_read_reports_form_and_errors(synth_sets, tmp_path):
    bad = tmp_path / "scan.jpg"
    bad.write_text("plain text pretending to be a JPEG")
    good = synth_sets[False][1]
    out = run_read([good, bad])
    assert out[1] == {"file": str(bad), "error": "unsupported_format"}
    assert out[0]["serial"] == _truth(good)["serial"]
    assert set(out[0]["fields"]) == {f["name"] for f in _fields_of(out[0]["form"])}
    assert out[0]["qr"]["present"] == _truth(good)["qr"]["present"]


def _fields_of(form):
    from storage.builtin_forms import load_builtin_forms

    return load_builtin_forms()[form]["fields"]


@pytest.mark.parametrize("hard", [False, True])
def test_serial_band_first_reads_what_the_whole_frame_pass_reads(
    synth_sets, layouts, hard, monkeypatch
):
    import numpy as np

    import workers.pipeline as pipeline

    for path in synth_sets[hard]:
        data = path.read_bytes()
        monkeypatch.setattr(pipeline, "SERIAL_BAND_FIRST", False)
        whole = process_scan(data, layouts)
        monkeypatch.setattr(pipeline, "SERIAL_BAND_FIRST", True)
        band = process_scan(data, layouts)
        assert (band.form, band.serial, band.qr_payload) == (
            whole.form,
            whole.serial,
            whole.qr_payload,
        ), path.name
        assert {(c.symbology, c.raw) for c in band.codes} == {
            (c.symbology, c.raw) for c in whole.codes
        }, path.name
        assert band.homography == whole.homography
        assert np.array_equal(band.registered, whole.registered)


@pytest.mark.parametrize("turn", [0, 2])
def test_serial_band_first_reads_the_qr_box_and_falls_back_when_turned(make_scan, layouts, turn):
    payload = b'{"form":"wire_transfer","serial":"WT0000012345","v":1}'
    data, truth = make_scan("wire_transfer", qr_payload=payload, turn=turn, angle=1.5)
    res = process_scan(data, layouts)
    assert (res.form, res.serial) == ("wire_transfer", truth["serial"])
    assert res.qr_payload == payload
