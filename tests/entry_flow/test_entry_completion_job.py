"""Entry completion as a job, on PostgreSQL, Redis and a real `rq` worker: the key that settles
the last field answers "completing" at once and the worker finishes entry (cross checks,
verification, routing); a completion job lost with Redis is found and enqueued again."""

from redis import Redis

from storage.db import session_scope
from storage.entry_models import VoucherEntry
from storage.models import Voucher
from storage.settings import get_settings
from tests.entry_flow.vouchers import claim, make_voucher, qr_except, submit, truth_values
from tests.support import login, wait_for
from workers.entry_jobs import settled_awaiting_completion
from workers.tasks import reconcile

FORM = "deposit_slip"


def _key_last_field(client, url: str) -> tuple:  # noqa: ANN001
    vid = make_voucher(url, client.app.state.blobs, form=FORM, qr=qr_except(FORM, "payer_name"))
    value = truth_values(FORM)["payer_name"]
    k1, k2 = login(client, "keyer1"), login(client, "keyer2")
    t1, t2 = claim(client, k1), claim(client, k2)
    assert submit(client, k1, t1, value).json()["voucher_state"] is None
    return vid, submit(client, k2, t2, value).json()


def _entry_state(url: str, vid) -> tuple[str, str]:  # noqa: ANN001
    with session_scope(url) as s:
        return s.get(Voucher, vid).status, s.get(VoucherEntry, vid).state


def test_last_key_hands_completion_to_a_worker(client, service_env, start_worker) -> None:  # noqa: ANN001
    url = service_env["database_url"]
    vid, out = _key_last_field(client, url)
    assert out == {
        "task_id": out["task_id"],
        "fields": {"payer_name": "settle"},
        "voucher_state": "completing",
        "next": None,
    }
    assert _entry_state(url, vid)[0] == "awaiting_entry"  # nobody has run the job yet
    start_worker("default", "--no-fork")
    wait_for(lambda: _entry_state(url, vid)[0] != "awaiting_entry", timeout=60)
    assert _entry_state(url, vid)[1] == "done"


def test_lost_completion_job_is_enqueued_again(client, service_env, start_worker) -> None:  # noqa: ANN001
    url = service_env["database_url"]
    vid, out = _key_last_field(client, url)
    assert out["voucher_state"] == "completing"
    Redis.from_url(service_env["redis_url"]).flushdb()  # the job is lost
    assert settled_awaiting_completion(get_settings(), older_than_s=0) == [str(vid)]
    assert reconcile(older_than_s=0)["completions_requeued"] == 1
    start_worker("default", "--no-fork")
    wait_for(lambda: _entry_state(url, vid)[1] == "done", timeout=60)
    assert settled_awaiting_completion(get_settings(), older_than_s=0) == []
