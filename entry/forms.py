"""Form definitions of vouchers (voucher_type rows, built-in forms as fallback) and field specs."""

from sqlalchemy.orm import Session

from entry.field_spec import FieldSpec
from storage.builtin_forms import load_builtin_forms
from storage.imaging_models import VoucherField, VoucherType


def form_definition(session: Session, form: str | None) -> dict:
    """The form's JSON definition; an unknown form yields an empty definition (no checks)."""
    if form:
        row = session.get(VoucherType, form)
        if row is not None:
            return row.definition
        builtin = load_builtin_forms().get(form)
        if builtin is not None:
            return builtin
    return {"form": form, "fields": [], "cross_checks": []}


def spec_of(definition: dict, field: VoucherField) -> FieldSpec:
    """The field's spec from the form definition, or from the field row alone."""
    for d in definition.get("fields", []):
        if d.get("name") == field.name:
            return FieldSpec.from_dict(d)
    return FieldSpec(
        name=field.name, type=field.field_type, label=field.label, required=field.required
    )
