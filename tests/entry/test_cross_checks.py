from datetime import date

import pytest

from entry.check_digits import id_check_char, luhn_check_digit
from entry.cross_checks import CrossCheckFailure, evaluate_cross_checks
from storage.builtin_forms import load_builtin_forms

FORMS = load_builtin_forms()
PROCESSING = date(2026, 11, 27)
ACC_A = "622202123456789012" + luhn_check_digit("622202123456789012")
ACC_B = "622848001122334455" + luhn_check_digit("622848001122334455")


MALE_ID = "11010519900101001" + id_check_char("11010519900101001")  # digit 17 odd: 男
FEMALE_ID = "11010519900101002" + id_check_char("11010519900101002")  # digit 17 even: 女


def cheque(**over):
    values = {
        "issue_date": "2026-11-20", "payer_bank": "示范银行上海浦东支行", "payee_name": "张三",
        "drawer_account": ACC_A, "amount_words": "12345.67", "amount": "12345.67",
        "purpose": None, "payment_password": "1234567890123456",
    }  # fmt: skip
    values.update(over)
    return values


def deposit(**over):
    values = {
        "date": "2026-11-27", "payer_name": "甲公司", "payer_account": ACC_A,
        "payer_bank": "示范银行上海分行", "payee_name": "乙公司", "payee_account": ACC_B,
        "payee_bank": "示范银行北京分行", "amount_words": "100.00", "amount": "100.00",
        "instrument_type": "转账支票", "instrument_count": "1", "instrument_number": "12345678",
    }  # fmt: skip
    values.update(over)
    return values


def wire(**over):
    values = {
        "date": "2026-11-27", "urgency": "普通", "remitter_name": "张三", "remitter_account": ACC_A,
        "remit_from": "上海市", "beneficiary_name": "李四", "beneficiary_account": ACC_B,
        "remit_to": "北京市", "remit_bank": "示范银行上海分行",
        "beneficiary_bank": "示范银行北京分行",
        "amount_words": "5000.00", "amount": "5000.00", "payment_password": "1234567890123456",
        "remark": "",
    }  # fmt: skip
    values.update(over)
    return values


def opening(**over):
    values = {
        "applicant_name": "王五", "gender": "男", "nationality": "中国", "id_type": "居民身份证",
        "id_number": MALE_ID, "id_expiry": "2036-01-01", "phone": "13800138000",
        "address": "上海市浦东新区示范路1号", "occupation": "工程师", "account_type": "I类户",
        "apply_date": "2026-11-27",
    }  # fmt: skip
    values.update(over)
    return values


def codes(form: str, values: dict) -> list[str]:
    failures = evaluate_cross_checks(FORMS[form], values, processing_date=PROCESSING)
    assert all(isinstance(f, CrossCheckFailure) for f in failures)
    return [f.code for f in failures]


@pytest.mark.parametrize(
    ("form", "values"),
    [("transfer_cheque", cheque()), ("deposit_slip", deposit()), ("wire_transfer", wire()),
     ("account_opening", opening())],
)  # fmt: skip
def test_evaluate_cross_checks_good_vouchers_pass(form, values):
    assert codes(form, values) == []


def test_evaluate_cross_checks_every_builtin_rule_is_understood():
    for form in FORMS.values():
        failures = evaluate_cross_checks(form, {}, processing_date=PROCESSING)
        assert "unknown_rule" not in [f.code for f in failures], form["form"]


def test_evaluate_cross_checks_amount_mismatch():
    failures = evaluate_cross_checks(
        FORMS["deposit_slip"], deposit(amount="100.01"), processing_date=PROCESSING
    )
    assert [f.code for f in failures] == ["amount_mismatch"]
    assert failures[0].fields == ("amount_words", "amount")
    assert failures[0].rule == "amount_words == amount"
    assert failures[0].message


def test_evaluate_cross_checks_amount_words_as_words_are_compared_by_value():
    assert codes("wire_transfer", wire(amount_words="人民币伍仟元整")) == []
    assert codes("wire_transfer", wire(amount_words="人民币伍仟零壹元整")) == ["amount_mismatch"]


def test_evaluate_cross_checks_unparseable_amount_does_not_pass_silently():
    assert codes("wire_transfer", wire(amount_words="人民币伍仟伍元")) == ["invalid_value"]


def test_evaluate_cross_checks_same_accounts():
    assert codes("deposit_slip", deposit(payee_account=ACC_A)) == ["same_account"]
    spaced = " ".join(ACC_A[i : i + 4] for i in range(0, 19, 4))
    assert codes("wire_transfer", wire(beneficiary_account=spaced)) == ["same_account"]


@pytest.mark.parametrize(
    ("issue_date", "expected"),
    [("2026-11-27", []), ("2026-11-17", []), ("2026-11-16", ["date_expired"]),
     ("2026-11-28", ["date_future"]), ("2025-11-20", ["date_expired"]),
     ("贰零贰陆年壹拾壹月贰拾日", [])],
)  # fmt: skip
def test_evaluate_cross_checks_cheque_issue_date_window(issue_date, expected):
    assert codes("transfer_cheque", cheque(issue_date=issue_date)) == expected


def test_evaluate_cross_checks_missing_required_fields():
    failures = evaluate_cross_checks(
        FORMS["transfer_cheque"], cheque(amount=None, payee_name="  "), processing_date=PROCESSING
    )
    required = [f for f in failures if f.code == "required"]
    assert {f.fields for f in required} == {("amount",), ("payee_name",)}
    assert all(f.rule == "required fields present" for f in required)
    assert [f.code for f in failures if f.code != "required"] == []


def test_evaluate_cross_checks_optional_field_may_be_missing():
    values = cheque()
    del values["purpose"]
    assert codes("transfer_cheque", values) == []


def test_evaluate_cross_checks_id_checksum():
    bad = MALE_ID[:-1] + ("0" if MALE_ID[-1] != "0" else "1")
    assert codes("account_opening", opening(id_number=bad)) == ["id_checksum"]


def test_evaluate_cross_checks_id_expiry_after_apply_date():
    assert codes("account_opening", opening(id_expiry="2026-11-27")) == ["not_after"]
    assert codes("account_opening", opening(id_expiry="2020-01-01")) == ["not_after"]


def test_evaluate_cross_checks_gender_against_id_digit_17():
    assert codes("account_opening", opening(gender="女")) == ["gender_mismatch"]
    assert codes("account_opening", opening(gender="女", id_number=FEMALE_ID)) == []
    assert codes("account_opening", opening(gender="男", id_number=FEMALE_ID)) == [
        "gender_mismatch"
    ]


def test_evaluate_cross_checks_gender_rule_only_for_resident_id_card():
    assert codes("account_opening", opening(gender="女", id_type="护照")) == []


def test_evaluate_cross_checks_unknown_rule_fails():
    form = dict(FORMS["deposit_slip"], cross_checks=["payer_name sounds trustworthy"])
    failures = evaluate_cross_checks(form, deposit(), processing_date=PROCESSING)
    assert [(f.code, f.rule) for f in failures] == [
        ("unknown_rule", "payer_name sounds trustworthy")
    ]


def test_evaluate_cross_checks_rule_on_missing_field_fails():
    form = dict(FORMS["deposit_slip"], cross_checks=["amount == no_such_field"])
    assert codes("deposit_slip", deposit()) == []
    failures = evaluate_cross_checks(form, deposit(), processing_date=PROCESSING)
    assert [f.code for f in failures] == ["unknown_rule"]


def test_evaluate_cross_checks_rule_on_wrong_field_type_fails():
    form = dict(FORMS["deposit_slip"], cross_checks=["payer_name after amount"])
    failures = evaluate_cross_checks(form, deposit(), processing_date=PROCESSING)
    assert [f.code for f in failures] == ["unknown_rule"]
