"""Generated batches: deterministic per seed, ground truth matching what is in the image."""

import json
import random

import cv2
import numpy as np
import pytest
from pyzbar.pyzbar import ZBarSymbol, decode

from storage.builtin_forms import load_builtin_forms
from synth.fills import make_fills
from synth.generate import generate_vouchers
from synth.layout import mm_box
from synth.render import render_voucher
from synth.scanner import apply_scan_effects, map_point

FORMS = load_builtin_forms()


@pytest.mark.slow
def test_generate_vouchers_same_seed_same_files(tmp_path):
    first = generate_vouchers(tmp_path / "a", n=4, seed=11)
    second = generate_vouchers(tmp_path / "b", n=4, seed=11)
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.with_suffix(".json").read_bytes() == b.with_suffix(".json").read_bytes()


def test_generate_vouchers_other_seed_other_vouchers(tmp_path):
    first = generate_vouchers(tmp_path / "a", n=2, seed=1, clean=True)
    second = generate_vouchers(tmp_path / "b", n=2, seed=2, clean=True)
    assert {p.name for p in first}.isdisjoint({p.name for p in second})


def test_generate_vouchers_ground_truth_shape(tmp_path):
    paths = generate_vouchers(tmp_path, n=8, seed=5, clean=True)
    assert {json.loads(p.with_suffix(".json").read_text())["form"] for p in paths} == set(FORMS)
    for path in paths:
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        form = FORMS[truth["form"]]
        assert set(truth) >= {
            "form",
            "serial",
            "fields",
            "printed",
            "qr",
            "seal",
            "font",
            "dpi",
            "effects",
        }
        assert path.stem == truth["serial"]
        assert truth["serial"].startswith(form["serial"]["prefix"])
        assert len(truth["serial"]) == len(form["serial"]["prefix"]) + form["serial"]["digits"]
        assert set(truth["fields"]) == {f["name"] for f in form["fields"]}
        assert truth["dpi"] == 300 and truth["effects"] == {}
        image = cv2.imread(str(path))
        assert [s.data.decode() for s in decode(image, symbols=[ZBarSymbol.CODE128])] == [
            truth["serial"]
        ]


def test_generate_vouchers_rejects_unknown_form(tmp_path):
    with pytest.raises(ValueError):
        generate_vouchers(tmp_path, n=1, seed=0, forms=["nope"])


@pytest.mark.slow
@pytest.mark.parametrize("hard", [False, True])
def test_apply_scan_effects_barcode_still_decodes(hard):
    for seed in range(16):
        rng = random.Random(seed)
        form = FORMS[sorted(FORMS)[seed % len(FORMS)]]
        serial = f"{form['serial']['prefix']}{rng.randrange(10**10):010d}"
        img = render_voucher(form, make_fills(form, rng), serial=serial, rng=rng)
        scanned, params = apply_scan_effects(img, rng, hard=hard)
        assert 200 <= params["dpi_effective"] <= 300
        assert abs(params["rotation_deg"]) <= 5
        found = [s.data.decode() for s in decode(scanned, symbols=[ZBarSymbol.CODE128])]
        assert found == [serial], params


def test_apply_scan_effects_transform_maps_barcode_where_it_is_found():
    form = FORMS["deposit_slip"]
    turns = set()
    for seed in range(10):
        rng = random.Random(seed)
        serial = f"DS{seed:010d}"
        img = render_voucher(form, make_fills(form, rng), serial=serial, rng=rng)
        scanned, params = apply_scan_effects(img, rng, hard=True)
        turns.add(params["turn_deg"])
        x0, y0, x1, y1 = mm_box(form["barcode"]["box"], 300)
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        quad = np.array([map_point(params["transform"], x, y) for x, y in corners], np.float32)
        (symbol,) = decode(scanned, symbols=[ZBarSymbol.CODE128])
        for point in symbol.polygon:
            # zbar reports where its scan lines crossed the bars: inside the box, give or take.
            assert cv2.pointPolygonTest(quad, (float(point.x), float(point.y)), True) > -4
        w, h = params["size"]
        assert all(0 <= x <= w and 0 <= y <= h for x, y in params["form_corners"])
    assert len(turns) > 1
