"""Rules → routing: straight-through posting when no rule matches, thresholds per form and
region, flags, the strictest of several rules; admin CRUD of rules."""

from sqlalchemy import func, select

from storage.authorization_models import AuthorizationTask, PostingOutbox
from storage.models import Voucher
from tests.authorization.conftest import add_rule
from tests.support import db_session, login


def task_of(url: str, vid) -> AuthorizationTask | None:  # noqa: ANN001
    with db_session(url) as s:
        return s.scalar(select(AuthorizationTask).where(AuthorizationTask.voucher_id == vid))


def status_of(url: str, vid) -> str:  # noqa: ANN001
    with db_session(url) as s:
        return s.get(Voucher, vid).status


def test_handoff_no_rule_goes_straight_to_posting_with_outbox(pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, form="transfer_cheque", queue="cheque")
    vid = entered(form="wire_transfer", amount="10.00", serial="WT0000000001")
    # inline jobs: the posting job ran after the commit against the in-process simulated core
    assert status_of(url, vid) in ("posting", "posted", "posting_failed")
    with db_session(url) as s:
        row = s.scalar(select(PostingOutbox).where(PostingOutbox.voucher_id == vid))
        assert row.idempotency_key == "WT0000000001"
        assert row.payload["kind"] == "transfer" and row.payload["amount"] == "10.00"
    assert task_of(url, vid) is None


def test_handoff_amount_threshold_per_form_and_region(pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="east large", region="east", min_amount="50000", queue="large", priority=30)
    add_rule(url, name="west large", region="west", min_amount="20000", queue="large", priority=30)
    add_rule(url, name="cheque", form="transfer_cheque", min_amount="1000", queue="cheque")
    east_small = entered(amount="30000.00")  # teller1 is east
    west_big = entered(amount="30000.00", uploader="teller2")
    cheque = entered(form="transfer_cheque", amount="1000.00")
    cheque_small = entered(form="transfer_cheque", amount="999.99")
    assert task_of(url, east_small) is None
    assert task_of(url, west_big).queue == "large"
    assert task_of(url, cheque).queue == "cheque"
    assert task_of(url, cheque_small) is None
    assert status_of(url, west_big) == "awaiting_authorization"


def test_handoff_flags_and_strictest_of_matching_rules(pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    risk = add_rule(
        url,
        name="risk",
        flags=["qr_mac_failure", "stale_cheque"],
        queue="risk",
        priority=50,
        sla_minutes=30,
        min_level=2,
    )
    large = add_rule(
        url, name="large", min_amount="50000", queue="large", priority=30, approvals_required=2
    )
    inactive = add_rule(url, name="off", active=False, queue="never", priority=99)
    both = entered(amount="60000.00", qr_status="invalid")
    task = task_of(url, both)
    assert (task.queue, task.priority, task.approvals_required, task.min_level) == (
        "risk",
        50,
        2,
        2,
    )
    assert set(task.rule_ids) == {risk, large} and inactive not in task.rule_ids
    assert task.reasons == ["qr_mac_failure"]
    flagged = entered(amount="5.00", flags=["stale_cheque"])
    assert task_of(url, flagged).queue == "risk"
    assert task_of(url, entered(amount="5.00", flags=["something_else"])) is None


def test_handoff_duplicate_serial_never_goes_straight_through(pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    entered(serial="WT0000000077")
    second = entered(serial="WT0000000077")
    assert task_of(url, second).reasons == ["duplicate_serial"]
    with db_session(url) as s:
        assert s.scalar(select(func.count()).select_from(PostingOutbox)) == 1


def test_rules_admin_crud_and_roles(client, pg_inline_env):  # noqa: ANN001
    admin = login(client, "admin")
    body = {
        "name": "大额",
        "region": "east",
        "min_amount": "50000.00",
        "queue": "large",
        "priority": 30,
        "approvals_required": 2,
        "flags": ["qr_mac_failure"],
    }
    r = client.post("/api/admin/authorization-rules", json=body, headers=admin)
    assert r.status_code == 201, r.text
    rule_id = r.json()["id"]
    bad = client.post(
        "/api/admin/authorization-rules", json={**body, "approvals_required": 3}, headers=admin
    )
    assert bad.status_code == 422
    unknown_flag = client.post(
        "/api/admin/authorization-rules", json={**body, "flags": ["nope"]}, headers=admin
    )
    assert unknown_flag.status_code == 422
    r = client.put(
        f"/api/admin/authorization-rules/{rule_id}", json={**body, "priority": 40}, headers=admin
    )
    assert r.status_code == 200 and r.json()["priority"] == 40
    listed = client.get("/api/admin/authorization-rules", headers=admin).json()
    assert [x["id"] for x in listed] == [rule_id]
    forbidden = client.get("/api/admin/authorization-rules", headers=login(client, "authorizer1"))
    assert forbidden.status_code == 403
    assert (
        client.delete(f"/api/admin/authorization-rules/{rule_id}", headers=admin).status_code == 204
    )
    assert client.get("/api/admin/authorization-rules", headers=admin).json() == []
