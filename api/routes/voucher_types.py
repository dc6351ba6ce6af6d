"""Voucher types (form definitions): read by staff, created and edited by an admin as JSON."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import SessionDep, require_roles
from api.voucher_type_schema import VoucherTypeDefinition
from storage.errors import InvalidInputError, NotFoundError
from storage.imaging_models import VoucherType
from storage.models import User
from storage.voucher_types import save_type

router = APIRouter(prefix="/api/voucher-types", tags=["voucher types"])

Staff = Annotated[
    User,
    Depends(require_roles("teller", "keyer", "arbiter", "authorizer", "supervisor", "admin")),
]
Admin = Annotated[User, Depends(require_roles("admin"))]


def type_out(row: VoucherType) -> dict[str, Any]:
    return {
        "name": row.name,
        "title": row.title,
        "serial_prefix": row.serial_prefix,
        "version": row.version,
        "builtin": row.builtin,
        "active": row.active,
        "definition": row.definition,
    }


@router.get("")
def list_types(_user: Staff, session: SessionDep) -> list[dict[str, Any]]:
    return [type_out(t) for t in session.query(VoucherType).order_by(VoucherType.name)]


@router.get("/{name}")
def get_type(name: str, _user: Staff, session: SessionDep) -> dict[str, Any]:
    row = session.get(VoucherType, name)
    if row is None:
        raise NotFoundError("凭证类型不存在", code="voucher_type_not_found")
    return type_out(row)


@router.put("/{name}")
def put_type(
    name: str, body: VoucherTypeDefinition, user: Admin, session: SessionDep
) -> dict[str, Any]:
    if body.form != name:
        raise InvalidInputError("路径中的类型名与定义中的 form 不一致", code="name_mismatch")
    clash = (
        session.query(VoucherType)
        .filter(VoucherType.serial_prefix == body.serial.prefix, VoucherType.name != name)
        .first()
    )
    if clash:
        raise InvalidInputError(
            f"流水号前缀 {body.serial.prefix} 已被 {clash.name} 使用", code="prefix_taken"
        )
    row = save_type(session, definition=body.model_dump(exclude_none=True), user_id=user.id)
    session.commit()
    return type_out(row)


@router.post("/{name}/deactivate")
def deactivate_type(name: str, _user: Admin, session: SessionDep) -> dict[str, Any]:
    row = session.get(VoucherType, name, with_for_update=True)
    if row is None:
        raise NotFoundError("凭证类型不存在", code="voucher_type_not_found")
    row.active = False
    session.commit()
    return type_out(row)
