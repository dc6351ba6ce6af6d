"""The hot endpoints' own JSON answers read back as FastAPI's encoder would have written them
(a UTC time as ...Z rather than ...+00:00: the same instant, as FastAPI's response models
write it)."""

import json
import uuid
from datetime import UTC, datetime

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from api.json_answer import json_answer


class _Out(BaseModel):
    id: int
    at: datetime
    names: list[str]


def test_models_and_dicts_read_back_like_fastapi_writes_them() -> None:
    at = datetime(2026, 11, 27, 8, 30, 5, 123456, tzinfo=UTC)
    model = _Out(id=7, at=at, names=["付款人", "amount"])
    plain = {"voucher": uuid.uuid4(), "at": at, "n": 3, "none": None}
    for value in (model, plain):
        answer = json_answer(value)
        assert answer.status_code == 200
        assert answer.media_type == "application/json"
        got, expected = json.loads(answer.body), jsonable_encoder(value)
        assert datetime.fromisoformat(got.pop("at")) == at
        expected.pop("at")
        assert got == expected
