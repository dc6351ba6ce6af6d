"""JSON answers built by the hot endpoints themselves.

A plain `def` endpoint whose return value FastAPI validates against its response model has that
validation run in the thread pool: a second thread hop per request, after the one that ran the
endpoint. The hot endpoints (claim and submit a key, claim and decide an authorization) return
a ready Response instead, serialized by pydantic's serializer in Rust; their `response_model`
still documents the answer in the OpenAPI schema.
"""

from typing import Any

from fastapi import Response
from pydantic import BaseModel, TypeAdapter

_ANY: TypeAdapter[Any] = TypeAdapter(Any)


def json_answer(value: BaseModel | dict | list) -> Response:
    """A 200 answer: a model as its own serializer writes it, anything else as pydantic's
    (datetimes as ISO 8601, UUIDs as strings, as FastAPI's encoder writes them)."""
    body = value.model_dump_json() if isinstance(value, BaseModel) else _ANY.dump_json(value)
    return Response(content=body, media_type="application/json")
