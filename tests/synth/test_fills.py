"""Ground-truth consistency of synthetic fills: the values agree with the field rules."""

import random
import re
from datetime import date
from decimal import Decimal

import pytest

from entry.amount_words import amount_to_words, words_to_amount
from entry.check_digits import id_number_valid, luhn_valid
from entry.date_words import words_to_date
from storage.builtin_forms import load_builtin_forms
from synth.fills import DEFAULT_PROCESSING_DATE, make_fills

FORMS = load_builtin_forms()
SEEDS = range(60)


def all_fills(form_name: str):
    form = FORMS[form_name]
    for seed in SEEDS:
        yield form, make_fills(form, random.Random(seed))


@pytest.mark.parametrize("form_name", sorted(FORMS))
def test_make_fills_every_field_filled(form_name):
    for form, fills in all_fills(form_name):
        assert set(fills) == {f["name"] for f in form["fields"]}
        for field in form["fields"]:
            if field.get("required", True):
                assert fills[field["name"]].canonical, field["name"]


@pytest.mark.parametrize("form_name", ["transfer_cheque", "deposit_slip", "wire_transfer"])
def test_make_fills_amount_words_equal_amount(form_name):
    for _, fills in all_fills(form_name):
        amount = Decimal(fills["amount"].canonical)
        assert fills["amount_words"].canonical == fills["amount"].canonical
        assert fills["amount_words"].printed == amount_to_words(amount)
        assert words_to_amount(fills["amount_words"].printed) == amount
        printed = fills["amount"].printed.removeprefix("¥").replace(",", "")
        assert Decimal(printed) == amount
        assert re.fullmatch(r"\d+\.\d\d", fills["amount"].canonical)


def test_make_fills_accounts_pass_luhn_and_differ():
    for name in ("transfer_cheque", "deposit_slip", "wire_transfer"):
        for form, fills in all_fills(name):
            accounts = [fills[f["name"]] for f in form["fields"] if f["type"] == "account"]
            for account in accounts:
                assert re.fullmatch(r"\d{16,19}", account.canonical)
                assert luhn_valid(account.canonical)
                assert account.printed.replace(" ", "") == account.canonical
            assert len({a.canonical for a in accounts}) == len(accounts)


def test_make_fills_id_number_check_char_and_gender():
    for _, fills in all_fills("account_opening"):
        number = fills["id_number"].canonical
        assert id_number_valid(number)
        assert fills["id_number"].printed.upper() == number
        expected_gender = "男" if int(number[16]) % 2 else "女"
        assert fills["gender"].canonical == expected_gender
        assert fills["id_expiry"].canonical > fills["apply_date"].canonical


def test_make_fills_cheque_dates_mostly_within_ten_days():
    fresh = 0
    for _, fills in all_fills("transfer_cheque"):
        issued = date.fromisoformat(fills["issue_date"].canonical)
        assert words_to_date(fills["issue_date"].printed) == issued
        age = (DEFAULT_PROCESSING_DATE - issued).days
        assert age >= 0
        fresh += age < 10
    assert len(SEEDS) * 0.7 < fresh < len(SEEDS)


def test_make_fills_simple_types_follow_their_spec():
    for name in FORMS:
        for form, fills in all_fills(name):
            for field in form["fields"]:
                value = fills[field["name"]]
                kind = field["type"]
                if kind == "digits":
                    assert re.fullmatch(rf"\d{{{field['length']}}}", value.canonical)
                elif kind == "integer":
                    assert field["min"] <= int(value.canonical) <= field["max"]
                    assert str(int(value.canonical)) == value.canonical
                elif kind == "choice":
                    assert value.canonical in field["choices"]
                elif kind == "phone":
                    assert re.fullmatch(r"1[3-9]\d{9}", value.canonical)
                elif kind == "date":
                    day = date.fromisoformat(value.canonical)
                    assert value.printed in (
                        day.isoformat(),
                        f"{day.year}年{day.month}月{day.day}日",
                    )
                elif kind in ("name", "bank_name", "place"):
                    assert " " not in value.canonical
