"""Migrations: upgrade head on an empty PostgreSQL, downgrade to base, no drift from the models."""

import uuid

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

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


def test_0008_fills_account_history_and_hash_bands_from_existing_rows(tmp_path) -> None:  # noqa: ANN001
    from alembic import command

    from storage.migrate import alembic_config
    from storage.seed import seed_demo
    from tests.support import insert_entered_voucher
    from verification.image_hash import bands

    url = f"sqlite:///{tmp_path / 'vf.db'}"
    command.upgrade(alembic_config(url), "0007")
    engine = get_engine(url)
    with Session(engine) as s:
        seed_demo(s, password="x")
        values = {"drawer_account": "6222020000000007", "amount": "1,234.50"}
        v = insert_entered_voucher(
            s, uploader="teller1", form="transfer_cheque", serial="TC0000000001", values=values
        )
        s.commit()
        vid, created, branch = v.id, v.created_at, v.branch_id
        s.execute(
            text(
                "INSERT INTO voucher_image_hash (voucher_id, dhash, branch_id, computed_at)"
                " VALUES (:v, 'f0e1d2c3b4a59687', :b, :t)"
            ),
            {"v": vid.hex, "b": branch, "t": created},
        )
        s.commit()
    upgrade_head(url)
    with engine.connect() as conn:
        account, amount = conn.execute(text("SELECT account, amount FROM account_activity")).one()
        row = conn.execute(
            text("SELECT band0, band1, band2, band3, band4, created_at FROM voucher_image_hash")
        ).one()
    assert (account, float(amount)) == ("6222020000000007", 1234.5)
    assert tuple(row[:5]) == bands("f0e1d2c3b4a59687") and row[5] is not None
