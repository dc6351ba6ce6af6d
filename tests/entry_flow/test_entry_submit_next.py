"""A submission that also claims the keyer's next task (`?next=true`): one request per key.

The key is committed before the claim, the claim follows the same rules as `GET /next` (blind,
leased, fenced), and a refused key claims nothing."""

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from storage.db import session_scope
from storage.entry_models import EntryKey, EntryTask
from tests.entry_flow.vouchers import claim, make_voucher, qr_except, truth_values
from tests.support import login

FORM = "deposit_slip"
OPEN = ("instrument_count", "payer_name")  # the two fields left to key (the rest from a QR)


def _post(client, headers, task, value, *, follow=True):  # noqa: ANN001, ANN202
    body = {"token": task["token"], "value": value, "confirm_warning": True}
    path = f"/api/entry/tasks/{task['id']}" + ("?next=true" if follow else "")
    return client.post(path, json=body, headers=headers)


def _leases(url: str, username_id: int) -> list[int]:
    with session_scope(url) as s:
        return list(
            s.scalars(
                select(EntryTask.id).where(
                    EntryTask.status == "leased", EntryTask.lease_owner_id == username_id
                )
            )
        )


def _voucher_and_claim(client, env, username):  # noqa: ANN001, ANN202
    """A voucher with two fields to key; the keyer's login and first task."""
    url = env["database_url"]
    make_voucher(url, client.app.state.blobs, qr=qr_except(FORM, *OPEN))
    headers = login(client, username)
    return url, headers, claim(client, headers)


def test_submit_with_next_commits_the_key_and_leases_the_next_task(client, pg_inline_env) -> None:  # noqa: ANN001
    truth = truth_values(FORM)
    url, k1, first = _voucher_and_claim(client, pg_inline_env, "keyer1")
    r = _post(client, k1, first, truth[first["fields"][0]["name"]])
    assert r.status_code == 200, r.text
    following = r.json()["next"]
    assert following is not None and following["id"] != first["id"]
    assert following["token"] >= 1 and following["image_url"].endswith("/slice")
    # Blind as GET /next: no value, no OCR, only what the field is.
    assert set(following["fields"][0]) >= {"name", "label", "type"}
    assert "value" not in following["fields"][0] and "ocr_value" not in following
    assert client.get(following["image_url"], headers=k1).status_code == 200
    with session_scope(url) as s:
        keyed = s.scalar(
            select(func.count()).select_from(EntryKey).where(EntryKey.task_id == first["id"])
        )
    assert keyed == 1
    # The last task of this keyer: the answer says there is none, and still records the key.
    r = _post(client, k1, following, truth[following["fields"][0]["name"]])
    assert r.status_code == 200 and r.json()["next"] is None
    assert claim(client, k1) is None  # blind: keyer1 may not key these fields again


def test_refused_key_with_next_claims_nothing(client, pg_inline_env) -> None:  # noqa: ANN001
    url, k2, task = _voucher_and_claim(client, pg_inline_env, "keyer2")
    bad = "not a number" if task["fields"][0]["name"] == "instrument_count" else ""
    r = _post(client, k2, task, bad)
    assert r.status_code == 422, r.text
    me = client.get("/api/auth/me", headers=k2).json()["id"]
    assert _leases(url, me) == [task["id"]]  # still the one lease: nothing more was claimed


def test_submit_without_next_answers_next_null(client, pg_inline_env) -> None:  # noqa: ANN001
    truth = truth_values(FORM)
    url, k3, task = _voucher_and_claim(client, pg_inline_env, "keyer3")
    r = _post(client, k3, task, truth[task["fields"][0]["name"]], follow=False)
    assert r.status_code == 200 and r.json()["next"] is None
    me = client.get("/api/auth/me", headers=k3).json()["id"]
    assert _leases(url, me) == []


def test_a_failed_claim_after_a_key_keeps_the_key_and_answers_no_task(
    client, pg_inline_env, monkeypatch
) -> None:  # noqa: ANN001
    import api.routes.entry as routes

    truth = truth_values(FORM)
    url, k1, task = _voucher_and_claim(client, pg_inline_env, "keyer1")

    def lost_connection(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError("SELECT ...", {}, Exception("server closed the connection"))

    real_claim = routes.claim_next
    monkeypatch.setattr(routes, "claim_next", lost_connection)
    r = _post(client, k1, task, truth[task["fields"][0]["name"]])
    assert r.status_code == 200 and r.json()["next"] is None  # not an error to key again
    with session_scope(url) as s:
        kept = s.scalar(
            select(func.count()).select_from(EntryKey).where(EntryKey.task_id == task["id"])
        )
    assert kept == 1
    monkeypatch.setattr(routes, "claim_next", real_claim)
    again = claim(client, k1)  # the workstation asks GET /next, which works again
    assert again is not None and again["id"] != task["id"]
