"""Admin pages: users, branches, voucher types, routing and authorization rules."""

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from api.deps import SessionDep
from api.routes.authorization_admin import RuleOut as AuthRuleOut
from api.routes.entry_admin import RuleOut as RoutingRuleOut
from api.web.render import page_roles, render
from api.web.security import require_form_csrf
from authorization.rules import KNOWN_FLAGS
from storage.authorization_models import AuthorizationRule
from storage.entry_models import EntryRoutingRule
from storage.errors import ConflictError, InvalidInputError, NotFoundError
from storage.imaging_models import VoucherType
from storage.models import Branch, User
from storage.passwords import hash_password

router = APIRouter(include_in_schema=False)

AdminPage = Annotated[User, Depends(page_roles("admin"))]
ROLES = ("teller", "keyer", "arbiter", "authorizer", "supervisor", "admin")


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: AdminPage, session: SessionDep) -> HTMLResponse:
    users = session.scalars(select(User).order_by(User.username)).all()
    branches = session.scalars(select(Branch).order_by(Branch.code)).all()
    return render(
        request,
        "admin_users.html",
        {
            "users": users,
            "branches": branches,
            "roles": ROLES,
            "done": request.query_params.get("done"),
        },
        user=user,
    )


@router.post("/admin/users")
def user_create(
    request: Request,
    user: AdminPage,
    session: SessionDep,
    username: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    password: Annotated[str, Form(min_length=8, max_length=200)],
    display_name: Annotated[str, Form(max_length=100)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    branch_id: Annotated[str, Form()] = "",
    authorizer_level: Annotated[int, Form(ge=0, le=2)] = 0,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    require_form_csrf(request, csrf_token)
    chosen = [r for r in (roles or []) if r in ROLES]
    if not chosen:
        raise InvalidInputError("请至少选择一个角色", code="roles_required")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ConflictError("用户名已存在", code="username_taken")
    branch = session.get(Branch, int(branch_id)) if branch_id.isdigit() else None
    if "teller" in chosen and branch is None:
        raise InvalidInputError("柜员必须关联网点", code="branch_required")
    session.add(
        User(
            username=username,
            display_name=display_name,
            password_hash=hash_password(password),
            roles=chosen,
            branch_id=branch.id if branch else None,
            authorizer_level=authorizer_level if "authorizer" in chosen else 0,
            active=True,
        )
    )
    session.commit()
    return RedirectResponse("/admin/users?done=created", status_code=303)


@router.post("/admin/users/{user_id}/active")
def user_toggle(
    request: Request,
    user_id: int,
    user: AdminPage,
    session: SessionDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    require_form_csrf(request, csrf_token)
    target = session.get(User, user_id)
    if target is None:
        raise NotFoundError("用户不存在", code="user_not_found")
    if target.id == user.id:
        raise InvalidInputError("不能停用自己的账户", code="cannot_disable_self")
    target.active = not target.active  # sessions stop working on their next request
    session.commit()
    return RedirectResponse("/admin/users?done=saved", status_code=303)


@router.get("/admin/branches", response_class=HTMLResponse)
def branches_page(request: Request, user: AdminPage, session: SessionDep) -> HTMLResponse:
    branches = session.scalars(select(Branch).order_by(Branch.code)).all()
    return render(
        request,
        "admin_branches.html",
        {"branches": branches, "done": request.query_params.get("done")},
        user=user,
    )


@router.post("/admin/branches")
def branch_create(
    request: Request,
    user: AdminPage,
    session: SessionDep,
    code: Annotated[str, Form(min_length=1, max_length=16, pattern=r"^[A-Z0-9]+$")],
    name: Annotated[str, Form(min_length=1, max_length=100)],
    region: Annotated[str, Form(min_length=1, max_length=32)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    require_form_csrf(request, csrf_token)
    if session.scalar(select(Branch).where(Branch.code == code)) is not None:
        raise ConflictError("网点代码已存在", code="branch_code_taken")
    session.add(Branch(code=code, name=name, region=region))
    session.commit()
    return RedirectResponse("/admin/branches?done=created", status_code=303)


NEW_TYPE_TEMPLATE = {
    "form": "new_form",
    "title": "新凭证",
    "title_en": "New voucher",
    "size_mm": [210, 99],
    "serial": {"prefix": "NEW", "digits": 8},
    "barcode": {"box": [150, 5, 55, 12]},
    "fields": [
        {
            "name": "amount",
            "label": "金额",
            "label_box": [10, 40, 20, 8],
            "box": [32, 40, 60, 8],
            "type": "amount",
            "required": True,
        }
    ],
}


@router.get("/admin/types", response_class=HTMLResponse)
def types_page(request: Request, user: AdminPage, session: SessionDep) -> HTMLResponse:
    types = session.scalars(select(VoucherType).order_by(VoucherType.name)).all()
    return render(
        request,
        "admin_types.html",
        {
            "types": types,
            "template_json": json.dumps(NEW_TYPE_TEMPLATE, ensure_ascii=False, indent=2),
        },
        user=user,
        js_messages=("admin.",),
    )


@router.get("/admin/types/{name}", response_class=HTMLResponse)
def type_page(request: Request, name: str, user: AdminPage, session: SessionDep) -> HTMLResponse:
    row = session.get(VoucherType, name)
    if row is None:
        raise NotFoundError("凭证类型不存在", code="voucher_type_not_found")
    return render(
        request,
        "admin_type.html",
        {"ty": row, "definition_json": json.dumps(row.definition, ensure_ascii=False, indent=2)},
        user=user,
        js_messages=("admin.",),
    )


# Conditions are edited as JSON; the remaining properties have their own inputs.
ROUTING_CONDITIONS = {
    "form": None,
    "complexity": None,
    "region": None,
    "min_queue_depth": None,
    "max_queue_depth": None,
    "min_amount": None,
    "max_amount": None,
    "field_policies": {},
    "ocr_min_confidence": 0.9,
    "qa_sample_rate": 0.1,
}
AUTH_CONDITIONS = {"form": None, "region": None, "min_amount": None, "flags": []}


@router.get("/admin/rules", response_class=HTMLResponse)
def rules_page(request: Request, user: AdminPage, session: SessionDep) -> HTMLResponse:
    routing = session.scalars(
        select(EntryRoutingRule).order_by(EntryRoutingRule.priority, EntryRoutingRule.id)
    ).all()
    auth_rules = session.scalars(
        select(AuthorizationRule).order_by(AuthorizationRule.position, AuthorizationRule.id)
    ).all()
    return render(
        request,
        "admin_rules.html",
        {
            "routing": routing,
            "routing_json": {
                r.id: RoutingRuleOut.model_validate(r, from_attributes=True).model_dump(
                    mode="json", exclude={"updated_at"}
                )
                for r in routing
            },
            "auth_rules": auth_rules,
            "auth_json": {
                r.id: AuthRuleOut.model_validate(r).model_dump(mode="json") for r in auth_rules
            },
            "routing_conditions": ROUTING_CONDITIONS,
            "auth_conditions": AUTH_CONDITIONS,
            "known_flags": KNOWN_FLAGS,
            "done": request.query_params.get("done"),
        },
        user=user,
        js_messages=("admin.",),
    )
