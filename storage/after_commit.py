"""Hand-offs to background jobs that happen only once the transaction that asked for them commits.

The domain packages (entry, authorization, verification) may not import `workers`; each owns a
`JobHandoff`, and `workers.queues` registers the function that enqueues the job. A rollback drops
what was scheduled; a failed enqueue is logged and left to the reconciler, the commit stands.

A request may also collect its hand-offs and run them once its answer is sent
(`defer_until_response`): the hot endpoints then answer without waiting on Redis. One lost
between the answer and the enqueue (the process dies) is the reconciler's, like a failed one.
"""

import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_AFTER_RESPONSE = "vf_after_response"


def defer_until_response(session: Session) -> list[Callable[[], None]]:
    """From now on, hand-offs that this session's commits fire are collected in the returned
    list instead of run; the caller runs them (`run_deferred`) after sending its answer."""
    deferred: list[Callable[[], None]] = []
    session.info[_AFTER_RESPONSE] = deferred
    return deferred


def run_deferred(calls: list[Callable[[], None]]) -> None:
    for call in calls:
        call()


class JobHandoff:
    """Voucher ids to give to one kind of job after the scheduling session commits."""

    def __init__(self, name: str):
        self.name = name
        self._key = f"vf_after_commit_{name}"
        self.enqueuer: Callable[[str], None] | None = None

    def register(self, fn: Callable[[str], None]) -> None:
        self.enqueuer = fn

    def schedule(self, session: Session, voucher_id: object) -> None:
        pending: set[str] | None = session.info.get(self._key)
        if pending is None:
            pending = session.info[self._key] = set()
            event.listen(session, "after_commit", self._fire)
            event.listen(session, "after_rollback", self._forget)
        pending.add(str(voucher_id))

    def _fire(self, session: Session) -> None:
        pending = session.info.get(self._key) or set()
        ids = sorted(pending)
        pending.clear()
        if self.enqueuer is None:
            return  # the reconciler finds what waits for this job
        deferred = session.info.get(_AFTER_RESPONSE)
        for vid in ids:
            if deferred is not None:
                deferred.append(partial(self._enqueue, vid))
            else:
                self._enqueue(vid)

    def _enqueue(self, vid: str) -> None:
        try:
            self.enqueuer(vid)
        except Exception:  # the commit stands; the reconciler enqueues it again
            log.exception("could not enqueue job", extra={"job": self.name, "voucher_id": vid})

    def _forget(self, session: Session) -> None:
        (session.info.get(self._key) or set()).clear()
