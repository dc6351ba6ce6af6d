"""The embedded default (SQLite, local blobs, jobs on the in-process runner's thread): the key
that settles the last field answers "completing" and the in-process runner finishes entry."""

from fastapi.testclient import TestClient

from api.app import create_app
from storage.db import session_scope
from storage.entry_models import VoucherEntry
from storage.migrate import upgrade_head
from storage.models import Voucher
from storage.seed import seed_demo
from tests.entry_flow.vouchers import claim, make_voucher, qr_except, submit, truth_values
from tests.support import apply_env, login, wait_for
from workers.queues import inline_runner

FORM = "deposit_slip"


def test_embedded_entry_completes_on_the_in_process_runner(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'vf.db'}"
    settings = apply_env(monkeypatch, {"database_url": url, "data_dir": str(tmp_path / "var")})
    assert settings.embedded_jobs and not settings.inline_jobs_sync
    upgrade_head(url)
    with session_scope(url) as s:
        seed_demo(s, password="demo")
        s.commit()
    with TestClient(create_app(settings)) as client:
        blobs = client.app.state.blobs
        vid = make_voucher(url, blobs, form=FORM, qr=qr_except(FORM, "payer_name"))
        value = truth_values(FORM)["payer_name"]
        k1, k2 = login(client, "keyer1"), login(client, "keyer2")
        t1, t2 = claim(client, k1), claim(client, k2)
        submit(client, k1, t1, value)
        assert submit(client, k2, t2, value).json()["voucher_state"] == "completing"
        inline_runner.drain()

        def finished() -> bool:
            with session_scope(url) as s:
                return s.get(VoucherEntry, vid).state == "done"

        wait_for(finished, timeout=30)
        with session_scope(url) as s:
            assert s.get(Voucher, vid).status != "awaiting_entry"
