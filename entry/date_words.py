"""Cheque dates in capitals (贰零贰陆年壹拾壹月贰拾柒日) per the payment rules, and back."""

import re
import unicodedata
from datetime import date

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_DIGIT_VALUE = {ch: i for i, ch in enumerate(_DIGITS)}
_VARIANTS = str.maketrans(
    {
        "〇": "零", "○": "零", "O": "零", "一": "壹", "二": "贰", "貳": "贰", "三": "叁",
        "參": "叁", "叄": "叁", "参": "叁", "四": "肆", "五": "伍", "六": "陆", "陸": "陆",
        "七": "柒", "八": "捌", "九": "玖", "十": "拾",
    }
)  # fmt: skip
_D = "[零壹贰叁肆伍陆柒捌玖]"
_SMALL = rf"零?(?:{_D}|{_D}?拾{_D}?)"
_PATTERN = re.compile(rf"({_D}{{4}})年({_SMALL})月({_SMALL})日?")


class DateWordsError(ValueError):
    """The text is not a date written in capitals, or not a real calendar date."""


def _small_words(n: int) -> str:
    """Month or day in capitals, with the leading 零 the payment rules require."""
    if n < 10:
        words = _DIGITS[n]
    elif n < 20:
        words = "壹拾" + (_DIGITS[n - 10] if n > 10 else "")
    else:
        words = _DIGITS[n // 10] + "拾" + (_DIGITS[n % 10] if n % 10 else "")
    # 零 guards against 壹 being altered into 壹拾 etc.: months 1, 2, 10; days 1-10, 20, 30.
    if n <= 10 or n in (20, 30):
        words = "零" + words
    return words


def date_to_words(d: date) -> str:
    """Write a date in cheque capitals, e.g. 贰零贰陆年零壹月零壹日."""
    year = "".join(_DIGITS[int(ch)] for ch in f"{d.year:04d}")
    return f"{year}年{_month_words(d.month)}月{_small_words(d.day)}日"


def _month_words(m: int) -> str:
    # Months 3-9 are not preceded by 零 (only 1, 2 and 10 are, the ones that could be altered).
    return _small_words(m) if m in (1, 2, 10) or m > 10 else _DIGITS[m]


def _parse_small(text: str) -> int:
    body = text.removeprefix("零")
    if "拾" not in body:
        if len(body) != 1 or body == "零":
            raise DateWordsError("malformed month or day")
        return _DIGIT_VALUE[body]
    tens_text, ones_text = body.split("拾")
    tens = _DIGIT_VALUE[tens_text] if tens_text else 1
    ones = _DIGIT_VALUE[ones_text] if ones_text else 0
    if tens == 0 or ones_text == "零":
        raise DateWordsError("malformed month or day")
    return tens * 10 + ones


def words_to_date(text: str) -> date:
    """Parse a date in capitals; a missing leading 零 or 壹 before 拾 is tolerated."""
    if not isinstance(text, str):
        raise DateWordsError("date words must be text")
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).translate(_VARIANTS)
    m = _PATTERN.fullmatch(s)
    if m is None:
        raise DateWordsError("not a date in capitals")
    year = int("".join(str(_DIGIT_VALUE[ch]) for ch in m.group(1)))
    try:
        return date(year, _parse_small(m.group(2)), _parse_small(m.group(3)))
    except ValueError as exc:
        if isinstance(exc, DateWordsError):
            raise
        raise DateWordsError("not a calendar date") from exc
