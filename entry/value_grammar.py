"""What each field type accepts and its canonical value (amounts, dates, accounts, IDs...)."""

import re
import unicodedata
from datetime import date
from decimal import Decimal

from entry.amount_words import AmountWordsError, words_to_amount
from entry.check_digits import id_check_char, luhn_valid
from entry.date_words import DateWordsError, words_to_date
from entry.field_spec import FieldSpec, FieldType


class FieldValueError(ValueError):
    """A value that cannot be a value of its field type; `code` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(code)
        self.code = code
        self.message = message


_MAX_AMOUNT = Decimal("999999999999.99")
_CENT = Decimal("0.01")
_AMOUNT_RE = re.compile(r"\d+(?:\.\d{1,2})?|\.\d{1,2}")
_DATE_RES = (
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
    re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"),
)
_PHONE_RE = re.compile(r"1[3-9]\d{9}")
_ID_RE = re.compile(r"\d{17}[\dX]")
_MIN_YEAR, _MAX_YEAR = 1900, 2099


def normalize_text(raw: str) -> str:
    """NFKC (full-width digits and letters to ASCII) and outer whitespace stripped."""
    return unicodedata.normalize("NFKC", raw).strip()


def _remove_spaces(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _parse_amount_figures(s: str) -> Decimal:
    s = _remove_spaces(s).lstrip("¥").removeprefix("RMB").removesuffix("元").replace(",", "")
    if s.startswith("-"):
        raise FieldValueError("range", "金额必须大于零")
    if not _AMOUNT_RE.fullmatch(s):
        raise FieldValueError("format", "金额格式不正确，应为数字，最多两位小数")
    return _check_amount(Decimal(s))


def _check_amount(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise FieldValueError("range", "金额必须大于零")
    if amount > _MAX_AMOUNT:
        raise FieldValueError("range", "金额超出上限")
    return amount.quantize(_CENT)


def _parse_date_figures(s: str) -> date:
    for pattern in _DATE_RES:
        m = pattern.fullmatch(s)
        if m:
            break
    else:
        raise FieldValueError("format", "日期格式不正确，例如 20261127 或 2026-11-27")
    year, month, day = (int(g) for g in m.groups())
    return _make_date(year, month, day)


def _make_date(year: int, month: int, day: int) -> date:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise FieldValueError("date_invalid", "年份超出范围")
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise FieldValueError("date_invalid", "日期不存在") from exc


def _keyed_date_words(s: str) -> date:
    if re.search(r"\d", s):
        return _parse_date_figures(s)
    try:
        d = words_to_date(s)
    except DateWordsError as exc:
        if isinstance(exc.__cause__, ValueError):
            raise FieldValueError("date_invalid", "日期不存在") from exc
        raise FieldValueError("format", "大写日期无法识别") from exc
    return _make_date(d.year, d.month, d.day)


def _keyed_amount_words(s: str) -> Decimal:
    if re.search(r"\d", s):
        return _parse_amount_figures(s)
    try:
        return _check_amount(words_to_amount(s))
    except AmountWordsError as exc:
        raise FieldValueError("format", "大写金额无法识别") from exc


def _only_digits(s: str, what: str) -> str:
    if not (s.isascii() and s.isdigit()):
        raise FieldValueError("format", f"{what}只能包含数字")
    return s


def canonical_value(spec: FieldSpec, s: str) -> tuple[str, str | None, str | None]:
    """Canonical value plus an optional soft (warning_code, warning); raises FieldValueError."""
    t = spec.type
    if t == FieldType.AMOUNT:
        return str(_parse_amount_figures(s)), None, None
    if t == FieldType.AMOUNT_WORDS:
        return str(_keyed_amount_words(s)), None, None
    if t == FieldType.DATE:
        return _parse_date_figures(_remove_spaces(s)).isoformat(), None, None
    if t == FieldType.DATE_WORDS:
        return _keyed_date_words(_remove_spaces(s)).isoformat(), None, None
    if t == FieldType.ACCOUNT:
        digits = _only_digits(re.sub(r"[\s-]", "", s), "账号")
        if not 16 <= len(digits) <= 19:
            raise FieldValueError("length", "账号应为16至19位数字")
        if not luhn_valid(digits):
            return digits, "luhn", "账号校验位不正确"
        return digits, None, None
    if t == FieldType.DIGITS:
        digits = _only_digits(_remove_spaces(s), "此项")
        if spec.length is not None and len(digits) != spec.length:
            raise FieldValueError("length", f"应为{spec.length}位数字")
        return digits, None, None
    if t == FieldType.INTEGER:
        n = int(_only_digits(_remove_spaces(s).replace(",", ""), "此项"))
        if (spec.min is not None and n < spec.min) or (spec.max is not None and n > spec.max):
            raise FieldValueError("range", f"数值应在{spec.min}至{spec.max}之间")
        return str(n), None, None
    if t in (FieldType.NAME, FieldType.BANK_NAME, FieldType.PLACE):
        return _remove_spaces(s), None, None
    if t == FieldType.TEXT:
        return re.sub(r"\s+", " ", s), None, None
    if t == FieldType.CHOICE:
        choice = match_choice(spec, s)
        if choice is None:
            raise FieldValueError("choice", "请从以下选项中选择：" + "/".join(spec.choices))
        return choice, None, None
    if t == FieldType.ID_NUMBER:
        number = _remove_spaces(s).upper()
        if len(number) != 18:
            raise FieldValueError("length", "身份证号码应为18位")
        if not _ID_RE.fullmatch(number):
            raise FieldValueError("format", "身份证号码格式不正确")
        if id_check_char(number[:17]) != number[17]:
            return number, "id_check", "身份证号码校验位不正确"
        return number, None, None
    if t == FieldType.PHONE:
        digits = _only_digits(re.sub(r"[\s-]", "", s).removeprefix("+86"), "手机号码")
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        if len(digits) != 11:
            raise FieldValueError("length", "手机号码应为11位")
        if not _PHONE_RE.fullmatch(digits):
            raise FieldValueError("format", "手机号码格式不正确")
        return digits, None, None
    raise FieldValueError("unknown_type", f"未知的字段类型：{t}")


def _choice_key(s: str) -> str:
    return _remove_spaces(unicodedata.normalize("NFKC", s)).casefold()


def match_choice(spec: FieldSpec, s: str) -> str | None:
    key = _choice_key(s)
    matches = [c for c in spec.choices if _choice_key(c) == key]
    return matches[0] if len(matches) == 1 else None
