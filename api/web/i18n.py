"""The page message catalogue (Chinese first, English second) and the language choice."""

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from fastapi import Request

LANGS = ("zh", "en")
LANG_COOKIE = "vf_lang"


@lru_cache
def catalogue() -> dict[str, tuple[str, str]]:
    raw = json.loads((Path(__file__).parent / "messages.json").read_text(encoding="utf-8"))
    return {key: (pair[0], pair[1]) for key, pair in raw.items()}


def request_lang(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "zh")
    return lang if lang in LANGS else "zh"


def translator(lang: str) -> Callable[..., str]:
    index = LANGS.index(lang)
    messages = catalogue()

    def t(key: str, **values: object) -> str:
        pair = messages.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t


def messages_for(lang: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The catalogue entries a page's JavaScript needs, in one language."""
    index = LANGS.index(lang)
    return {k: v[index] for k, v in catalogue().items() if k.startswith(prefixes)}
