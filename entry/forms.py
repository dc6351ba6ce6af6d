"""Form definitions of vouchers (voucher_type rows, built-in forms as fallback) and field specs."""

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from entry.field_spec import FieldSpec
from storage.builtin_forms import load_builtin_forms
from storage.imaging_models import VoucherField, VoucherType

# (form, version) -> definition. Every edit of a voucher type bumps its version, so an entry
# never goes stale; callers read definitions and never change them.
_BY_VERSION: dict[tuple[str, int], dict] = {}


UNKNOWN = -1  # the caller did not read the voucher type's version
_VERSION = select(VoucherType.version).where(VoucherType.name == bindparam("form"))


def form_definition(session: Session, form: str | None, *, version: int | None = UNKNOWN) -> dict:
    """The form's JSON definition; an unknown form yields an empty definition (no checks).

    A caller that already read the voucher type's version (joined into its own query) passes
    it, and a definition seen before at that version costs no query; None means the join found
    no voucher_type row, and the built-in form (if any) answers.
    """
    if form and version is None:
        builtin = load_builtin_forms().get(form)
        if builtin is not None:
            return builtin
    elif form and version != UNKNOWN:
        hit = _BY_VERSION.get((form, version))
        if hit is not None:
            return hit
    if form and version == UNKNOWN:
        # The version alone first: a definition seen at that version is not read (a JSON
        # document decoded into a new entity at every call, 13 % of an entry-completion job).
        version = session.scalar(_VERSION, {"form": form})
        hit = _BY_VERSION.get((form, version)) if version is not None else None
        if hit is not None:
            return hit
    if form:
        row = session.get(VoucherType, form)
        if row is not None:
            if len(_BY_VERSION) > 256:
                _BY_VERSION.clear()
            _BY_VERSION[(form, row.version)] = row.definition
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
