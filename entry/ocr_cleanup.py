"""Clean-up of raw OCR text of a value slice: label remnants, look-alike glyphs, fuzzy choices."""

import re
import unicodedata

from entry.field_spec import FieldSpec

# Glyphs OCR engines confuse with digits; applied only to fields that can hold nothing but digits.
_DIGIT_LOOKALIKES = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", "S": "5", "s": "5",
     "B": "8", "Z": "2", "z": "2"}
)  # fmt: skip
_EDGE_JUNK = " \t\r\n:：;；，。、|/\\_—~`'\"()（）[]【】{}<>《》·"
_LABEL_SPLIT = re.compile(r"[\s()（）:：]+")


def fix_digit_lookalikes(s: str) -> str:
    """Replace letters that OCR commonly returns instead of digits (O->0, l->1, S->5, ...)."""
    return s.translate(_DIGIT_LOOKALIKES)


def strip_edge_junk(s: str) -> str:
    """Drop punctuation and cell-border strokes around the value."""
    return s.strip(_EDGE_JUNK)


def strip_label(spec: FieldSpec, s: str) -> str:
    """Remove remnants of the printed label (and ¥) that the slice caught at its left edge."""
    parts = [p for p in _LABEL_SPLIT.split(unicodedata.normalize("NFKC", spec.label)) if p]
    parts = sorted({*parts, "¥", "(大写)", "大写"}, key=len, reverse=True)
    previous = None
    while previous != s:
        previous = s
        s = strip_edge_junk(s)
        for part in parts:
            if s.startswith(part):
                s = s[len(part) :]
                break
    return s


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev_diag, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev_diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev_diag + (ca != cb))
    return row[-1]


def nearest_choice(spec: FieldSpec, s: str) -> str | None:
    """The single choice within a small edit distance of `s`, or None when none or ambiguous.

    At most one edit per four characters of the choice is tolerated, so short choices
    (男/女, 普通/加急) must match exactly: one wrong glyph there is half the word. The
    runner-up must be at least two edits further away (I类户/II类户/III类户 never are).
    """
    key = re.sub(r"\s+", "", s).casefold()
    if not key:
        return None
    scored = sorted(
        (edit_distance(key, re.sub(r"\s+", "", unicodedata.normalize("NFKC", c)).casefold()), c)
        for c in spec.choices
    )
    if not scored:
        return None
    best_distance, best = scored[0]
    if best_distance > len(best) // 4:
        return None
    if len(scored) > 1 and scored[1][0] < best_distance + 2:
        return None  # one more slip would make it the runner-up: too close to call
    return best
