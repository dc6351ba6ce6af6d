"""Back to the branch: the teller sees returned vouchers with the reasons, rescans (new image
version through the pipeline, the old image kept) or cancels; other branches see nothing."""

import hashlib
import uuid

from sqlalchemy import select

from storage.authorization_models import VoucherImage
from storage.blobs import make_blob_store
from storage.imaging_models import VoucherField
from storage.models import Voucher
from storage.settings import get_settings
from tests.authorization.conftest import add_rule
from tests.support import db_session, login, scan_bytes


def return_voucher(client, reason: str, comment: str | None) -> str:  # noqa: ANN001
    a1 = login(client, "authorizer1")
    claim = client.get("/api/authorization/next", headers=a1).json()
    r = client.post(
        f"/api/authorization/tasks/{claim['task']['id']}/decision",
        json={
            "decision": "return",
            "reason_code": reason,
            "comment": comment,
            "token": claim["token"],
        },
        headers=a1,
    )
    assert r.json()["voucher_status"] == "returned", r.text
    return claim["voucher"]["id"]


def test_branch_sees_returned_with_reasons_and_rescans(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    vid = entered(serial="WT5000000001")
    blobs = make_blob_store(get_settings())
    with db_session(url) as s:
        voucher = s.get(Voucher, vid)
        old_key = voucher.original_key
        voucher.sha256 = hashlib.sha256(scan_bytes(1)).hexdigest()
        s.commit()
    blobs.put_bytes(old_key, scan_bytes(1), "image/png")
    assert return_voucher(client, "illegible_image", "请重新扫描") == str(vid)
    teller = login(client, "teller1")
    returned = client.get("/api/branch/returned", headers=teller).json()
    assert [(r["voucher_id"], r["reason_code"], r["comment"]) for r in returned] == [
        (str(vid), "illegible_image", "请重新扫描")
    ]
    assert returned[0]["reason"] == "影像不清晰"
    assert client.get("/api/branch/returned", headers=login(client, "teller2")).json() == []
    other = client.post(
        f"/api/branch/vouchers/{vid}/rescan",
        files=[("files", ("r.png", scan_bytes(2), "image/png"))],
        headers=login(client, "teller2"),
    )
    assert other.status_code == 404  # another branch's voucher does not exist for them
    same = client.post(
        f"/api/branch/vouchers/{vid}/rescan",
        files=[("files", ("r.png", scan_bytes(1), "image/png"))],
        headers=teller,
    )
    assert same.status_code == 422 and same.json()["error"]["code"] == "same_image"
    r = client.post(
        f"/api/branch/vouchers/{vid}/rescan",
        files=[("files", ("r.png", scan_bytes(2), "image/png"))],
        headers=teller,
    )
    assert r.status_code == 200, r.text
    assert r.json()["image_version"] == 2
    with db_session(url) as s:
        voucher = s.get(Voucher, vid)
        kept = s.scalar(select(VoucherImage).where(VoucherImage.voucher_id == vid))
        fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)).all()
        assert voucher.image_version == 2 and voucher.original_key != old_key
        assert voucher.status != "returned"  # through the pipeline again (inline job ran)
        assert (kept.version, kept.original_key) == (1, old_key)
        # nothing keyed on the old image survives (the pipeline may have rebuilt the fields)
        assert not any(f.source == "keyed" or f.settled_at for f in fields)
    assert blobs.get_bytes(old_key) == scan_bytes(1)
    events = client.get(f"/api/vouchers/{vid}/events", headers=teller).json()
    rescans = [e for e in events if e["reason"] == "rescanned"]
    assert rescans[0]["details"]["old_original_key"] == old_key
    assert rescans[0]["to_status"] == "processing"


def test_branch_cancels_returned_voucher(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    vid = entered()
    teller = login(client, "teller1")
    early = client.post(f"/api/branch/vouchers/{vid}/cancel", json={}, headers=teller)
    assert early.status_code == 409  # awaiting authorization: not the branch's to withdraw
    return_voucher(client, "wrong_form", None)
    r = client.post(
        f"/api/branch/vouchers/{vid}/cancel", json={"reason": "客户撤回"}, headers=teller
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    with db_session(url) as s:
        assert s.get(Voucher, vid).status == "cancelled"
    again = client.post(f"/api/branch/vouchers/{vid}/rescan", headers=teller)
    assert again.status_code == 409
    assert (
        client.post(
            f"/api/branch/vouchers/{uuid.uuid4()}/cancel", json={}, headers=teller
        ).status_code
        == 404
    )
