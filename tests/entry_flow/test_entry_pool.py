"""The keyer pool: active users holding the keyer role exactly, on PostgreSQL and SQLite."""

import time

import pytest
from sqlalchemy import delete, update

from entry import eligibility
from entry.eligibility import load_pool
from storage.db import session_scope
from storage.migrate import upgrade_head
from storage.models import User


def _seed(url: str) -> dict[str, int]:
    users = {
        "k_only": (["keyer"], True),
        "k_and_teller": (["teller", "keyer"], True),
        "k_lead": (["keyer_lead"], True),
        "arbiter": (["arbiter"], True),
        "k_inactive": (["keyer"], False),
        "nobody": ([], True),
    }
    with session_scope(url) as s:
        s.execute(delete(User))
        rows = {
            name: User(username=f"pool_{name}", password_hash="x", roles=roles, active=active)
            for name, (roles, active) in users.items()
        }
        s.add_all(rows.values())
        s.commit()
        return {name: u.id for name, u in rows.items()}


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_pool_is_the_active_keyers(dialect, pg_inline_env, tmp_path) -> None:  # noqa: ANN001
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'pool.db'}"
        upgrade_head(url)
    else:
        url = pg_inline_env["database_url"]
    ids = _seed(url)
    with session_scope(url) as s:
        pool, quota = load_pool(s)
    assert sorted(pool) == sorted([ids["k_only"], ids["k_and_teller"]])
    assert quota == 2  # never below two keys per group


def test_pool_is_kept_briefly_and_forgotten_on_a_user_write(pg_inline_env, monkeypatch) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    ids = _seed(url)
    with session_scope(url) as s:
        assert ids["k_only"] in load_pool(s)[0]
        # A write this process makes through the ORM shows at once.
        s.get(User, ids["k_only"]).active = False
        s.commit()
        assert ids["k_only"] not in load_pool(s)[0]
        # A write the mapper events do not see (another process's, a bulk UPDATE) shows once
        # the kept answer is older than POOL_TTL_S.
        s.execute(update(User.__table__).where(User.id == ids["k_only"]).values(active=True))
        s.commit()
        assert ids["k_only"] not in load_pool(s)[0]
        later = time.monotonic() + eligibility.POOL_TTL_S + 1
        monkeypatch.setattr(eligibility, "_clock", lambda: later)
        assert ids["k_only"] in load_pool(s)[0]
