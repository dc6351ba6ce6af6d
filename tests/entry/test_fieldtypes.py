import pytest

from entry.check_digits import luhn_check_digit
from entry.fieldtypes import FieldSpec, Validation, canonicalize_ocr, validate_keyed, values_equal

ACCOUNT = "622202123456789012" + luhn_check_digit("622202123456789012")
BAD_LUHN = ACCOUNT[:-1] + str((int(ACCOUNT[-1]) + 1) % 10)
SHORT_ACCOUNT = "62220212345678" + luhn_check_digit("62220212345678")
ID_OK = "11010519491231002X"
ID_BAD = "110105194912310021"


def spec(type_, **kw):
    return FieldSpec(name="f", type=type_, label=kw.pop("label", "标签"), **kw)


AMOUNT = spec("amount", label="¥", required=True)
AMOUNT_WORDS = spec("amount_words", label="金额 人民币(大写)", required=True)
DATE = spec("date", label="日期", required=True)
DATE_WORDS = spec("date_words", label="出票日期(大写)", required=True)
ACCT = spec("account", label="账号", required=True)
DIGITS8 = spec("digits", length=8, required=True)
COUNT = spec("integer", min=1, max=99, required=True)
NAME = spec("name", label="全称", required=True)
TEXT = spec("text", label="用途")
GENDER = spec("choice", choices=("男", "女"), required=True)
ID_TYPE = spec("choice", choices=("居民身份证", "护照", "港澳居民来往内地通行证"))
ACCOUNT_TYPE = spec("choice", choices=("I类户", "II类户", "III类户"))
ID = spec("id_number", label="证件号码", required=True)
PHONE = spec("phone", label="联系电话", required=True)


def test_fieldspec_from_dict_reads_form_entries():
    d = {"name": "instrument_count", "label": "票据张数", "label_box": [1, 2, 3, 4],
         "box": [1, 2, 3, 4], "type": "integer", "min": 1, "max": 99, "required": True}  # fmt: skip
    s = FieldSpec.from_dict(d)
    assert s == FieldSpec("instrument_count", "integer", "票据张数", True, None, 1, 99, ())
    g = FieldSpec.from_dict({"name": "g", "label": "性别", "type": "choice", "choices": ["男"]})
    assert g.choices == ("男",) and g.required is False


def test_fieldspec_from_dict_reads_every_builtin_field():
    from storage.builtin_forms import load_builtin_forms

    for form in load_builtin_forms().values():
        for field in form["fields"]:
            s = FieldSpec.from_dict(field)
            assert validate_keyed(s, "").error_code == ("required" if s.required else None)


def test_validation_ok_property():
    assert Validation("1").ok
    assert not Validation(None, "format", "x").ok
    assert Validation("1", warning_code="luhn", warning="w").ok


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [
        (AMOUNT, "12345.67", "12345.67"),
        (AMOUNT, "¥12,345.67", "12345.67"),
        (AMOUNT, "￥１２，３４５．６７", "12345.67"),
        (AMOUNT, " 100 ", "100.00"),
        (AMOUNT, "0.5", "0.50"),
        (AMOUNT_WORDS, "12345.67", "12345.67"),
        (AMOUNT_WORDS, "人民币壹万贰仟叁佰肆拾伍元陆角柒分", "12345.67"),
        (AMOUNT_WORDS, "壹佰元正", "100.00"),
        (DATE, "20261127", "2026-11-27"),
        (DATE, "2026-11-27", "2026-11-27"),
        (DATE, "2026/1/5", "2026-01-05"),
        (DATE, "2026年11月27日", "2026-11-27"),
        (DATE, "２０２６－１１－２７", "2026-11-27"),
        (DATE_WORDS, "20261127", "2026-11-27"),
        (DATE_WORDS, "2026-11-27", "2026-11-27"),
        (DATE_WORDS, "贰零贰陆年壹拾壹月贰拾柒日", "2026-11-27"),
        (ACCT, ACCOUNT, ACCOUNT),
        (ACCT, " ".join(ACCOUNT[i : i + 4] for i in range(0, 19, 4)), ACCOUNT),
        (DIGITS8, "1234 5678", "12345678"),
        (DIGITS8, "００１２３４５６", "00123456"),
        (COUNT, "07", "7"),
        (COUNT, "99", "99"),
        (NAME, " 张 三 ", "张三"),
        (NAME, "ＡＢＣ公司", "ABC公司"),
        (TEXT, "  货款   及  运费 ", "货款 及 运费"),
        (GENDER, "男", "男"),
        (GENDER, " 女 ", "女"),
        (ACCOUNT_TYPE, "ii类户", "II类户"),
        (ACCOUNT_TYPE, "Ⅱ类户", "II类户"),
        (ID, ID_OK.lower(), ID_OK),
        (ID, "110105 19491231 002X", ID_OK),
        (PHONE, "138 0013 8000", "13800138000"),
        (PHONE, "+86 13800138000", "13800138000"),
    ],
)
def test_validate_keyed_accepts_lenient_input(field, raw, value):
    result = validate_keyed(field, raw)
    assert result.ok and result.warning_code is None, result
    assert result.value == value


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        (AMOUNT, "", "required"),
        (AMOUNT, "   ", "required"),
        (AMOUNT, "12.345", "format"),
        (AMOUNT, "abc", "format"),
        (AMOUNT, "1.2.3", "format"),
        (AMOUNT, "0", "range"),
        (AMOUNT, "-5", "range"),
        (AMOUNT, "1000000000000", "range"),
        (AMOUNT_WORDS, "壹万伍元", "format"),
        (AMOUNT_WORDS, "人民币", "format"),
        (AMOUNT_WORDS, "零元整", "range"),
        (DATE, "2026-02-30", "date_invalid"),
        (DATE, "20261332", "date_invalid"),
        (DATE, "1800-01-01", "date_invalid"),
        (DATE, "27/11/2026", "format"),
        (DATE, "2026-11", "format"),
        (DATE_WORDS, "贰零贰陆年零贰月叁拾日", "date_invalid"),
        (DATE_WORDS, "贰零贰陆年", "format"),
        (DATE_WORDS, "2026-02-30", "date_invalid"),
        (ACCT, "6222 0212 3456 789A", "format"),
        (ACCT, "123456789012345", "length"),
        (ACCT, "12345678901234567890", "length"),
        (DIGITS8, "1234567", "length"),
        (DIGITS8, "1234567x", "format"),
        (COUNT, "0", "range"),
        (COUNT, "100", "range"),
        (COUNT, "1.5", "format"),
        (COUNT, "-1", "format"),
        (GENDER, "男性", "choice"),
        (GENDER, "M", "choice"),
        (ID, "11010519491231002", "length"),
        (ID, "11010519491231002Y", "format"),
        (PHONE, "12800138000", "format"),
        (PHONE, "1380013800", "length"),
        (PHONE, "1380013800a", "format"),
        (spec("mystery"), "x", "unknown_type"),
    ],
)
def test_validate_keyed_rejects_bad_values(field, raw, code):
    result = validate_keyed(field, raw)
    assert not result.ok
    assert result.error_code == code
    assert result.value is None
    assert result.message


def test_validate_keyed_optional_empty_is_ok_without_value():
    assert validate_keyed(TEXT, "  ") == Validation(None)


def test_validate_keyed_bad_luhn_is_soft_warning():
    result = validate_keyed(ACCT, BAD_LUHN)
    assert result.ok and result.value == BAD_LUHN
    assert result.warning_code == "luhn"
    assert result.warning == "账号校验位不正确"


def test_validate_keyed_bad_id_check_char_is_soft_warning():
    result = validate_keyed(ID, ID_BAD)
    assert result.ok and result.value == ID_BAD
    assert result.warning_code == "id_check"
    assert result.warning


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (ACCT, ACCOUNT.replace("0", "O").replace("1", "l"), ACCOUNT),
        (ACCT, "账号：" + " ".join(ACCOUNT[i : i + 4] for i in range(0, 19, 4)), ACCOUNT),
        (ACCT, "|" + ACCOUNT + "|", ACCOUNT),
        (DIGITS8, "l234S67B", "12345678"),
        (DIGITS8, "0012 3456", "00123456"),
        (COUNT, "O3", "3"),
        (PHONE, "l38 OOl3 8OOO", "13800138000"),
        (ID, "ll0lO5l949l23l002x", ID_OK),
        (AMOUNT, "¥12,345.67", "12345.67"),
        (AMOUNT, "Y12345.67", "12345.67"),
        (AMOUNT, "l2345.6O", "12345.60"),
        (AMOUNT_WORDS, "人民币壹万贰仟叁佰肆拾伍元陆角柒分", "12345.67"),
        (AMOUNT_WORDS, "(大写)人民币壹佰圆整", "100.00"),
        (DATE, "2026年11月27日", "2026-11-27"),
        (DATE, "日期 2026-11-27", "2026-11-27"),
        (DATE, "2O26-ll-27", "2026-11-27"),
        (DATE_WORDS, "贰零贰陆年壹拾壹月贰拾柒日", "2026-11-27"),
        (NAME, "全称 张三", "张三"),
        (TEXT, "用途: 货款", "货款"),
        (GENDER, "女", "女"),
        (ID_TYPE, "居民身份証", "居民身份证"),
        (ID_TYPE, "港澳居民来往内地通行証", "港澳居民来往内地通行证"),
        (ACCOUNT_TYPE, "II类户", "II类户"),
    ],
)
def test_canonicalize_ocr_fixes_common_confusions(field, text, value):
    assert canonicalize_ocr(field, text) == value


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (ACCT, BAD_LUHN),
        (ACCT, SHORT_ACCOUNT),
        (ACCT, ACCOUNT + "X"),
        (ACCT, ""),
        (DIGITS8, "1234567"),
        (DIGITS8, "12345678?"),
        (COUNT, "100"),
        (PHONE, "12800138000"),
        (PHONE, "1380013800"),
        (ID, ID_BAD),
        (ID, ID_OK[:-1]),
        (AMOUNT, "12.3"),
        (AMOUNT, "12,34.56"),
        (AMOUNT, ".50"),
        (AMOUNT, "-12.00"),
        (AMOUNT, "壹佰元"),
        (AMOUNT_WORDS, "12345.67"),
        (AMOUNT_WORDS, "人民币壹万伍元"),
        (AMOUNT_WORDS, "人民币"),
        (DATE, "2026-02-30"),
        (DATE, "2026-11"),
        (DATE_WORDS, "20261127"),
        (DATE_WORDS, "贰零贰陆年零贰月叁拾日"),
        (NAME, "|||"),
        (NAME, "1234"),
        (GENDER, "界"),
        (GENDER, "男女"),
        (ID_TYPE, "身份"),
        (ACCOUNT_TYPE, "IIII类户"),
        (ACCOUNT_TYPE, "l类户"),
        (spec("choice", choices=("普通", "加急")), "普道"),
        (spec("mystery"), "x"),
    ],
)
def test_canonicalize_ocr_returns_none_rather_than_guess(field, text):
    assert canonicalize_ocr(field, text) is None


def test_canonicalize_ocr_output_is_a_valid_keyed_value():
    cases = [(ACCT, ACCOUNT), (AMOUNT, "1,000.00"), (DATE_WORDS, "贰零贰陆年零壹月零壹日")]
    for field, text in cases:
        value = canonicalize_ocr(field, text)
        assert validate_keyed(field, value) == Validation(value)


@pytest.mark.parametrize(
    ("field", "a", "b", "equal"),
    [
        (AMOUNT, "12345.6", "12,345.60", True),
        (AMOUNT, "12345.67", "12345.76", False),
        (AMOUNT_WORDS, "12345.67", "人民币壹万贰仟叁佰肆拾伍元陆角柒分", True),
        (DATE, "2026-11-27", "20261127", True),
        (DATE_WORDS, "2026-01-01", "贰零贰陆年零壹月零壹日", True),
        (ACCT, ACCOUNT, " ".join(ACCOUNT[i : i + 4] for i in range(0, 19, 4)), True),
        (ACCT, ACCOUNT, BAD_LUHN, False),
        (NAME, "张三", "张 三", True),
        (NAME, "张三", "张四", False),
        (ID, ID_OK, ID_OK.lower(), True),
        (COUNT, "07", "7", True),
        (TEXT, "", "", True),
        (TEXT, "abc", "ABC", False),
    ],
)
def test_values_equal_compares_canonical_values(field, a, b, equal):
    assert values_equal(field, a, b) is equal
