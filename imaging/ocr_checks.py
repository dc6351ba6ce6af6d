"""Shape checks on OCR text per field type: a reading that cannot be a value of its type is
not trusted. Plausibility only; canonical values and business rules belong to `entry`."""

import re
from datetime import date

CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
CJK = r"\u3400-\u9fff"

_AMOUNT = re.compile(r"[¥￥]?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{2}")
_DATE_NUM = re.compile(r"(\d{4})(?:-(\d{2})-(\d{2})|年(\d{1,2})月(\d{1,2})日)")
_AMOUNT_WORDS = re.compile(
    r"人民币(?P<int>[零壹贰叁肆伍陆柒捌玖拾佰仟万亿]*元)"
    r"(?P<frac>整|[零壹贰叁肆伍陆柒捌玖]角整?|[零壹贰叁肆伍陆柒捌玖]角[壹贰叁肆伍陆柒捌玖]分|零?[壹贰叁肆伍陆柒捌玖]分)"
)
_ID = re.compile(r"\d{17}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _capital(n: int) -> str:
    return CAPITAL_DIGITS[n]


def _month_words() -> dict[str, int]:
    words = {}
    for m in range(1, 13):
        if m < 10:
            w = ("零" if m in (1, 2) else "") + _capital(m)
        elif m == 10:
            w = "零壹拾"
        else:
            w = "壹拾" + _capital(m - 10)
        words[w] = m
    return words


def _day_words() -> dict[str, int]:
    words = {}
    for d in range(1, 32):
        tens, ones = divmod(d, 10)
        if d < 10:
            w = "零" + _capital(d)
        elif ones == 0:
            w = "零" + _capital(tens) + "拾"
        else:
            w = _capital(tens) + "拾" + _capital(ones)
        words[w] = d
    return words


_MONTHS = _month_words()
_DAYS = _day_words()
_DATE_WORDS = re.compile(r"([零壹贰叁肆伍陆柒捌玖]{4})年(.+)月(.+)日")


def is_valid_date(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return 1900 <= y <= 2199


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def id_number_ok(text: str) -> bool:
    if not _ID.fullmatch(text):
        return False
    check = _ID_CHECK[sum(int(c) * w for c, w in zip(text, _ID_WEIGHTS, strict=False)) % 11]
    return check == text[-1] and is_valid_date(int(text[6:10]), int(text[10:12]), int(text[12:14]))


def date_words_ok(text: str) -> bool:
    match = _DATE_WORDS.fullmatch(text)
    if not match:
        return False
    year = int("".join(str(CAPITAL_DIGITS.index(c)) for c in match.group(1)))
    month, day = _MONTHS.get(match.group(2)), _DAYS.get(match.group(3))
    return month is not None and day is not None and is_valid_date(year, month, day)


def amount_words_ok(text: str) -> bool:
    match = _AMOUNT_WORDS.fullmatch(text)
    if not match:
        return False
    body = match.group("int")[:-1]
    if not body:
        return False
    digits = set(CAPITAL_DIGITS[1:])
    # Digits and units alternate; only 零 may stand alone between units.
    for a, b in zip(body, body[1:], strict=False):
        if a in digits and b in digits or a == "零" and b == "零":
            return False
    return body[0] != "零" or body == "零"


def date_ok(text: str) -> bool:
    match = _DATE_NUM.fullmatch(text)
    if not match:
        return False
    y, m1, d1, m2, d2 = match.groups()
    return is_valid_date(int(y), int(m1 or m2), int(d1 or d2))


def is_plausible(field_type: str, text: str, length: int | None, choices: tuple[str, ...]) -> bool:
    """True when `text` (as OCR cleaned it) has the shape of a value of `field_type`."""
    compact = text.replace(" ", "")
    if not compact:
        return False
    match field_type:
        case "digits":
            return compact.isdigit() and (length is None or len(compact) == length)
        case "account":
            return compact.isdigit() and 16 <= len(compact) <= 19 and luhn_ok(compact)
        case "phone":
            return re.fullmatch(r"1[3-9]\d{9}", compact) is not None
        case "integer":
            return compact.isdigit() and (compact == "0" or compact[0] != "0")
        case "amount":
            return _AMOUNT.fullmatch(compact) is not None
        case "id_number":
            return id_number_ok(compact)
        case "date":
            return date_ok(compact)
        case "date_words":
            return date_words_ok(compact)
        case "amount_words":
            return amount_words_ok(compact)
        case "choice":
            return compact in choices
        case "name" | "bank_name" | "place":
            return re.fullmatch(rf"[{CJK}·（）()]{{2,40}}", compact) is not None
        case _:
            return True
