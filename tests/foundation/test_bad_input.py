"""Bad input gets a clear 4xx JSON error with a machine-readable code, and leaves nothing behind."""

import io
import zlib

import pytest
from sqlalchemy import func, select

from storage.models import Voucher, VoucherEvent
from tests.support import db_session, login, scan_bytes


def huge_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header for a 900-megapixel grey image, tiny on disk (all-zero rows)."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(raw.compress(row) for _ in range(200)) + raw.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(scan_bytes(7))).convert("RGB").save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    return data[: len(data) // 2]


def assert_nothing_stored(env: dict) -> None:
    from pathlib import Path

    with db_session(env["database_url"]) as s:
        assert s.scalar(select(func.count()).select_from(Voucher)) == 0
        assert s.scalar(select(func.count()).select_from(VoucherEvent)) == 0
    blob_dir = Path(env["data_dir"]) / "blobs"
    assert not blob_dir.exists() or not [p for p in blob_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("name", "payload", "status", "code"),
    [
        ("empty.jpg", b"", 422, "empty_file"),
        ("truncated.jpg", truncated_jpeg(), 422, "corrupt_image"),
        ("notes.jpg", "这不是图片 just text\n".encode() * 50, 422, "unsupported_format"),
        ("bomb.png", huge_png(), 422, "too_many_pixels"),
    ],
)
def test_upload_bad_file_refused_and_nothing_stored(
    client, pg_inline_env, name, payload, status, code
):  # noqa: ANN001, E501
    r = client.post(
        "/api/vouchers",
        files=[("files", (name, payload, "image/jpeg"))],
        headers=login(client, "teller1"),
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["results"][0]["status"] == "refused"
    assert_nothing_stored(pg_inline_env)


def test_upload_over_byte_cap_refused(client, pg_inline_env, monkeypatch):  # noqa: ANN001
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"max_upload_bytes": 50_000}
    )
    big = scan_bytes(8, size=(3000, 2000), fmt="BMP")  # BMP: large on disk
    r = client.post(
        "/api/vouchers",
        files=[("files", ("big.png", big, "image/png"))],
        headers=login(client, "teller1"),
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "file_too_large"
    assert_nothing_stored(pg_inline_env)


def test_upload_by_keyer_forbidden(client, pg_inline_env):  # noqa: ANN001
    r = client.post(
        "/api/vouchers",
        files=[("files", ("a.png", scan_bytes(9), "image/png"))],
        headers=login(client, "keyer1"),
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "role_forbidden"
    assert_nothing_stored(pg_inline_env)


def test_upload_without_token_unauthorized(client, pg_inline_env):  # noqa: ANN001
    r = client.post("/api/vouchers", files=[("files", ("a.png", scan_bytes(9), "image/png"))])
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"
    assert_nothing_stored(pg_inline_env)


def test_revoked_token_refused_on_next_request(client, pg_inline_env):  # noqa: ANN001
    headers = login(client, "teller1")
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    r = client.post(
        "/api/vouchers", files=[("files", ("a.png", scan_bytes(9), "image/png"))], headers=headers
    )  # noqa: E501
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    assert_nothing_stored(pg_inline_env)


def test_deactivated_user_refused_on_next_request(client, pg_inline_env):  # noqa: ANN001
    from storage.models import User

    headers = login(client, "teller1")
    with db_session(pg_inline_env["database_url"]) as s:
        s.scalars(select(User).where(User.username == "teller1")).one().active = False
        s.commit()
    r = client.get("/api/vouchers", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "user_inactive"


@pytest.mark.parametrize("case", ["garbage", "revoked", "expired", "inactive", "wrong_role"])
def test_a_keyer_endpoint_refuses_a_dead_token_or_a_wrong_role(client, pg_inline_env, case):  # noqa: ANN001
    """The keying endpoints authenticate through api.sessions.resolve_caller (on PostgreSQL the
    user as a plain row read on the driver, the session row as two columns): every refusal
    resolve_token gives, they give."""
    from datetime import timedelta

    from sqlalchemy import update

    from storage.models import AuthSession, User, utcnow

    user = "teller1" if case == "wrong_role" else "keyer1"
    headers = login(client, user)
    with db_session(pg_inline_env["database_url"]) as s:
        if case == "revoked":
            s.execute(update(AuthSession).values(revoked_at=utcnow()))
        elif case == "expired":
            s.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        elif case == "inactive":
            s.execute(update(User).where(User.username == user).values(active=False))
        s.commit()
    if case == "garbage":
        headers = {"Authorization": "Bearer not-a-token"}
    r = client.get("/api/entry/next", headers=headers)
    expected = {
        "garbage": (401, "invalid_token"),
        "revoked": (401, "token_revoked"),
        "expired": (401, "token_expired"),
        "inactive": (401, "user_inactive"),
        "wrong_role": (403, "role_forbidden"),
    }[case]
    assert (r.status_code, r.json()["error"]["code"]) == expected


def test_teller_cannot_read_other_branch_voucher(client, pg_inline_env):  # noqa: ANN001
    t2 = login(client, "teller2")
    r = client.post(
        "/api/vouchers", files=[("files", ("a.png", scan_bytes(11), "image/png"))], headers=t2
    )  # noqa: E501
    vid = r.json()["results"][0]["voucher_id"]
    t1 = login(client, "teller1")
    for path in (
        f"/api/vouchers/{vid}",
        f"/api/vouchers/{vid}/image",
        f"/api/vouchers/{vid}/events",
    ):  # noqa: E501
        denied = client.get(path, headers=t1)
        assert denied.status_code == 404
        assert denied.json()["error"]["code"] == "voucher_not_found"


def test_bad_login_is_401_with_code(client, pg_inline_env):  # noqa: ANN001
    r = client.post("/api/auth/login", json={"username": "teller1", "password": "wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
    r = client.post("/api/auth/login", json={"username": "", "password": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
