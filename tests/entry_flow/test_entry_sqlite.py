"""The embedded default (SQLite): the same claim, submit and settle code works without
FOR UPDATE SKIP LOCKED."""

from sqlalchemy import select

from entry.claims import claim_next
from entry.completion import completion_handoff
from entry.submission import KeyInput, submit_task
from storage.blobs import LocalBlobStore
from storage.db import session_scope
from storage.migrate import upgrade_head
from storage.models import User, Voucher
from storage.seed import seed_demo
from tests.entry_flow.vouchers import make_voucher, truth_values


def test_entry_on_sqlite_keys_a_voucher_to_the_end(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    # This database is not the process's: completion runs in the submitting transaction.
    monkeypatch.setattr(completion_handoff, "enqueuer", None)
    url = f"sqlite:///{tmp_path / 'vf.db'}"
    upgrade_head(url)
    with session_scope(url) as s:
        seed_demo(s, password="demo")
        s.commit()
    vid = make_voucher(url, LocalBlobStore(tmp_path / "blobs"), form="deposit_slip")
    truth = truth_values("deposit_slip")
    with session_scope(url) as s:
        keyers = [s.scalar(select(User).where(User.username == f"keyer{i}")) for i in (1, 2, 3, 4)]
        for _ in range(30):
            got = False
            for user in keyers:
                c = claim_next(s, user, kinds=("key", "third_key", "whole_voucher"))
                if c is None:
                    s.rollback()
                    continue
                got = True
                s.commit()
                value = truth[c.fields[0].name]
                key = (
                    KeyInput(value=value, confirm_warning=True) if value else KeyInput(flag="blank")
                )
                submit_task(s, user, c.task.id, token=c.task.fencing_token, key=key)
                s.commit()
            if not got:
                break
        assert s.get(Voucher, vid).status not in ("awaiting_entry", "exception_review")
