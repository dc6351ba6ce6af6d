"""Fixtures for imaging tests: the built-in layouts and scans drawn by an independent renderer."""

import numpy as np
import pytest

from imaging.layout import FormLayout
from storage.builtin_forms import load_builtin_forms
from tests.imaging.scan_render import encode, render_form, scan


@pytest.fixture(scope="session")
def layouts() -> dict[str, FormLayout]:
    return {k: FormLayout.from_dict(v) for k, v in load_builtin_forms().items()}


@pytest.fixture(scope="session")
def make_scan(layouts):
    """make_scan(form, dpi=, angle=, ..., turn=, cut=) -> (jpeg bytes, truth dict)."""

    def _make(
        form="deposit_slip",
        *,
        serial=None,
        dpi=300,
        qr_payload=None,
        post=None,
        barcode=True,
        jpeg=90,
        turn=0,
        cut=None,
        **effects,
    ):
        lay = layouts[form]
        serial = serial or f"{lay.serial_prefix}0000012345"
        canvas, pad = render_form(lay, serial, dpi=dpi, qr_payload=qr_payload)
        ppm = dpi / 25.4
        if not barcode:
            x, y, w, h = lay.barcode_box
            canvas[
                round(pad + y * ppm) : round(pad + (y + h) * ppm),
                round(pad + x * ppm) : round(pad + (x + w) * ppm),
            ] = 250
        img, m = scan(canvas, pad, **effects)
        if post is not None:
            img = post(img)
        w, h = lay.size_mm
        corners = (
            np.array(
                [[pad + x * ppm, pad + y * ppm, 1.0] for x, y in [(0, 0), (w, 0), (w, h), (0, h)]]
            )
            @ m.T
        )
        truth = {"form": form, "serial": serial, "corners": corners, "ppm": ppm, "image": img}
        return encode(img, jpeg=jpeg, turn=turn, cut=cut), truth

    return _make
