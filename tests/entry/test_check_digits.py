import random

import pytest

from entry.check_digits import id_check_char, id_number_valid, luhn_check_digit, luhn_valid


def test_luhn_valid_known_numbers():
    assert luhn_valid("79927398713")
    assert luhn_valid("4111111111111111")
    assert luhn_valid("6222021234567890128") is luhn_valid("6222021234567890128")


def test_luhn_valid_rejects_wrong_check_digit():
    assert not luhn_valid("79927398710")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize("bad", ["", "7", "1234 5678", "12a4", "１２３４", "²³", "-0"])
def test_luhn_valid_rejects_non_digits(bad):
    assert not luhn_valid(bad)


def test_luhn_check_digit_completes_valid_numbers():
    rng = random.Random(7)
    for _ in range(500):
        partial = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        full = partial + luhn_check_digit(partial)
        assert luhn_valid(full)
        wrong = partial + str((int(full[-1]) + 1) % 10)
        assert not luhn_valid(wrong)


def test_luhn_check_digit_known():
    assert luhn_check_digit("7992739871") == "3"


def test_luhn_check_digit_rejects_non_digits():
    with pytest.raises(ValueError):
        luhn_check_digit("12x")
    with pytest.raises(ValueError):
        luhn_check_digit("")


def test_id_check_char_known_numbers():
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"
    assert id_number_valid("11010519491231002X")
    assert id_number_valid("11010519491231002x")
    assert id_number_valid("440524188001010014")


@pytest.mark.parametrize("bad", ["1101051949123100", "110105194912310021", "abcdefghijklmnopq"])
def test_id_check_char_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        id_check_char(bad)


@pytest.mark.parametrize(
    "bad",
    ["", "110105194912310021", "11010519491231002", "11010519491231002X1", "1101051949123100AX",
     "11010519491231002Y", "１１０１０５１９４９１２３１００２X"],
)  # fmt: skip
def test_id_number_valid_rejects_bad_numbers(bad):
    assert not id_number_valid(bad)


def test_id_number_valid_every_check_char_detects_single_digit_change():
    rng = random.Random(11)
    for _ in range(300):
        first17 = "".join(rng.choice("0123456789") for _ in range(17))
        number = first17 + id_check_char(first17)
        assert id_number_valid(number)
        pos = rng.randrange(17)
        changed = number[:pos] + str((int(number[pos]) + 1) % 10) + number[pos + 1 :]
        assert not id_number_valid(changed)
