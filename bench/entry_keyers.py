"""Simulated keyers for the entry benchmark: read the truth, err at rate p, sometimes alike.

A correlated error is the voucher field's "trap": one confusable misreading (1/7, 未/末...) that
every keyer who falls for it makes the same way, so two keys can agree on a wrong value.
"""

import hashlib
import random

DIGIT_CONFUSABLE = {
    "0": "8",
    "1": "7",
    "2": "7",
    "3": "8",
    "4": "9",
    "5": "6",
    "6": "5",
    "7": "1",
    "8": "3",
    "9": "4",
}
CJK_CONFUSABLE = {
    "未": "末",
    "末": "未",
    "己": "已",
    "已": "己",
    "日": "曰",
    "王": "玉",
    "大": "太",
    "天": "夫",
    "人": "入",
    "土": "士",
    "千": "干",
    "午": "牛",
    "贝": "见",
    "东": "乐",
    "江": "汪",
    "张": "涨",
    "李": "季",
    "林": "材",
    "明": "朋",
    "海": "每",
    "华": "毕",
    "国": "图",
    "市": "巿",
}
CJK_POOL = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工"


def _stable_rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def trap_value(truth: str, field_type: str, key: str, choices: list[str]) -> str | None:
    """The one misreading of this field everybody who misreads it alike produces."""
    if not truth:
        return None
    rng = _stable_rng("trap", key)
    if field_type == "choice":
        others = [c for c in choices if c != truth]
        return rng.choice(others) if others else None
    positions = [i for i, ch in enumerate(truth) if ch in DIGIT_CONFUSABLE or ch in CJK_CONFUSABLE]
    if not positions:
        return None
    i = rng.choice(positions)
    ch = truth[i]
    return truth[:i] + (DIGIT_CONFUSABLE.get(ch) or CJK_CONFUSABLE[ch]) + truth[i + 1 :]


def random_error(truth: str, field_type: str, rng: random.Random, choices: list[str]) -> str:
    """An independent slip: a wrong character or two neighbours swapped."""
    if not truth:
        return "1" if field_type in ("digits", "integer") else "某"
    if field_type == "choice":
        others = [c for c in choices if c != truth]
        return rng.choice(others) if others else truth
    i = rng.randrange(len(truth))
    ch = truth[i]
    if rng.random() < 0.3 and len(truth) > 1:
        j = min(i + 1, len(truth) - 1)
        i = j - 1
        if truth[i] != truth[j]:
            return truth[:i] + truth[j] + truth[i] + truth[j + 1 :]
    if ch.isdigit():
        new = rng.choice([d for d in "0123456789" if d != ch])
    elif ch.isascii():
        return truth  # separators: an error here does not change the value
    else:
        new = rng.choice([c for c in CJK_POOL if c != ch])
    return truth[:i] + new + truth[i + 1 :]


def keyed_form(truth: str, field_type: str) -> str:
    """How a keyer types the value: cheque dates in capitals are keyed as digits."""
    if field_type in ("date", "date_words") and truth:
        return truth.replace("-", "")
    return truth


class SimKeyer:
    def __init__(self, seed: int, error_rate: float, correlated: float):
        self.rng = random.Random(seed)
        self.p = error_rate
        self.correlated = correlated

    def read(self, truth: str, field_type: str, key: str, choices: list[str]) -> tuple[str, bool]:
        """What this keyer keys for the field, and whether it is a misreading."""
        if self.rng.random() >= self.p:
            return keyed_form(truth, field_type), False
        if self.rng.random() < self.correlated:
            trap = trap_value(truth, field_type, key, choices)
            if trap is not None:
                return keyed_form(trap, field_type), True
        wrong = random_error(truth, field_type, self.rng, choices)
        return keyed_form(wrong, field_type), wrong != truth
