"""The keyer pool: active users holding the keyer role exactly, on PostgreSQL and SQLite."""

import pytest
from sqlalchemy import delete

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
