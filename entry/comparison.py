"""Comparing the normalized keys of one field: settle, open a third blind key, or arbitrate.

Pure: ballots in, a verdict out. A ballot is a canonical value or a flag (illegible, blank);
a high-confidence OCR value may count as one ballot (OCR + one policy) but is never a keyer.
"""

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

ILLEGIBLE = "flag:illegible"
BLANK = "flag:blank"


class Action(StrEnum):
    WAIT = "wait"  # not enough keys yet
    SETTLE = "settle"
    THIRD_KEY = "third_key"
    ARBITRATE = "arbitrate"


@dataclass(frozen=True)
class Ballot:
    key_id: int | None  # None: the OCR reading
    token: str  # "v:<canonical>" | ILLEGIBLE | BLANK


@dataclass(frozen=True)
class Verdict:
    action: Action
    token: str | None = None
    winners: tuple[int, ...] = ()
    losers: tuple[int, ...] = ()


def ballot_token(value: str | None, flag: str | None) -> str:
    if flag == "illegible":
        return ILLEGIBLE
    if flag == "blank" or value is None or value == "":
        return BLANK
    return "v:" + value


def token_value(token: str) -> str | None:
    return token[2:] if token.startswith("v:") else None


def judge(ballots: list[Ballot], *, humans_needed: int) -> Verdict:
    """Decide a field from its ballots (OCR ballot, if any, first).

    `humans_needed` is how many human keys must exist before comparing (1 for OCR + one and
    unsampled single key, 2 for double blind). A single human key with no partner settles
    directly only under single key (humans_needed=1 and no OCR ballot).
    """
    humans = [b for b in ballots if b.key_id is not None]
    if len(humans) < humans_needed:
        return Verdict(Action.WAIT)
    if len(ballots) == 1:
        return _settle(ballots, ballots[0].token)
    counts = Counter(b.token for b in ballots)
    token, n = counts.most_common(1)[0]
    if n >= 2 and (n > len(ballots) - n):
        return _settle(ballots, token)
    if len(ballots) == 2:
        return Verdict(Action.THIRD_KEY)
    return Verdict(Action.ARBITRATE)


def _settle(ballots: list[Ballot], token: str) -> Verdict:
    if token == ILLEGIBLE:
        return Verdict(Action.ARBITRATE)  # agreeing that nobody can read it: an arbiter looks
    winners = tuple(b.key_id for b in ballots if b.key_id is not None and b.token == token)
    losers = tuple(b.key_id for b in ballots if b.key_id is not None and b.token != token)
    return Verdict(Action.SETTLE, token, winners, losers)
