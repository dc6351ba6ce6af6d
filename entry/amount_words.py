"""RMB amounts in cheque capitals (人民币壹万贰仟叁佰肆拾伍元陆角柒分) and back."""

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("仟", "佰", "拾", "")
_SECTIONS = ("亿", "万", "")
_MAX_AMOUNT = Decimal("999999999999.99")
_CENT = Decimal("0.01")

# Variant glyphs a writer (or an OCR engine) may produce for the same capital numeral.
_VARIANTS = str.maketrans(
    {
        "〇": "零", "○": "零", "一": "壹", "二": "贰", "两": "贰", "貳": "贰", "三": "叁",
        "參": "叁", "叄": "叁", "参": "叁", "四": "肆", "五": "伍", "六": "陆", "陸": "陆",
        "七": "柒", "八": "捌", "九": "玖", "十": "拾", "百": "佰", "千": "仟", "萬": "万",
        "億": "亿", "圆": "元", "圓": "元", "正": "整",
    }
)  # fmt: skip
_DIGIT_VALUE = {ch: i for i, ch in enumerate(_DIGITS)}
_UNIT_VALUE = {"拾": 10, "佰": 100, "仟": 1000}


class AmountWordsError(ValueError):
    """The text is not an amount written in capitals, or the amount cannot be written."""


def _group_words(group: int, *, leading: bool) -> str:
    """Words for 0 < group < 10000; a non-leading group below 1000 is preceded by 零."""
    out = []
    pending_zero = not leading and group < 1000
    for i, unit in enumerate(_SMALL_UNITS):
        d = group // 10 ** (3 - i) % 10
        if d == 0:
            pending_zero = pending_zero or bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_DIGITS[d] + unit)
    return "".join(out)


def _integer_words(n: int) -> str:
    if n == 0:
        return "零"
    groups = (n // 10**8, n // 10**4 % 10**4, n % 10**4)
    out: list[str] = []
    skipped_zero_group = False
    for group, section in zip(groups, _SECTIONS, strict=True):
        if group == 0:
            skipped_zero_group = skipped_zero_group or bool(out)
            continue
        words = _group_words(group, leading=not out)
        if skipped_zero_group and not words.startswith("零"):
            words = "零" + words
        skipped_zero_group = False
        out.append(words + section)
    return "".join(out)


def amount_to_words(amount: Decimal) -> str:
    """Write a non-negative amount with at most two decimals in RMB capitals."""
    try:
        amount = Decimal(amount)
        if not amount.is_finite() or amount < 0 or amount > _MAX_AMOUNT:
            raise AmountWordsError("amount out of range for capitals")
        cents = amount.quantize(_CENT)
    except InvalidOperation as exc:
        raise AmountWordsError("not a decimal amount") from exc
    if cents != amount:
        raise AmountWordsError("amount has more than two decimals")
    total = int(cents * 100)
    yuan, jiao, fen = total // 100, total // 10 % 10, total % 10
    if yuan == 0 and (jiao or fen):
        head = ""
    else:
        head = _integer_words(yuan) + "元"
    if jiao == 0 and fen == 0:
        return f"人民币{head}整"
    tail = ""
    if jiao:
        tail += _DIGITS[jiao] + "角"
    if fen:
        # 零 stands for the empty 角 place, but only after 元 (0.05 is plainly 伍分).
        tail += ("零" if head and not jiao else "") + _DIGITS[fen] + "分"
    return f"人民币{head}{tail}"


def _parse_section(text: str, *, bare_tail_ok: bool) -> int:
    """Parse a section below 10000 written with 仟/佰/拾 and 零 fillers.

    A digit with no unit after it is read as units only where that is unambiguous: after 拾,
    after a 零, or when it is the whole section and `bare_tail_ok` (壹万伍 could mean 15000).
    """
    value = 0
    digit: int | None = None
    last_unit = 10000
    zero_seen = False
    for ch in text:
        if ch == "零":
            if digit is not None:
                raise AmountWordsError("零 directly after a digit")
            zero_seen = True
        elif ch in _DIGIT_VALUE:
            if digit is not None:
                raise AmountWordsError("two digits without a unit between them")
            digit = _DIGIT_VALUE[ch]
        elif ch in _UNIT_VALUE:
            unit = _UNIT_VALUE[ch]
            if unit >= last_unit:
                raise AmountWordsError("units out of order")
            if digit is None:
                # A bare leading 拾 means 壹拾 (拾万 = 100000); any other bare unit is garbage.
                if unit != 10 or value or zero_seen or not bare_tail_ok:
                    raise AmountWordsError("unit without a digit")
                digit = 1
            value += digit * unit
            last_unit, digit, zero_seen = unit, None, False
        else:
            raise AmountWordsError("unexpected character in amount")
    if digit is not None:
        if not (last_unit == 10 or zero_seen or (last_unit == 10000 and bare_tail_ok)):
            raise AmountWordsError("ambiguous digit without a unit")
        value += digit
    elif value == 0:
        raise AmountWordsError("empty number section")
    return value


def _parse_integer(text: str) -> int:
    if re.fullmatch("零+", text):
        return 0
    value = 0
    rest = text
    for section, scale in (("亿", 10**8), ("万", 10**4)):
        if section in rest:
            head, rest = rest.split(section, 1)
            if section in rest:
                raise AmountWordsError("section repeated")
            value += _parse_section(head, bare_tail_ok=True) * scale
    if rest and not re.fullmatch("零+", rest):
        value += _parse_section(rest, bare_tail_ok=value == 0)
    return value


_FRACTION = re.compile(r"零*(?:([零壹贰叁肆伍陆柒捌玖])角)?零*(?:([零壹贰叁肆伍陆柒捌玖])分)?")


def words_to_amount(text: str) -> Decimal:
    """Parse capitals (with or without 人民币, 整/正, 圆 for 元, spaces) into a Decimal."""
    if not isinstance(text, str):
        raise AmountWordsError("amount words must be text")
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).translate(_VARIANTS)
    s = s.removeprefix("人民币").removeprefix(":")
    s = s.removesuffix("整")
    if not s:
        raise AmountWordsError("no amount")
    if "元" in s:
        int_text, frac_text = s.split("元", 1)
        if not int_text:
            raise AmountWordsError("元 without an amount")
        yuan = _parse_integer(int_text)
    else:
        int_text, frac_text, yuan = "", s, 0
    m = _FRACTION.fullmatch(frac_text)
    if m is None:
        raise AmountWordsError("malformed 角/分 part")
    jiao = _DIGIT_VALUE[m.group(1)] if m.group(1) else 0
    fen = _DIGIT_VALUE[m.group(2)] if m.group(2) else 0
    if not int_text and not (jiao or fen):
        raise AmountWordsError("no amount")
    return (Decimal(yuan) + Decimal(jiao) / 10 + Decimal(fen) / 100).quantize(_CENT)
