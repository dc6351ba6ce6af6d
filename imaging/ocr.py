"""OCR of the field slices of one voucher: per-type preprocessing, engine routing (PP-OCR for
every type, tesseract's cross-check only on unsure digit readings), batching and calibrated
confidences."""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from imaging.ocr_checks import CAPITAL_DIGITS, is_plausible
from imaging.ocr_engines import get_rapid_recognizer, get_tesseract_api, run_tesseract_batch
from imaging.ocr_prep import PreparedSlice, count_leading_bars, prepare_slice

# A reading at or above this confidence may skip human keying for that field; the bench
# (bench/ocr.py) reports exactness at this threshold per field type (docs/decisions-ocr.md).
HIGH_CONFIDENCE = 0.95
# A reading that does not have the shape of its type is never trusted beyond this.
IMPLAUSIBLE_CAP = 0.30
# Two engines disagreeing, or geometry contradicting a choice: keep the value, not the trust.
DISAGREEMENT_CAP = 0.50
# A digit-type reading from PP-OCR at or above this confidence (and of the right shape) is
# taken without tesseract's cross-check; below it, both engines must agree (merge_readings).
CROSS_CHECK_BELOW = 0.99
# Ink is scaled to this height (px) before either engine sees it; PP-OCR then works at 48.
TARGET_HEIGHT = 40
PAD_PX = 12


class Engine(StrEnum):
    TESSERACT = "tesseract"
    RAPIDOCR = "rapidocr"
    BOTH = "rapidocr+tesseract"
    NONE = "none"


@dataclass(frozen=True)
class OcrRequest:
    key: str
    image: np.ndarray
    field_type: str
    length: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class OcrReading:
    key: str
    text: str
    confidence: float
    engine: str


@dataclass(frozen=True)
class TypeSettings:
    """How one field type is read: engine(s), tesseract language, allowed characters."""

    engine: Engine
    lang: str
    alphabet: str  # "" = any character


DIGITS = "0123456789"
AMOUNT_WORDS_ALPHABET = "人民币" + CAPITAL_DIGITS + "拾佰仟万亿元角分整"
DATE_WORDS_ALPHABET = CAPITAL_DIGITS + "拾年月日"
# Glyphs the recognizer splits its belief between that mean the same capital numeral; the
# reading keeps the standard one (entry canonicalizes the variants the same way).
NUMERAL_VARIANTS = {
    "零": "〇○", "贰": "貳", "叁": "参叄參", "陆": "陸", "仟": "千", "佰": "百", "拾": "十",
    "万": "萬", "亿": "億", "元": "圆圓", "整": "正",
}  # fmt: skip

# PP-OCRv4 reads every type (measured best on all of them). A digit type is read by tesseract
# too (in-process) when PP-OCR is below CROSS_CHECK_BELOW or its reading is misshapen; then
# the two must agree to be trusted.
SETTINGS: dict[str, TypeSettings] = {
    "account": TypeSettings(Engine.BOTH, "eng", DIGITS),
    "digits": TypeSettings(Engine.BOTH, "eng", DIGITS),
    "phone": TypeSettings(Engine.BOTH, "eng", DIGITS),
    "integer": TypeSettings(Engine.BOTH, "eng", DIGITS),
    "id_number": TypeSettings(Engine.BOTH, "eng", DIGITS + "Xx"),
    "amount": TypeSettings(Engine.BOTH, "eng", DIGITS + ".,¥"),
    "date": TypeSettings(Engine.RAPIDOCR, "chi_sim", DIGITS + "-年月日"),
    "date_words": TypeSettings(Engine.RAPIDOCR, "chi_sim", DATE_WORDS_ALPHABET),
    "amount_words": TypeSettings(Engine.RAPIDOCR, "chi_sim", AMOUNT_WORDS_ALPHABET),
    "name": TypeSettings(Engine.RAPIDOCR, "chi_sim", ""),
    "bank_name": TypeSettings(Engine.RAPIDOCR, "chi_sim", ""),
    "place": TypeSettings(Engine.RAPIDOCR, "chi_sim", ""),
    "text": TypeSettings(Engine.RAPIDOCR, "chi_sim", ""),
    "choice": TypeSettings(Engine.RAPIDOCR, "chi_sim", ""),
}
DEFAULT_SETTINGS = SETTINGS["text"]

_SPACE_NEAR_CJK = re.compile(r"(?<=[\u3400-\u9fff])\s+|\s+(?=[\u3400-\u9fff])")


def settings_for(request: OcrRequest) -> TypeSettings:
    base = SETTINGS.get(request.field_type, DEFAULT_SETTINGS)
    if request.choices:
        return TypeSettings(base.engine, base.lang, "".join(sorted(set("".join(request.choices)))))
    return base


def clean_text(field_type: str, text: str) -> str:
    """Engine output to the text a person would have keyed: NFKC, no stray spaces."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).strip())
    if field_type == "text":
        return _SPACE_NEAR_CJK.sub("", text)
    if field_type == "account":
        return text
    return text.replace(" ", "")


def compare_key(text: str) -> str:
    """What two readings of a digit field must share to agree (grouping marks aside)."""
    return re.sub(r"[^0-9.X]", "", text.upper())


def read_tesseract(
    prepared: list[PreparedSlice], settings: list[TypeSettings]
) -> list[tuple[str, float]]:
    """All slices in as few tesseract processes as there are languages (one for digit types)."""
    results: list[tuple[str, float]] = [("", 0.0)] * len(prepared)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (prep, s) in enumerate(zip(prepared, settings, strict=True)):
        if not prep.blank:
            # eng types share one process: whitelists merged, each type's shape check filters.
            groups.setdefault((s.lang, "" if s.lang == "eng" else s.alphabet), []).append(i)
    for (lang, alphabet), idxs in groups.items():
        whitelist = alphabet
        if lang == "eng":
            whitelist = "".join(sorted(set("".join(settings[i].alphabet for i in idxs))))
        read = run_tesseract_batch([prepared[i].binary for i in idxs], lang, 7, whitelist)
        for i, res in zip(idxs, read, strict=True):
            results[i] = res
    return results


def read_rapid(
    prepared: list[PreparedSlice], settings: list[TypeSettings], requests: Sequence[OcrRequest]
) -> list[tuple[str, float]]:
    results: list[tuple[str, float]] = [("", 0.0)] * len(prepared)
    todo = [i for i, p in enumerate(prepared) if not p.blank]
    if not todo:
        return results
    images = [prepared[i].gray for i in todo]
    read = get_rapid_recognizer().recognize(
        images,
        [settings[i].alphabet for i in todo],
        [requests[i].choices for i in todo],
        NUMERAL_VARIANTS,
    )
    for i, res in zip(todo, read, strict=True):
        results[i] = res
    return results


def nearest_choice(text: str, choices: tuple[str, ...]) -> tuple[str, int]:
    """The choice with the fewest edits from `text`, and that edit count."""
    best, best_cost = "", 10**6
    for choice in choices:
        prev = list(range(len(choice) + 1))
        for i, a in enumerate(text, 1):
            cur = [i]
            for j, b in enumerate(choice, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
            prev = cur
        if prev[-1] < best_cost:
            best, best_cost = choice, prev[-1]
    return best, best_cost


def snap_choice(request: OcrRequest, text: str, conf: float) -> tuple[str, float]:
    """A free reading (tesseract) of a choice field, moved to the nearest choice if close."""
    if not text or text in request.choices:
        return text, conf
    snapped, edits = nearest_choice(text, request.choices)
    if edits <= max(1, len(snapped) // 2):
        return snapped, min(conf, DISAGREEMENT_CAP)
    return text, conf


def check_choice_bars(
    request: OcrRequest, prep: PreparedSlice, text: str, conf: float
) -> tuple[str, float]:
    """Choices told apart by a count of I's (I/II/III类户): trust the bar count over the engine."""
    counts = {c: len(c) - len(c.lstrip("I")) for c in request.choices}
    if len(set(counts.values())) < 2 or prep.blank:
        return text, conf
    bars = count_leading_bars(prep.binary)
    matching = [c for c, n in counts.items() if n == bars]
    if text in matching and bars:
        # The options differ only in the I's; geometry and the recognizer agree on them.
        return text, max(conf, HIGH_CONFIDENCE)
    if text in matching or len(matching) != 1:
        return text, conf
    return matching[0], min(conf, DISAGREEMENT_CAP)


def merge_readings(
    request: OcrRequest, rapid: tuple[str, float], tess: tuple[str, float]
) -> tuple[str, float]:
    """Two engines on one digit field: agreement multiplies trust, disagreement caps it."""
    (r_text, r_conf), (t_text, t_conf) = rapid, tess
    r_text, t_text = clean_text(request.field_type, r_text), clean_text(request.field_type, t_text)
    if r_text and compare_key(r_text) == compare_key(t_text):
        return r_text, 1.0 - (1.0 - r_conf) * (1.0 - t_conf)
    plausible = [
        (conf, text)
        for text, conf in ((r_text, r_conf), (t_text, t_conf))
        if is_plausible(request.field_type, text, request.length, request.choices)
    ]
    conf, text = max(plausible) if plausible else max((r_conf, r_text), (t_conf, t_text))
    return text, min(conf, DISAGREEMENT_CAP)


def needs_cross_check(request: OcrRequest, text: str, conf: float) -> bool:
    """Whether a PP-OCR reading of a digit field still needs tesseract's second reading: it
    is not sure enough alone, or it does not have the shape of its type."""
    if conf < CROSS_CHECK_BELOW:
        return True
    cleaned = clean_text(request.field_type, text)
    return not is_plausible(request.field_type, cleaned, request.length, request.choices)


def finish_reading(request: OcrRequest, text: str, conf: float) -> tuple[str, float]:
    text = clean_text(request.field_type, text)
    if not is_plausible(request.field_type, text, request.length, request.choices):
        conf = min(conf, IMPLAUSIBLE_CAP)
    return text, round(max(0.0, min(1.0, conf)), 4)


def ocr_slices(
    requests: Sequence[OcrRequest], engine: Engine | None = None
) -> dict[str, OcrReading]:
    """Read every slice of one voucher; one reading per request, keyed by `request.key`.

    `engine` forces a single engine for every type (bench comparisons); normally each type
    uses the engine(s) of SETTINGS.
    """
    settings = [settings_for(r) for r in requests]
    engines = [engine or s.engine for s in settings]
    prepared = [prepare_slice(r.image, TARGET_HEIGHT, PAD_PX) for r in requests]
    rapid_idx = [i for i, e in enumerate(engines) if e in (Engine.RAPIDOCR, Engine.BOTH)]
    rapid_read = read_rapid(
        [prepared[i] for i in rapid_idx],
        [settings[i] for i in rapid_idx],
        [requests[i] for i in rapid_idx],
    )
    rapid = dict(zip(rapid_idx, rapid_read, strict=True))
    for i in rapid_idx:
        if engines[i] is Engine.BOTH and not needs_cross_check(requests[i], *rapid[i]):
            engines[i] = Engine.RAPIDOCR  # sure and well-shaped alone: no second reading
    tess_idx = [i for i, e in enumerate(engines) if e in (Engine.TESSERACT, Engine.BOTH)]
    tess_read = read_tesseract([prepared[i] for i in tess_idx], [settings[i] for i in tess_idx])
    tess = dict(zip(tess_idx, tess_read, strict=True))
    readings: dict[str, OcrReading] = {}
    for i, request in enumerate(requests):
        if engines[i] is Engine.BOTH:
            text, conf = merge_readings(request, rapid[i], tess[i])
        else:
            text, conf = rapid[i] if i in rapid else tess[i]
        if request.choices:
            text, conf = snap_choice(request, clean_text("choice", text), conf)
            text, conf = check_choice_bars(request, prepared[i], text, conf)
        text, conf = finish_reading(request, text, conf)
        used = engines[i].value if text else Engine.NONE.value
        readings[request.key] = OcrReading(request.key, text, conf, used)
    return readings


def preload_engines() -> None:
    """Load the recognizer (and the in-process tesseract for the digit types) now, so forked
    workers share them instead of each loading them."""
    get_rapid_recognizer()
    get_tesseract_api("eng", 7)
