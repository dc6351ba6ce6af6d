"""Migrations: upgrade head on an empty PostgreSQL, downgrade to base, no drift from the models."""

import uuid

from sqlalchemy import create_engine, inspect, text

from storage.db import get_engine
from storage.migrate import downgrade_base, schema_drift, upgrade_head
from tests.conftest import PG_ADMIN_URL


def test_migrations_upgrade_downgrade_and_no_drift() -> None:
    name = f"vf_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade_head(url)
        assert schema_drift(url) == []
        tables = set(inspect(get_engine(url)).get_table_names())
        assert {"branch", "app_user", "voucher", "voucher_event"} <= tables
        downgrade_base(url)
        assert set(inspect(get_engine(url)).get_table_names()) <= {"alembic_version"}
        upgrade_head(url)  # and back up again: downgrades leave a clean slate
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_on_sqlite_embedded(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'vf.db'}"
    upgrade_head(url)
    assert schema_drift(url) == []
