"""Demo vouchers: generated scans uploaded by the demo tellers, so every workstation has work.

Goes through the same intake use case as the API (checks, blob, voucher row, event, enqueue).
"""

import hashlib
import io
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from api.intake import accept_upload
from api.multipart_stream import ReceivedFile
from storage.blobs import make_blob_store
from storage.db import session_scope
from storage.models import User, Voucher
from storage.settings import Settings
from synth.generate import generate_vouchers
from workers.queues import enqueue_processing


def load_demo_vouchers(settings: Settings, *, n: int, seed: int = 2026) -> int:
    """Upload n generated vouchers (alternating teller1/teller2) if there are none yet."""
    url = settings.effective_database_url
    with session_scope(url) as session:
        if session.scalar(select(func.count()).select_from(Voucher)):
            return 0
    blobs = make_blob_store(settings)
    created: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vf-demo-") as tmp:
        paths = generate_vouchers(Path(tmp), n=n, seed=seed)
        for i, path in enumerate(paths):
            data = path.read_bytes()
            received = ReceivedFile(
                field_name="files",
                filename=path.name,
                file=io.BytesIO(data),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
            with session_scope(url) as session:
                teller = session.scalars(
                    select(User).where(User.username == ("teller1", "teller2")[i % 2])
                ).one()
                outcome = accept_upload(
                    session,
                    user=teller,
                    files=[received],
                    blobs=blobs,
                    settings=settings,
                    idempotency_key=None,
                )
            created.extend(outcome.new_voucher_ids)
    for voucher_id in created:
        enqueue_processing(voucher_id, settings=settings)
    return len(created)
