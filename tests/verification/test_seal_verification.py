"""Seal verdicts on generated stamps: genuine, each forgery kind, grey scans, no stamp."""

import io
import random

import numpy as np
import pytest
from PIL import Image

from imaging.seals import compare_seal, is_grayscale
from synth.seal_cases import (
    SLICE_PX_PER_MM,
    SealSpec,
    forge_spec,
    render_specimen,
    seal_slice_sample,
)

SPECIMEN_PPM = 300 / 25.4
SQUARE = SealSpec("square", "林陶", "", 14.0)
ROUND = SealSpec("round", "上海浦江贸易有限公司", "财务专用章", 19.0)


def specimen_of(spec: SealSpec, seed: int) -> np.ndarray:
    data = render_specimen(spec, random.Random(seed))
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def compare(slice_rgb: np.ndarray, specimen: np.ndarray):  # noqa: ANN201
    return compare_seal(
        slice_rgb, specimen, slice_px_per_mm=SLICE_PX_PER_MM, specimen_px_per_mm=SPECIMEN_PPM
    )


def test_seal_genuine_square_passes_with_overlay() -> None:
    specimen = specimen_of(SQUARE, 1)
    passed = 0
    for seed in range(4):
        result = compare(seal_slice_sample(SQUARE, random.Random(100 + seed)), specimen)
        assert result.verdict != "fail"
        passed += result.verdict == "pass"
        assert result.overlay is not None and result.overlay.ndim == 3
    assert passed >= 3


def test_seal_genuine_round_is_not_failed() -> None:
    specimen = specimen_of(ROUND, 2)
    verdicts = [
        compare(seal_slice_sample(ROUND, random.Random(200 + s)), specimen).verdict
        for s in range(4)
    ]
    assert verdicts.count("fail") <= 1


@pytest.mark.parametrize("kind", ["changed_shape", "other_account"])
def test_seal_forgery_is_not_passed(kind: str) -> None:
    for base in (SQUARE, ROUND):
        specimen = specimen_of(base, 3)
        for seed in range(3):
            rng = random.Random(f"{kind}:{seed}")
            forged = forge_spec(base, kind, rng)
            assert compare(seal_slice_sample(forged, rng), specimen).verdict != "pass"


def test_seal_changed_text_square_fails() -> None:
    specimen = specimen_of(SQUARE, 4)
    for seed in range(3):
        rng = random.Random(f"text:{seed}")
        forged = forge_spec(SQUARE, "changed_text", rng)
        assert compare(seal_slice_sample(forged, rng), specimen).verdict == "fail"


def test_seal_grayscale_scan_is_manual() -> None:
    slice_rgb = seal_slice_sample(SQUARE, random.Random(5), grayscale=True)
    assert is_grayscale(slice_rgb)
    result = compare(slice_rgb, specimen_of(SQUARE, 5))
    assert (result.verdict, result.reason) == ("manual", "grayscale_scan")


def test_seal_missing_stamp_fails() -> None:
    blank = np.full((288, 564, 3), 250, np.uint8)
    blank[200:210, :, 0] = 255  # a little colour so it is not a grey scan
    blank[200:210, :, 1:] = 120
    result = compare(blank, specimen_of(SQUARE, 6))
    assert result.verdict in ("fail", "manual")
