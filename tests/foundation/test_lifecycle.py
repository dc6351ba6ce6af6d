"""The transition table: every (from, to) pair is allowed or refused exactly as declared."""

import itertools
import uuid

import pytest

from storage.errors import IllegalTransitionError
from storage.lifecycle import TERMINAL, TRANSITIONS, VoucherStatus, can_move, move_to
from storage.models import Voucher

S = VoucherStatus

EXPECTED_ALLOWED = {
    (S.RECEIVED, S.PROCESSING),
    (S.RECEIVED, S.FAILED),
    (S.RECEIVED, S.CANCELLED),
    (S.PROCESSING, S.AWAITING_ENTRY),
    (S.PROCESSING, S.UNCLASSIFIED),
    (S.PROCESSING, S.RETURNED),
    (S.PROCESSING, S.FAILED),
    (S.UNCLASSIFIED, S.PROCESSING),
    (S.UNCLASSIFIED, S.RETURNED),
    (S.UNCLASSIFIED, S.CANCELLED),
    (S.FAILED, S.PROCESSING),
    (S.FAILED, S.RETURNED),
    (S.FAILED, S.CANCELLED),
    (S.AWAITING_ENTRY, S.EXCEPTION_REVIEW),
    (S.AWAITING_ENTRY, S.AWAITING_AUTHORIZATION),
    (S.AWAITING_ENTRY, S.POSTING),
    (S.AWAITING_ENTRY, S.RETURNED),
    (S.EXCEPTION_REVIEW, S.AWAITING_ENTRY),
    (S.EXCEPTION_REVIEW, S.AWAITING_AUTHORIZATION),
    (S.EXCEPTION_REVIEW, S.POSTING),
    (S.EXCEPTION_REVIEW, S.RETURNED),
    (S.EXCEPTION_REVIEW, S.REJECTED),
    (S.AWAITING_AUTHORIZATION, S.POSTING),
    (S.AWAITING_AUTHORIZATION, S.RETURNED),
    (S.AWAITING_AUTHORIZATION, S.REJECTED),
    (S.POSTING, S.POSTED),
    (S.POSTING, S.POSTING_FAILED),
    (S.POSTING_FAILED, S.POSTING),
    (S.POSTING_FAILED, S.RETURNED),
    (S.POSTING_FAILED, S.REJECTED),
    (S.RETURNED, S.PROCESSING),
    (S.RETURNED, S.CANCELLED),
}


class FakeSession:
    """Collects what move_to adds; the table itself needs no database."""

    def __init__(self) -> None:
        self.added: list = []

    def add(self, obj) -> None:  # noqa: ANN001
        self.added.append(obj)


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(S, S)))
def test_move_to_every_pair_as_declared(src: VoucherStatus, dst: VoucherStatus) -> None:
    voucher = Voucher(id=uuid.uuid4(), status=src, event_head="0" * 64)
    session = FakeSession()
    if (src, dst) in EXPECTED_ALLOWED:
        move_to(session, voucher, dst, actor_id=None, reason="test")
        assert voucher.status == dst
        assert len(session.added) == 1
        event = session.added[0]
        assert (event.from_status, event.to_status) == (src, dst)
        assert voucher.event_head == event.hash
    else:
        with pytest.raises(IllegalTransitionError) as err:
            move_to(session, voucher, dst, actor_id=None)
        assert err.value.status_code == 409
        assert voucher.status == src and not session.added


def test_transition_table_matches_expectation() -> None:
    declared = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert declared == EXPECTED_ALLOWED
    assert TERMINAL == {S.POSTED, S.REJECTED, S.CANCELLED}
    assert can_move("received", "processing") and not can_move("posted", "posting")
