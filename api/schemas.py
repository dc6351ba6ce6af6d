"""Pydantic request/response models of the JSON API."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    branch_id: int | None
    authorizer_level: int


class LoginOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    user: UserOut


class EventOut(BaseModel):
    id: int
    at: datetime
    kind: str
    actor_id: int | None
    from_status: str | None
    to_status: str | None
    reason: str | None
    details: dict


class VoucherOut(BaseModel):
    id: uuid.UUID
    branch_id: int
    uploaded_by_id: int
    status: str
    status_reason: str | None
    form: str | None
    serial: str | None
    detected_format: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    page_count: int
    created_at: datetime
    updated_at: datetime


class VoucherDetail(VoucherOut):
    timeline: list[EventOut]


class VoucherPage(BaseModel):
    items: list[VoucherOut]
    total: int
    offset: int
    limit: int
