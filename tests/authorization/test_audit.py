"""Audit trail: every action of the authorization flow is a chained event; PostgreSQL refuses
UPDATE/DELETE on voucher_event; an edit or deletion made with the trigger bypassed is still
found by `voucherflow audit verify`."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cli.main import app as cli_app
from storage.audit import verify_all_chains
from storage.blobs import make_blob_store
from storage.models import Voucher, VoucherEvent
from storage.settings import get_settings
from tests.authorization.conftest import add_rule
from tests.support import db_session, login, scan_bytes


def tamper(url: str, sql: str, params: dict) -> None:
    """Run SQL with triggers off for this session, as a DBA bypassing the guard would."""
    with db_session(url) as s:
        s.execute(text("SET LOCAL session_replication_role = replica"))  # this transaction only
        s.execute(text(sql), params)
        s.commit()


def event_ids(url: str, vid) -> list[int]:  # noqa: ANN001
    with db_session(url) as s:
        return list(
            s.scalars(
                select(VoucherEvent.id)
                .where(VoucherEvent.voucher_id == vid)
                .order_by(VoucherEvent.id)
            )
        )


def verify_cli() -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["audit", "verify"])
    return result.exit_code, result.output


def authorized_voucher(client, url: str, entered) -> object:  # noqa: ANN001
    vid = entered()
    a1 = login(client, "authorizer1")
    claim = client.get("/api/authorization/next", headers=a1).json()
    client.post(
        f"/api/authorization/tasks/{claim['task']['id']}/decision",
        json={"decision": "approve", "token": claim["token"]},
        headers=a1,
    )
    return vid


def test_audit_timeline_covers_authorization_and_viewing(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    vid = authorized_voucher(client, url, entered)
    with db_session(url) as s:
        key = s.get(Voucher, vid).original_key
    make_blob_store(get_settings()).put_bytes(key, scan_bytes(3), "image/png")
    a2 = login(client, "authorizer2")
    assert client.get(f"/api/vouchers/{vid}/image", headers=a2).status_code == 200
    events = client.get(f"/api/vouchers/{vid}/events", headers=a2).json()
    kinds = [(e["kind"], e["to_status"]) for e in events]
    assert ("authorization_claimed", None) in kinds
    assert ("authorization_decision", None) in kinds
    assert ("transition", "posting") in kinds
    assert kinds[-1] == ("viewed_image", None)
    assert events[-1]["actor_id"] is not None
    with db_session(url) as s:
        assert verify_all_chains(s) == []
    assert verify_cli()[0] == 0


def test_audit_event_rows_are_append_only_in_postgres(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = entered()
    first = event_ids(url, vid)[0]
    for sql in (
        "UPDATE voucher_event SET reason = 'x' WHERE id = :id",
        "DELETE FROM voucher_event WHERE id = :id",
    ):
        with db_session(url) as s, pytest.raises(DBAPIError, match="append-only"):
            s.execute(text(sql), {"id": first})
    with db_session(url) as s:
        assert verify_all_chains(s) == []


def test_audit_verify_finds_edited_and_deleted_rows(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    edited = authorized_voucher(client, url, entered)
    middle_deleted = authorized_voucher(client, url, entered)
    tail_deleted = authorized_voucher(client, url, entered)
    untouched = authorized_voucher(client, url, entered)
    edited_id = event_ids(url, edited)[2]
    tamper(
        url,
        "UPDATE voucher_event SET details = CAST(:d AS json) WHERE id = :id",
        {"d": '{"comment": "forged"}', "id": edited_id},
    )
    tamper(
        url, "DELETE FROM voucher_event WHERE id = :id", {"id": event_ids(url, middle_deleted)[1]}
    )
    tamper(
        url, "DELETE FROM voucher_event WHERE id = :id", {"id": event_ids(url, tail_deleted)[-1]}
    )
    with db_session(url) as s:
        problems = {(p.voucher_id, p.problem, p.event_id) for p in verify_all_chains(s)}
    assert (edited, "edited", edited_id) in problems
    assert any(v == middle_deleted and kind == "broken_link" for v, kind, _ in problems)
    assert (tail_deleted, "head_mismatch", None) in problems
    assert not any(v == untouched for v, _, _ in problems)
    code, output = verify_cli()
    assert code == 1 and "edited" in output and "head_mismatch" in output
