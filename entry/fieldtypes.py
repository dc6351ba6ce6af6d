"""Field types: keyed-value validation, OCR-text canonicalization and value equality.

FieldSpec/Validation live in entry.field_spec and the per-type grammar in entry.value_grammar;
this module is the entry point other areas call.
"""

import re

from entry.field_spec import FieldSpec, FieldType, Validation
from entry.ocr_cleanup import fix_digit_lookalikes, nearest_choice, strip_edge_junk, strip_label
from entry.value_grammar import FieldValueError, canonical_value, match_choice, normalize_text

__all__ = [
    "FieldSpec",
    "FieldType",
    "Validation",
    "canonicalize_ocr",
    "validate_keyed",
    "values_equal",
]

_DIGIT_ONLY_TYPES = {FieldType.ACCOUNT, FieldType.DIGITS, FieldType.INTEGER, FieldType.PHONE}
_NAME_TYPES = {FieldType.NAME, FieldType.BANK_NAME, FieldType.PLACE, FieldType.TEXT}
_WORD_TYPES = {FieldType.AMOUNT_WORDS, FieldType.DATE_WORDS}
_HAS_WORD_CHAR = re.compile(r"[^\W\d_]")


def validate_keyed(spec: FieldSpec, raw: str) -> Validation:
    """Check what a keyer typed: lenient input, canonical value, specific error codes.

    An empty optional field is ok with value None. A soft warning (`luhn`, `id_check`)
    keeps the value; the keyer may confirm it.
    """
    s = normalize_text(raw or "")
    if not s:
        if spec.required:
            return Validation(None, "required", "此项为必填项")
        return Validation(None)
    try:
        value, warning_code, warning = canonical_value(spec, s)
    except FieldValueError as exc:
        return Validation(None, exc.code, exc.message)
    return Validation(value, warning_code=warning_code, warning=warning)


def canonicalize_ocr(spec: FieldSpec, text: str) -> str | None:
    """Canonical value from raw OCR text of a value slice, or None: hard-valid values only."""
    s = strip_label(spec, normalize_text(text or ""))
    if not s:
        return None
    t = spec.type
    if t in _DIGIT_ONLY_TYPES:
        s = fix_digit_lookalikes(re.sub(r"[\s_-]", "", s))
        if t == FieldType.INTEGER:
            s = s.lstrip("0") or s
    elif t == FieldType.ID_NUMBER:
        s = re.sub(r"[\s_-]", "", s)
        last = "X" if s[-1:] in ("x", "X") else fix_digit_lookalikes(s[-1:])
        s = fix_digit_lookalikes(s[:-1]) + last
    elif t == FieldType.AMOUNT:
        s = re.sub(r"\s+", "", s).removesuffix("元")
        s = fix_digit_lookalikes(s.lstrip("¥Y羊"))
        if not re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d\d)?|\d+(?:\.\d\d)?", s):
            return None
    elif t == FieldType.DATE:
        s = fix_digit_lookalikes(re.sub(r"\s+", "", s))
    elif t in _WORD_TYPES:
        if re.search(r"\d", s):
            return None  # printed in capitals; figures here mean the slice is not that field
    elif t == FieldType.CHOICE:
        return match_choice(spec, s) or nearest_choice(spec, s)
    elif t in _NAME_TYPES:
        s = strip_edge_junk(s)
        if not _HAS_WORD_CHAR.search(s):
            return None
    try:
        value, warning_code, _ = canonical_value(spec, s)
    except FieldValueError:
        return None
    return None if warning_code else value


def values_equal(spec: FieldSpec, a: str, b: str) -> bool:
    """True when two values of this field mean the same (compared in canonical form)."""
    return _comparable(spec, a) == _comparable(spec, b)


def _comparable(spec: FieldSpec, s: str | None) -> str:
    result = validate_keyed(spec, s or "")
    if result.value is not None:
        return result.value
    return re.sub(r"\s+", "", normalize_text(s or ""))
