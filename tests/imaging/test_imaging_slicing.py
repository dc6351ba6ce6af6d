"""cut_slices: every value cell lies wholly inside its slice (its four rulings are in it)."""

import numpy as np
import pytest

from imaging.slicing import SEAL_KEY, cut_slices
from workers.pipeline import process_scan

PPM = 12.0
MARGIN = 1.0


def _dark_near(profile: np.ndarray, pos: float) -> bool:
    lo, hi = int(pos - 0.6 * PPM), int(pos + 0.6 * PPM) + 1
    return profile[max(lo, 0) : hi].min() < 170


@pytest.mark.parametrize(
    "form", ["transfer_cheque", "deposit_slip", "wire_transfer", "account_opening"]
)
def test_cut_slices_hold_whole_cells(make_scan, layouts, form):
    data, _ = make_scan(form, dpi=230, angle=2.7, bg=160, noise=4, blur=0.5)
    res = process_scan(data, layouts)
    layout = layouts[form]
    slices = cut_slices(res.registered, layout, px_per_mm=PPM, margin_mm=MARGIN)
    assert set(slices) == {f.name for f in layout.fields} | {SEAL_KEY}
    for f in layout.fields:
        s = slices[f.name].astype(float)
        h, w = s.shape
        assert (h, w) == (
            round((f.box[3] + 2 * MARGIN) * PPM),
            round((f.box[2] + 2 * MARGIN) * PPM),
        )
        rows, cols = s[:, w // 5 : -w // 5].mean(axis=1), s[h // 5 : -h // 5].mean(axis=0)
        m = MARGIN * PPM
        assert _dark_near(rows, m) and _dark_near(rows, h - m), f.name
        assert _dark_near(cols, m) and _dark_near(cols, w - m), f.name


def test_process_scan_seal_slice_in_colour(make_scan, layouts):
    data, _ = make_scan("transfer_cheque", angle=-1.0, bg=230)
    res = process_scan(data, layouts)
    seal = res.slices[SEAL_KEY]
    assert seal.ndim == 3
    red = (seal[..., 0].astype(int) - seal[..., 2]) > 80
    assert red.mean() > 0.01  # the renderer's red round stamp
    assert res.slices["amount"].ndim == 2
