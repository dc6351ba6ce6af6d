import random
from decimal import Decimal

import pytest

from entry.amount_words import AmountWordsError, amount_to_words, words_to_amount


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("12345.67", "人民币壹万贰仟叁佰肆拾伍元陆角柒分"),
        ("100", "人民币壹佰元整"),
        ("100.00", "人民币壹佰元整"),
        ("10005.00", "人民币壹万零伍元整"),
        ("0.5", "人民币伍角"),
        ("0.05", "人民币伍分"),
        ("0.56", "人民币伍角陆分"),
        ("100000000", "人民币壹亿元整"),
        ("100010000", "人民币壹亿零壹万元整"),
        ("100000005", "人民币壹亿零伍元整"),
        ("120000000", "人民币壹亿贰仟万元整"),
        ("10", "人民币壹拾元整"),
        ("15", "人民币壹拾伍元整"),
        ("1010", "人民币壹仟零壹拾元整"),
        ("1409.50", "人民币壹仟肆佰零玖元伍角"),
        ("6007.14", "人民币陆仟零柒元壹角肆分"),
        ("325.04", "人民币叁佰贰拾伍元零肆分"),
        ("107000.53", "人民币壹拾万柒仟元伍角叁分"),
        ("1000000", "人民币壹佰万元整"),
        ("0", "人民币零元整"),
        ("999999999999.99", "人民币玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_amount_to_words_examples(amount, words):
    assert amount_to_words(Decimal(amount)) == words
    assert words_to_amount(words) == Decimal(amount)


@pytest.mark.parametrize("bad", ["-1", "0.001", "12.345", "1000000000000", "NaN", "Infinity"])
def test_amount_to_words_rejects_unwritable_amounts(bad):
    with pytest.raises(AmountWordsError):
        amount_to_words(Decimal(bad))


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("壹佰元整", "100.00"),
        ("人民币 壹佰 圆 正", "100.00"),
        ("人民币壹佰圆整", "100.00"),
        ("壹拾元", "10.00"),
        ("拾元整", "10.00"),
        ("拾万元整", "100000.00"),
        ("壹仟陆佰捌拾元零叁角贰分", "1680.32"),
        ("壹仟陆佰捌拾元叁角贰分", "1680.32"),
        ("壹拾万零柒仟元伍角叁分", "107000.53"),
        ("壹元伍角整", "1.50"),
        ("伍角陆分", "0.56"),
        ("零元伍角", "0.50"),
        ("壹万伍佰元", "10500.00"),
        ("贰亿伍万元整", "200050000.00"),
        ("一百元整", "100.00"),
        ("貳佰圓整", "200.00"),
        ("人民币：壹佰元整", "100.00"),
    ],
)
def test_words_to_amount_tolerant_forms(text, amount):
    assert words_to_amount(text) == Decimal(amount)


@pytest.mark.parametrize(
    "bad",
    ["", "人民币", "整", "人民币整", "hello", "壹佰", "壹壹元", "佰元", "壹万伍元", "壹佰伍元",
     "壹拾佰元", "壹元伍", "壹元伍分角", "元整", "壹佰元整整", "壹万万元", "伍零元", "壹佰元x",
     "12345.67", "壹佰元叁", "角", "人民币零角"],
)  # fmt: skip
def test_words_to_amount_rejects_garbage(bad):
    with pytest.raises(AmountWordsError):
        words_to_amount(bad)


def test_words_to_amount_error_is_value_error():
    assert issubclass(AmountWordsError, ValueError)
    with pytest.raises(ValueError):
        words_to_amount("不是金额")


def test_amount_words_round_trip_many_amounts():
    rng = random.Random(2026)
    cents_values = [1, 9, 10, 99, 100, 101, 1000, 100000, 1000000, 9999999999]
    cents_values += [rng.randint(1, 9999999999) for _ in range(20000)]
    # Amounts with many zeros exercise the 零 rules hardest.
    for _ in range(5000):
        digits = [rng.choice("0000000123456789") for _ in range(10)]
        cents_values.append(int("".join(digits)) or 1)
    for cents in cents_values:
        amount = Decimal(cents) / 100
        words = amount_to_words(amount)
        assert words_to_amount(words) == amount, (amount, words)
        assert "零零" not in words
        assert not words.removeprefix("人民币").startswith("零") or amount < 1
