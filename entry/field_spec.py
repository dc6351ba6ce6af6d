"""Field specs of the voucher forms (from the form JSON) and the outcome of validating a value."""

from dataclasses import dataclass
from enum import StrEnum


class FieldType(StrEnum):
    DATE = "date"
    DATE_WORDS = "date_words"
    AMOUNT = "amount"
    AMOUNT_WORDS = "amount_words"
    ACCOUNT = "account"
    DIGITS = "digits"
    INTEGER = "integer"
    NAME = "name"
    BANK_NAME = "bank_name"
    PLACE = "place"
    TEXT = "text"
    CHOICE = "choice"
    ID_NUMBER = "id_number"
    PHONE = "phone"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    label: str
    required: bool = False
    length: int | None = None
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict) -> "FieldSpec":
        """Build from one entry of a form JSON `fields` list (geometry keys are ignored)."""
        return cls(
            name=d["name"],
            type=d["type"],
            label=d.get("label", ""),
            required=bool(d.get("required", False)),
            length=d.get("length"),
            min=d.get("min"),
            max=d.get("max"),
            choices=tuple(d.get("choices") or ()),
        )


@dataclass(frozen=True)
class Validation:
    """Outcome of checking one value; `value` is canonical (None when empty or rejected)."""

    value: str | None
    error_code: str | None = None
    message: str | None = None
    warning_code: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None
