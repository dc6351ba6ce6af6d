"""Validation of a voucher type definition (the JSON an admin submits), before it is stored.

Checks the shape, the field types, and that every box lies inside the form; a bad definition is
a 422 with the offending path, never a form the pipeline later chokes on.
"""

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from entry.fieldtypes import FieldType

Box = Annotated[list[float], Field(min_length=4, max_length=4)]


class SerialSpec(BaseModel):
    prefix: str = Field(pattern=r"^[A-Z]{2,4}$")
    digits: int = Field(ge=4, le=20)


class CodeBox(BaseModel):
    box: Box
    symbology: str = "code128"
    content: str = "serial"


class QrSpec(BaseModel):
    box: Box
    content: str = ""


class FieldDef(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: str = Field(min_length=1, max_length=100)
    label_box: Box
    box: Box
    type: FieldType
    required: bool = False
    length: int | None = Field(default=None, ge=1, le=64)
    min: int | None = None
    max: int | None = None
    choices: list[str] | None = None

    @model_validator(mode="after")
    def _type_options(self) -> "FieldDef":
        if self.type == FieldType.CHOICE and not self.choices:
            raise ValueError(f"field {self.name}: a choice field needs choices")
        if self.type == FieldType.DIGITS and not self.length:
            raise ValueError(f"field {self.name}: a digits field needs length")
        return self


class SealDef(BaseModel):
    label: str = ""
    label_box: Box | None = None
    box: Box
    kind: str = Field(pattern=r"^(drawer_seal|bank_seal|signature)$")


class VoucherTypeDefinition(BaseModel):
    form: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    title: str = Field(min_length=1, max_length=100)
    title_en: str = ""
    size_mm: Annotated[list[float], Field(min_length=2, max_length=2)]
    serial: SerialSpec
    barcode: CodeBox
    qr: QrSpec | None = None
    static_text: list[dict] = Field(default_factory=list)
    fields: list[FieldDef] = Field(min_length=1, max_length=60)
    seal: SealDef | None = None
    cross_checks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _boxes_inside_form(self) -> "VoucherTypeDefinition":
        width, height = self.size_mm
        if not (20 <= width <= 420 and 20 <= height <= 420):
            raise ValueError("size_mm must be between 20 and 420 mm")

        def inside(what: str, box: list[float] | None) -> None:
            if box is None:
                return
            x, y, w, h = box
            if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width + 0.01 or y + h > height + 0.01:
                raise ValueError(f"{what} box {box} is not inside the {width}×{height} mm form")

        inside("barcode", self.barcode.box)
        inside("qr", self.qr.box if self.qr else None)
        inside("seal", self.seal.box if self.seal else None)
        names = set()
        for f in self.fields:
            if f.name in names:
                raise ValueError(f"field name {f.name} appears twice")
            names.add(f.name)
            inside(f"field {f.name}", f.box)
            inside(f"label of {f.name}", f.label_box)
        return self
