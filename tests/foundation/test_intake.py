"""Upload: happy path on PostgreSQL + S3 + Redis + a real rq worker, duplicates, idempotency."""

import hashlib
import uuid

from sqlalchemy import func, select

from storage.blobs import make_blob_store
from storage.models import Voucher, VoucherEvent
from storage.settings import get_settings
from tests.support import db_session, login, scan_bytes, wait_for


def upload(client, headers, *files, extra_headers=None):  # noqa: ANN001, ANN201
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post("/api/vouchers", files=parts, headers={**headers, **(extra_headers or {})})


def test_upload_happy_path_on_services(client, service_env, start_worker):  # noqa: ANN001
    start_worker()
    teller = login(client, "teller1")
    data = scan_bytes(1)
    r = upload(client, teller, ("scan1.png", data))
    assert r.status_code == 201, r.text
    result = r.json()["results"][0]
    assert result["status"] == "accepted"
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    vid = result["voucher_id"]

    def left_intake():  # noqa: ANN202
        body = client.get(f"/api/vouchers/{vid}", headers=teller).json()
        return body if body["status"] not in ("received", "processing") else None

    body = wait_for(left_intake, timeout=90)
    assert [e["to_status"] for e in body["timeline"]][:2] == ["received", "processing"]
    with db_session(service_env["database_url"]) as s:
        voucher = s.get(Voucher, uuid.UUID(vid))
        assert voucher.original_key.startswith("originals/")
        assert "scan1" not in voucher.original_key  # server-made key, never the user's name
        assert voucher.detected_format == "png"
    blobs = make_blob_store(get_settings())
    assert blobs.get_bytes(voucher.original_key) == data
    image = client.get(f"/api/vouchers/{vid}/image", headers=teller)
    assert image.status_code == 200 and image.content == data
    events = client.get(f"/api/vouchers/{vid}/events", headers=teller).json()
    assert events[-1]["kind"] == "viewed_image"


def test_upload_same_bytes_twice_is_duplicate(client):  # noqa: ANN001
    teller = login(client, "teller1")
    data = scan_bytes(2)
    first = upload(client, teller, ("a.png", data)).json()["results"][0]
    second = upload(client, teller, ("b.png", data))
    assert second.status_code == 201
    res = second.json()["results"][0]
    assert res["status"] == "duplicate" and res["duplicate_of"] == first["voucher_id"]
    # the other branch may scan the same paper: that is its own voucher
    other = upload(client, login(client, "teller2"), ("c.png", data)).json()["results"][0]
    assert other["status"] == "accepted"


def test_upload_idempotency_key_replays_first_answer(client, pg_inline_env):  # noqa: ANN001
    teller = login(client, "teller1")
    data = scan_bytes(3)
    key = {"Idempotency-Key": "retry-123"}
    first = upload(client, teller, ("a.png", data), extra_headers=key)
    again = upload(client, teller, ("a.png", data), extra_headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    with db_session(pg_inline_env["database_url"]) as s:
        assert s.scalar(select(func.count()).select_from(Voucher)) == 1
    reused = upload(client, teller, ("b.png", scan_bytes(4)), extra_headers=key)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_upload_many_files_mixed_results(client, pg_inline_env):  # noqa: ANN001
    teller = login(client, "teller1")
    r = upload(client, teller, ("ok.png", scan_bytes(5)), ("bad.jpg", b"not an image at all"))
    assert r.status_code == 201
    statuses = [x["status"] for x in r.json()["results"]]
    assert statuses == ["accepted", "refused"]
    assert r.json()["results"][1]["error"]["code"] == "unsupported_format"


def test_upload_multipage_tiff_accepted(client, pg_inline_env):  # noqa: ANN001
    import io

    from PIL import Image

    pages = [Image.open(io.BytesIO(scan_bytes(10 + i))) for i in range(3)]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    r = upload(client, login(client, "teller1"), ("multi.tif", buf.getvalue()))
    assert r.status_code == 201, r.text
    vid = r.json()["results"][0]["voucher_id"]
    with db_session(pg_inline_env["database_url"]) as s:
        v = s.get(Voucher, uuid.UUID(vid))
        assert (v.detected_format, v.page_count) == ("tiff", 3)
        assert s.scalar(select(func.count()).select_from(VoucherEvent)) >= 1


def test_list_vouchers_is_branch_scoped_and_filtered(client, pg_inline_env):  # noqa: ANN001
    t1, t2 = login(client, "teller1"), login(client, "teller2")
    upload(client, t1, ("a.png", scan_bytes(20)))
    upload(client, t2, ("b.png", scan_bytes(21)))
    mine = client.get("/api/vouchers", headers=t1).json()
    assert mine["total"] == 1
    everything = client.get("/api/vouchers", headers=login(client, "supervisor1")).json()
    assert everything["total"] == 2
    none = client.get("/api/vouchers?status=posted", headers=t1).json()
    assert none["total"] == 0
