"""The embedded default (SQLite): claims and decisions work without FOR UPDATE SKIP LOCKED and
without the PostgreSQL one-statement claim — queue order, resuming a claim, maker-checker in
Python, dual approval, the outbox row of the final approval."""

import pytest
from sqlalchemy import select

import authorization.posting as posting
from authorization.claims import claim_next, decide
from authorization.maker_checker import MakerCheckerError
from storage.authorization_models import AuthorizationTask, PostingOutbox
from storage.db import get_engine, session_scope
from storage.migrate import upgrade_head
from storage.models import User, Voucher
from storage.seed import seed_demo
from tests.authorization.conftest import add_rule, make_entered_voucher


def test_claim_and_decide_on_sqlite(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    enqueued: list[str] = []
    monkeypatch.setattr(posting.posting_handoff, "enqueuer", enqueued.append)
    url = f"sqlite:///{tmp_path / 'vf.db'}"
    upgrade_head(url)
    with session_scope(url) as s:
        seed_demo(s, password="demo")
        s.commit()
    add_rule(url, name="dual", queue="dual", approvals_required=2)
    keyed = make_entered_voucher(url, keyers=["authorizer1"])  # older: first in queue order
    plain = make_entered_voucher(url)
    try:
        with session_scope(url) as s:
            a1 = s.scalar(select(User).where(User.username == "authorizer1"))
            a2 = s.scalar(select(User).where(User.username == "authorizer2"))
            first = claim_next(s, a1, lease_s=300)  # skips the voucher authorizer1 keyed
            first_id, first_fence = first.id, first.fence
            assert s.get(AuthorizationTask, first.id).voucher_id == plain
            again = claim_next(s, a1, lease_s=300)  # a reload resumes the same claim
            assert (again.id, again.fence) == (first_id, first_fence)
            task, voucher = decide(
                s, a1, first.id, decision="approve", reason_code=None, comment=None,
                token=first.fence,
            )  # fmt: skip
            assert (task.status, task.approvals, voucher.status) == (
                "open",
                1,
                "awaiting_authorization",
            )
            assert claim_next(s, a1, lease_s=300) is None  # made one, decided the other
            second = claim_next(s, a2, lease_s=300)
            assert s.get(AuthorizationTask, second.id).voucher_id == keyed
            forced = s.get(AuthorizationTask, second.id)
            forced.claimed_by_id = a1.id
            s.commit()
            with pytest.raises(MakerCheckerError) as refused:
                decide(
                    s, a1, second.id, decision="approve", reason_code=None, comment=None,
                    token=second.fence,
                )  # fmt: skip
            assert refused.value.code == "maker_checker_keyer"
            s.rollback()
            forced = s.get(AuthorizationTask, second.id)
            forced.claimed_by_id = a2.id
            s.commit()
            decide(
                s, a2, second.id, decision="reject", reason_code="duplicate", comment=None,
                token=second.fence,
            )  # fmt: skip
            third = claim_next(s, a2, lease_s=300)
            assert third.id == first_id and third.fence == first_fence + 1
            task, voucher = decide(
                s, a2, third.id, decision="approve", reason_code=None, comment=None,
                token=third.fence,
            )  # fmt: skip
            assert (task.status, task.approvals, voucher.status) == ("done", 2, "posting")
            row = s.scalar(select(PostingOutbox).where(PostingOutbox.voucher_id == plain))
            assert row.status == "pending" and row.payload["kind"] == "transfer"
            assert enqueued == [str(plain)]
            assert s.get(Voucher, keyed).status == "rejected"
    finally:
        get_engine(url).dispose()
