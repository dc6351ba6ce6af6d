"""The whole schema: imports every model module so `Base.metadata` is complete (Alembic, tests)."""

from storage import (
    authorization_models,
    entry_models,
    imaging_models,
    models,
    verification_models,
)

metadata = models.Base.metadata

__all__ = [
    "authorization_models",
    "entry_models",
    "imaging_models",
    "metadata",
    "models",
    "verification_models",
]
