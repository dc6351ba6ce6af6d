"""The imaging job end to end: upload a generated scan, the pipeline runs, results are stored."""

import io
import json
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from storage.blobs import make_blob_store
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus
from storage.models import Voucher
from storage.settings import get_settings
from synth.generate import generate_vouchers
from tests.support import db_session, login, wait_for
from workers.tasks import process_voucher


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> list[Path]:  # noqa: ANN001
    return generate_vouchers(tmp_path_factory.mktemp("scans"), n=4, seed=11)


def truth(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def upload(client, path: Path, data: bytes | None = None) -> str:  # noqa: ANN001
    r = client.post(
        "/api/vouchers",
        files=[("files", (path.name, data or path.read_bytes(), "image/jpeg"))],
        headers=login(client, "teller1"),
    )
    assert r.status_code == 201, r.text
    return r.json()["results"][0]["voucher_id"]


def load(url: str, vid: str) -> tuple[Voucher, list[VoucherField]]:
    with db_session(url) as s:
        voucher = s.get(Voucher, uuid.UUID(vid))
        fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == voucher.id)).all()
        return voucher, list(fields)


def test_imaging_job_classifies_slices_and_reads(client, pg_inline_env, scans) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    blobs = make_blob_store(get_settings())
    exact = total = 0
    for path in scans:
        gt = truth(path)
        voucher, fields = load(url, upload(client, path))
        assert voucher.status == VoucherStatus.AWAITING_ENTRY, voucher.status_reason
        assert (voucher.form, voucher.serial) == (gt["form"], gt["serial"])
        assert voucher.classification == "barcode"
        assert {f.name for f in fields} == set(gt["fields"])
        for f in fields:
            assert blobs.exists(f.slice_key)
            if f.ocr_value is not None:
                total += 1
                exact += f.ocr_value == gt["fields"][f.name]
            if gt["qr"]["present"] and gt["qr"]["valid"] and f.qr_value is not None:
                assert f.qr_value == gt["fields"][f.name]
        assert voucher.seal_key and blobs.exists(voucher.seal_key)
        registered = client.get(
            f"/api/vouchers/{voucher.id}/registered-image", headers=login(client, "supervisor1")
        )
        assert registered.status_code == 200 and registered.content[:3] == b"\xff\xd8\xff"
    assert total > 0 and exact / total > 0.8  # OCR accuracy is measured by bench/pipeline.py


def test_imaging_job_again_replaces_results(client, pg_inline_env, scans) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = upload(client, scans[0])
    _, before = load(url, vid)
    with db_session(url) as s:  # as if a crash had left it mid-way: run the job again
        v = s.get(Voucher, uuid.UUID(vid))
        v.status = VoucherStatus.PROCESSING
        s.commit()
    assert process_voucher(vid) == VoucherStatus.AWAITING_ENTRY
    _, after = load(url, vid)
    assert len(after) == len(before)
    assert process_voucher(vid) == "already_done"


def test_imaging_job_hashes_the_registered_image_for_the_duplicate_check(
    client, pg_inline_env, scans
) -> None:  # noqa: ANN001
    """The near-duplicate check's dHash is the imaging job's, of the registered image: the end
    of entry reads it instead of fetching and decoding the image again; a re-run replaces it."""
    from storage.verification_models import VoucherImageHash
    from verification.image_hash import bands, dhash_hex
    from verification.risk import ensure_image_hash

    url = pg_inline_env["database_url"]
    blobs = make_blob_store(get_settings())
    vid = upload(client, scans[2])
    with db_session(url) as s:
        voucher = s.get(Voucher, uuid.UUID(vid))
        row = s.get(VoucherImageHash, voucher.id)
        assert voucher.registered_key and row is not None
        assert row.dhash == dhash_hex(blobs.get_bytes(voucher.registered_key))
        assert (row.band0, row.band1, row.band2, row.band3, row.band4) == bands(row.dhash)
        row.dhash, row.band0 = "0" * 16, 0  # then a re-run of the job must put it right
        voucher.status = VoucherStatus.PROCESSING
        s.commit()
    assert process_voucher(vid) == VoucherStatus.AWAITING_ENTRY
    with db_session(url) as s:
        voucher = s.get(Voucher, uuid.UUID(vid))
        expected = dhash_hex(blobs.get_bytes(voucher.registered_key))
        assert s.get(VoucherImageHash, voucher.id).dhash == expected

        def no_fetch(_key: str) -> bytes:
            raise AssertionError("the hash is stored: no image read")

        blobs.get_bytes = no_fetch
        assert ensure_image_hash(s, voucher, blobs) == expected


def test_imaging_job_blurred_scan_returned_for_rescan(client, pg_inline_env, scans) -> None:  # noqa: ANN001
    img = cv2.imread(str(scans[1]))
    blurred = cv2.GaussianBlur(img, (0, 0), 5)
    ok, buf = cv2.imencode(".jpg", blurred)
    voucher, fields = load(pg_inline_env["database_url"], upload(client, scans[1], buf.tobytes()))
    assert voucher.status == VoucherStatus.RETURNED
    assert "blurred" in voucher.quality_reasons
    assert fields == []


def test_imaging_job_plain_page_goes_back_or_unclassified(client, pg_inline_env) -> None:  # noqa: ANN001
    from PIL import Image

    page = Image.fromarray(np.full((1200, 1700), 250, np.uint8))
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    voucher, _ = load(
        pg_inline_env["database_url"], upload(client, Path("blank.png"), buf.getvalue())
    )
    assert voucher.status in (VoucherStatus.RETURNED, VoucherStatus.UNCLASSIFIED)
    assert voucher.status_reason
    missing = client.get(
        f"/api/vouchers/{voucher.id}/registered-image", headers=login(client, "teller1")
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "no_registered_image"


def test_imaging_job_on_services_with_rq_worker(client, service_env, start_worker, scans) -> None:  # noqa: ANN001
    start_worker()
    url = service_env["database_url"]
    vid = upload(client, scans[2])
    wait_for(
        lambda: (
            load(url, vid)[0].status != VoucherStatus.RECEIVED
            and load(url, vid)[0].status != VoucherStatus.PROCESSING
        ),
        timeout=120,
    )
    voucher, fields = load(url, vid)
    assert voucher.status == VoucherStatus.AWAITING_ENTRY
    assert voucher.serial == truth(scans[2])["serial"]
    with db_session(url) as s:
        assert s.scalar(select(func.count()).select_from(VoucherField)) == len(fields) > 0
