"""verification: the risk rules' look-ups by index instead of by scan.

* account_activity (voucher, debit account, amount, created_at), indexed by (account, created_at):
  velocity and amount-outlier rules read an account's history there (they searched every keyed
  field value, a full scan of voucher_field per entered voucher);
* voucher_image_hash gains five indexed bands of the hash and the voucher's created_at: the
  near-duplicate search probes the bands (it read every hash of the last 90 days).

Existing rows are filled in.

Revision ID: 0008
Revises: 0007
"""

import re
import uuid
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BANDS = ("band0", "band1", "band2", "band3", "band4")
BAND_BITS = (13, 13, 13, 13, 12)  # as verification.image_hash.BAND_BITS, frozen here
DEBIT_ACCOUNT_FIELDS = ("drawer_account", "remitter_account", "payer_account")
AMOUNT = re.compile(r"^\d{1,16}(\.\d{1,2})?$")


def _bands(hex_hash: str) -> list[int]:
    value, out, shift = int(hex_hash, 16), [], 64
    for width in BAND_BITS:
        shift -= width
        out.append((value >> shift) & ((1 << width) - 1))
    return out


def upgrade() -> None:
    op.create_table(
        "account_activity",
        sa.Column(
            "voucher_id",
            sa.Uuid(),
            sa.ForeignKey("voucher.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("account", sa.String(40), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_account_activity_account_created", "account_activity", ["account", "created_at"]
    )
    with op.batch_alter_table("voucher_image_hash") as batch:
        for name in BANDS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    for name in (*BANDS, "created_at"):
        op.create_index(f"ix_voucher_image_hash_{name}", "voucher_image_hash", [name])
    _fill()


def _fill() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    voucher = sa.Table("voucher", meta, autoload_with=bind)
    field = sa.Table("voucher_field", meta, autoload_with=bind)
    hashes = sa.Table("voucher_image_hash", meta, autoload_with=bind)
    activity = sa.Table("account_activity", meta, autoload_with=bind)
    rows = bind.execute(
        sa.select(hashes.c.voucher_id, hashes.c.dhash, voucher.c.created_at).join(
            voucher, voucher.c.id == hashes.c.voucher_id
        )
    ).all()
    if rows:  # one executemany, not a statement per row
        bind.execute(
            hashes.update()
            .where(hashes.c.voucher_id == sa.bindparam("vid"))
            .values(created_at=sa.bindparam("at"), **{b: sa.bindparam(b) for b in BANDS}),
            [
                {"vid": vid, "at": created, **dict(zip(BANDS, _bands(dhash), strict=True))}
                for vid, dhash, created in rows
            ],
        )
    values: dict[uuid.UUID, dict[str, str]] = {}
    for vid, name, value in bind.execute(
        sa.select(field.c.voucher_id, field.c.name, field.c.value).where(
            field.c.name.in_((*DEBIT_ACCOUNT_FIELDS, "amount")), field.c.value.is_not(None)
        )
    ):
        values.setdefault(vid, {})[name] = value
    created_at = {}
    if values:
        query = sa.select(voucher.c.id, voucher.c.created_at).where(voucher.c.id.in_(values))
        created_at = {vid: at for vid, at in bind.execute(query)}
    batch = []
    for vid, named in values.items():
        account = next((named[n] for n in DEBIT_ACCOUNT_FIELDS if named.get(n)), None)
        digits = "".join(ch for ch in account if ch.isdigit()) if account else ""
        if not digits or created_at.get(vid) is None:
            continue
        amount = (named.get("amount") or "").replace(",", "")
        batch.append(
            {
                "voucher_id": vid,
                "account": digits[:40],
                "amount": Decimal(amount) if AMOUNT.match(amount) else None,
                "created_at": created_at[vid],
            }
        )
    if batch:
        bind.execute(activity.insert(), batch)


def downgrade() -> None:
    for name in (*BANDS, "created_at"):
        op.drop_index(f"ix_voucher_image_hash_{name}", table_name="voucher_image_hash")
    with op.batch_alter_table("voucher_image_hash") as batch:
        for name in (*BANDS, "created_at"):
            batch.drop_column(name)
    op.drop_index("ix_account_activity_account_created", table_name="account_activity")
    op.drop_table("account_activity")
