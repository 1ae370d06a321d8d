"""Date expressions of the evaluation cases, resolved on the day the evaluation runs.

A case about "Ostermontag" or "nächsten Samstag" must stay right whatever day the set is
run, so its expectation names the day as an expression (in English, independent of the
assistant's own date parser, which is what is being tested):

- an ISO date: `2026-12-24`
- `today`, `tomorrow`, `day after tomorrow`, `in N days`
- a weekday: `saturday` or `this saturday` (today when today is a Saturday, else the
  coming one), `next saturday` (the coming one, never today)
- `this weekend` (today..Sunday when today is Saturday or Sunday, else the coming Saturday
  and Sunday), `next weekend` (the coming Saturday and Sunday, never the one we are in)
- holidays, the next one on or after today: `good friday`, `easter sunday`,
  `easter monday`, `ascension day`, `whit monday`, `corpus christi`, `labour day`,
  `german unity day`, `all saints day`, `christmas eve`, `christmas day`,
  `boxing day`, `new years eve`, `new years day`
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta


def easter(year: int) -> date:
    """Easter Sunday of `year` (Gregorian calendar, the anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _fixed(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


def _easter(offset: int) -> Callable[[int], date]:
    return lambda year: easter(year) + timedelta(days=offset)


HOLIDAYS: dict[str, Callable[[int], date]] = {
    "good friday": _easter(-2),
    "easter sunday": _easter(0),
    "easter monday": _easter(1),
    "ascension day": _easter(39),
    "whit sunday": _easter(49),
    "whit monday": _easter(50),
    "corpus christi": _easter(60),
    "labour day": _fixed(5, 1),
    "german unity day": _fixed(10, 3),
    "all saints day": _fixed(11, 1),
    "christmas eve": _fixed(12, 24),
    "christmas day": _fixed(12, 25),
    "boxing day": _fixed(12, 26),
    "new years eve": _fixed(12, 31),
    "new years day": _fixed(1, 1),
}


class BadExpression(ValueError):
    pass


def _canonical(expression: str) -> str:
    text = expression.strip().lower().replace("'", "").replace("’", "")
    return re.sub(r"\s+", " ", text)


def resolve(expression: str, today: date) -> tuple[date, date]:  # noqa: PLR0911
    """The first and last day `expression` means when run on `today`; BadExpression if it
    is not one of the forms above."""
    text = _canonical(str(expression))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return day, day
    if text == "today":
        return today, today
    if text == "tomorrow":
        return today + timedelta(days=1), today + timedelta(days=1)
    if text in {"day after tomorrow", "the day after tomorrow"}:
        return today + timedelta(days=2), today + timedelta(days=2)
    match = re.fullmatch(r"in (\d{1,3}) days?", text)
    if match:
        day = today + timedelta(days=int(match.group(1)))
        return day, day
    match = re.fullmatch(r"(?:(this|next) )?(" + "|".join(WEEKDAYS) + ")", text)
    if match:
        wanted = WEEKDAYS.index(match.group(2))
        ahead = (wanted - today.weekday()) % 7
        if match.group(1) == "next" and ahead == 0:
            ahead = 7
        day = today + timedelta(days=ahead)
        return day, day
    if text in {"weekend", "this weekend", "next weekend"}:
        weekday = today.weekday()
        if text != "next weekend" and weekday >= 5:
            return today, today + timedelta(days=6 - weekday)
        saturday = today + timedelta(days=(5 - weekday) % 7 or 7)
        return saturday, saturday + timedelta(days=1)
    if text in HOLIDAYS:
        rule = HOLIDAYS[text]
        day = rule(today.year)
        if day < today:
            day = rule(today.year + 1)
        return day, day
    raise BadExpression(
        f"{expression!r} is not a date expression (use an ISO date, today, tomorrow, "
        "day after tomorrow, in N days, [this|next] <weekday>, this/next weekend or a "
        "holiday such as easter monday)"
    )


def check(expression: str) -> str | None:
    """None when `expression` can be resolved, else the message."""
    try:
        resolve(expression, date(2026, 1, 1))
    except BadExpression as exc:
        return str(exc)
    return None
