"""Realistic synthetic field values for a form: canonical value plus the text as printed."""

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from entry.amount_words import amount_to_words
from entry.check_digits import id_check_char, luhn_check_digit
from entry.date_words import date_to_words
from synth import names

# Fixed default so a seed always yields the same vouchers; callers pass the real one.
DEFAULT_PROCESSING_DATE = date(2026, 11, 27)
STALE_CHEQUE_RATE = 0.1
EMPTY_OPTIONAL_RATE = 0.1


@dataclass(frozen=True)
class FilledValue:
    canonical: str
    printed: str


def normalize_name(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def normalize_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def make_person_name(rng: random.Random, gender: str | None = None) -> str:
    surname = (
        rng.choice(names.COMPOUND_SURNAMES) if rng.random() < 0.03 else rng.choice(names.SURNAMES)
    )
    gender = gender or rng.choice("男女")
    pool = names.GIVEN_MALE if gender == "男" else names.GIVEN_FEMALE
    given = rng.choice(pool)
    if rng.random() < 0.6:
        given = rng.choice(names.GIVEN_ANY + pool) + given
    return surname + given


def make_company_name(rng: random.Random) -> str:
    city = rng.choice(names.CITIES)[0]
    return (
        city
        + rng.choice(names.TRADE_NAMES)
        + rng.choice(names.INDUSTRIES)
        + rng.choice(names.COMPANY_FORMS)
    )


def make_bank_name(rng: random.Random) -> str:
    city, districts = rng.choice(names.CITIES)
    kind = rng.choice(names.BRANCH_KINDS)
    branch = city + ("" if kind.startswith("分行") else rng.choice(districts))
    return rng.choice(names.BANKS) + branch + kind


def make_place(rng: random.Random, field_name: str) -> str:
    if field_name == "nationality":
        return rng.choice(names.NATIONALITIES)
    city = rng.choice(names.CITIES)[0]
    province = names.PROVINCE_OF.get(city)
    if province and rng.random() < 0.4:
        return province + city + "市"
    return city + "市"


def make_address(rng: random.Random) -> str:
    city, districts = rng.choice(names.CITIES)
    district = rng.choice(districts)
    suffix = "" if district.endswith("园区") else ("新区" if district == "浦东" else "区")
    addr = f"{city}市{district}{suffix}{rng.choice(names.STREETS)}{rng.randint(1, 999)}号"
    if rng.random() < 0.5:
        addr += f"{rng.randint(1, 30)}{rng.randint(1, 9):02d}室"
    return addr


def make_account(rng: random.Random) -> FilledValue:
    length = rng.randint(16, 19)
    prefix = rng.choice(("6222", "6228", "6217", "6212", "6225", "4367"))
    partial = prefix + "".join(rng.choice("0123456789") for _ in range(length - 1 - len(prefix)))
    digits = partial + luhn_check_digit(partial)
    printed = digits
    if rng.random() < 0.4:
        printed = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return FilledValue(digits, printed)


def make_amount(rng: random.Random) -> Decimal:
    magnitude = rng.choices(range(7), weights=(1, 3, 6, 8, 8, 6, 3))[0]
    lead = rng.randint(1, 9)
    # Internal zeros are what makes 大写 amounts tricky (零 rules), so produce them often.
    body = "".join(
        "0" if rng.random() < 0.3 else rng.choice("0123456789") for _ in range(magnitude)
    )
    kind = rng.random()
    cents = (
        "00"
        if kind < 0.45
        else (f"{rng.randint(1, 9)}0" if kind < 0.6 else f"{rng.randint(0, 99):02d}")
    )
    return Decimal(f"{lead}{body}.{cents}")


def print_amount(rng: random.Random, amount: Decimal) -> str:
    style = rng.random()
    if style < 0.4:
        return f"{amount:,.2f}"
    if style < 0.7:
        return f"{amount:.2f}"
    return f"¥{amount:,.2f}"


def print_date(rng: random.Random, day: date) -> str:
    if rng.random() < 0.6:
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def make_id_number(rng: random.Random, gender: str, today: date) -> str:
    birth = today - timedelta(days=rng.randint(18 * 365 + 5, 75 * 365))
    seq = rng.randint(0, 99) * 10 + rng.choice(
        (1, 3, 5, 7, 9) if gender == "男" else (0, 2, 4, 6, 8)
    )
    first17 = f"{rng.choice(names.REGION_CODES)}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def make_text(rng: random.Random, field_name: str) -> str:
    if "address" in field_name:
        return make_address(rng)
    if "occupation" in field_name:
        return rng.choice(names.OCCUPATIONS)
    return rng.choice(names.PURPOSES)


def make_integer(rng: random.Random, low: int, high: int) -> int:
    # Small counts dominate real deposit slips.
    return min(high, max(low, int(low + (high - low) * rng.random() ** 3)))


def make_fills(
    form: dict, rng: random.Random, *, processing_date: date = DEFAULT_PROCESSING_DATE
) -> dict[str, FilledValue]:
    """Fill every field of `form` with consistent, realistic values."""
    fills: dict[str, FilledValue] = {}
    amount = make_amount(rng)
    gender = rng.choice("男女")
    person_only = form["form"] == "account_opening"
    used_accounts: set[str] = set()
    for field in form["fields"]:
        name, kind = field["name"], field["type"]
        if not field.get("required", True) and rng.random() < EMPTY_OPTIONAL_RATE:
            fills[name] = FilledValue("", "")
            continue
        if kind == "amount":
            value = FilledValue(f"{amount:.2f}", print_amount(rng, amount))
        elif kind == "amount_words":
            value = FilledValue(f"{amount:.2f}", amount_to_words(amount))
        elif kind == "date_words":
            back = rng.randint(0, 9) if rng.random() > STALE_CHEQUE_RATE else rng.randint(15, 60)
            day = processing_date - timedelta(days=back)
            value = FilledValue(day.isoformat(), date_to_words(day))
        elif kind == "date":
            if "expiry" in name:
                day = processing_date + timedelta(days=rng.randint(200, 20 * 365))
            else:
                day = processing_date - timedelta(days=rng.randint(0, 6))
            value = FilledValue(day.isoformat(), print_date(rng, day))
        elif kind == "name":
            company = not person_only and rng.random() < 0.55
            printed = make_company_name(rng) if company else make_person_name(rng, gender)
            value = FilledValue(normalize_name(printed), printed)
        elif kind == "bank_name":
            printed = make_bank_name(rng)
            value = FilledValue(normalize_name(printed), printed)
        elif kind == "place":
            printed = make_place(rng, name)
            value = FilledValue(normalize_name(printed), printed)
        elif kind == "account":
            value = make_account(rng)
            while value.canonical in used_accounts:
                value = make_account(rng)
            used_accounts.add(value.canonical)
        elif kind == "digits":
            digits = "".join(rng.choice("0123456789") for _ in range(field["length"]))
            value = FilledValue(digits, digits)
        elif kind == "integer":
            number = str(make_integer(rng, field["min"], field["max"]))
            value = FilledValue(number, number)
        elif kind == "choice":
            choice = gender if name == "gender" else _pick_choice(rng, field["choices"])
            value = FilledValue(choice, choice)
        elif kind == "id_number":
            number = make_id_number(rng, gender, processing_date)
            printed = number.lower() if number.endswith("X") and rng.random() < 0.2 else number
            value = FilledValue(number, printed)
        elif kind == "phone":
            phone = (
                "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
            )
            value = FilledValue(phone, phone)
        elif kind == "text":
            printed = make_text(rng, name)
            value = FilledValue(normalize_text(printed), printed)
        else:
            raise ValueError(f"unknown field type {kind!r} for {name}")
        fills[name] = value
    return fills


def _pick_choice(rng: random.Random, choices: list[str]) -> str:
    # The first choice is the common case on real vouchers (居民身份证, 普通, 转账支票...).
    if rng.random() < 0.6:
        return choices[0]
    return rng.choice(choices)
