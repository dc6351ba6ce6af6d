from datetime import date, timedelta

import pytest

from entry.date_words import DateWordsError, date_to_words, words_to_date


@pytest.mark.parametrize(
    ("d", "words"),
    [
        (date(2026, 11, 27), "贰零贰陆年壹拾壹月贰拾柒日"),
        (date(2026, 1, 1), "贰零贰陆年零壹月零壹日"),
        (date(2026, 2, 9), "贰零贰陆年零贰月零玖日"),
        (date(2026, 10, 10), "贰零贰陆年零壹拾月零壹拾日"),
        (date(2026, 3, 20), "贰零贰陆年叁月零贰拾日"),
        (date(2026, 4, 30), "贰零贰陆年肆月零叁拾日"),
        (date(2026, 12, 31), "贰零贰陆年壹拾贰月叁拾壹日"),
        (date(2026, 9, 15), "贰零贰陆年玖月壹拾伍日"),
        (date(2026, 5, 19), "贰零贰陆年伍月壹拾玖日"),
        (date(2026, 6, 21), "贰零贰陆年陆月贰拾壹日"),
        (date(2030, 1, 11), "贰零叁零年零壹月壹拾壹日"),
    ],
)
def test_date_to_words_examples(d, words):
    assert date_to_words(d) == words
    assert words_to_date(words) == d


@pytest.mark.parametrize(
    ("text", "d"),
    [
        ("贰零贰陆年壹月壹日", date(2026, 1, 1)),
        ("贰零贰陆年拾月拾日", date(2026, 10, 10)),
        ("贰零贰陆年壹拾月贰拾日", date(2026, 10, 20)),
        ("贰零贰陆年零叁月零伍日", date(2026, 3, 5)),
        ("贰 零 贰 陆 年 壹拾壹 月 贰拾柒 日", date(2026, 11, 27)),
        ("二〇二六年十一月二十七日", date(2026, 11, 27)),
        ("贰零贰陆年壹拾壹月贰拾柒", date(2026, 11, 27)),
    ],
)
def test_words_to_date_tolerant_forms(text, d):
    assert words_to_date(text) == d


@pytest.mark.parametrize(
    "bad",
    ["", "2026-11-27", "贰零贰年壹月壹日", "贰零贰陆年零零月壹日", "贰零贰陆年壹拾叁月壹日",
     "贰零贰陆年贰月叁拾日", "贰零贰伍年零贰月贰拾玖日", "贰零贰陆年零月壹日", "贰零贰陆年壹月",
     "贰零贰陆年壹拾零月壹日", "贰零贰陆年壹月叁拾贰日", "贰零贰陆年壹月壹日x", "hello"],
)  # fmt: skip
def test_words_to_date_rejects_bad_dates(bad):
    with pytest.raises(DateWordsError):
        words_to_date(bad)


def test_date_words_error_is_value_error():
    assert issubclass(DateWordsError, ValueError)


def test_date_words_round_trip_every_day_2020_to_2030():
    d = date(2020, 1, 1)
    while d <= date(2030, 12, 31):
        words = date_to_words(d)
        assert words_to_date(words) == d
        month_words = words.split("年")[1].split("月")[0]
        assert month_words.startswith("零") == (d.month in (1, 2, 10))
        day_words = words.split("月")[1].removesuffix("日")
        assert day_words.startswith("零") == (d.day <= 10 or d.day in (20, 30))
        d += timedelta(days=1)
