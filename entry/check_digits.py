"""Check-digit arithmetic: Luhn (bank accounts) and GB 11643 / ISO 7064 MOD 11-2 (ID numbers)."""

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"


def _is_ascii_digits(s: str) -> bool:
    # str.isdigit() also accepts superscripts and other scripts' digits; we only want 0-9.
    return bool(s) and s.isascii() and s.isdigit()


def _luhn_sum(digits: str, double_first: bool) -> int:
    total = 0
    double = double_first
    for ch in reversed(digits):
        n = ord(ch) - 48
        if double:
            n *= 2
            if n > 9:
                n -= 9
        total += n
        double = not double
    return total


def luhn_valid(digits: str) -> bool:
    """True when `digits` (ASCII 0-9 only, at least two) ends in a correct Luhn check digit."""
    if not _is_ascii_digits(digits) or len(digits) < 2:
        return False
    return _luhn_sum(digits, double_first=False) % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The Luhn check digit to append to `partial` (ASCII digits); ValueError otherwise."""
    if not _is_ascii_digits(partial):
        raise ValueError("luhn_check_digit needs ASCII digits")
    return str((10 - _luhn_sum(partial, double_first=True) % 10) % 10)


def id_check_char(first17: str) -> str:
    """GB 11643 check character ('0'-'9' or 'X') for the first 17 digits of an ID number."""
    if len(first17) != 17 or not _is_ascii_digits(first17):
        raise ValueError("id_check_char needs exactly 17 ASCII digits")
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def id_number_valid(s: str) -> bool:
    """True for an 18-character ID number whose last character is its GB 11643 check character.

    A lower-case 'x' is accepted (the canonical form is upper-case); the birth date is not
    checked here, only the format and the check character.
    """
    if not isinstance(s, str) or len(s) != 18 or not _is_ascii_digits(s[:17]):
        return False
    return id_check_char(s[:17]) == s[17].upper()
