"""Answers computed from structured facts: opening hours for the asked day (with exceptions
and the public holidays of the organisation's country and region), prices, the address.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

import holidays as holiday_calendars

from publikum.assistant.engine.base import Reply, Turn
from publikum.assistant.engine.phrases import (
    WEEKDAYS_SHORT,
    and_words,
    date_words,
    money,
    say,
    short_span,
    span_words,
)
from publikum.assistant.models import HolidayRule, OpeningException, OpeningHours, PriceEntry
from publikum.core.models import Organisation
from publikum.programme import selectors as programme_selectors

# A question about "the week" or "the weekend" lists at most this many days.
MAX_DAYS = 7


# Building the first calendar of a process loads the country's rules and translations
# (~40 ms); one thread does it while the others wait, instead of each doing it again.
_calendar_lock = threading.Lock()


def _calendar(country: str, region: str, year: int, language: str) -> dict[date, str]:
    """The public holidays of a year, by date, named in the language; built once per
    (country, region, year, language) and process."""
    key = (country, region, year, language)
    found = _calendars.get(key)
    if found is None:
        with _calendar_lock:
            found = _calendars.get(key)
            if found is None:
                found = _build_calendar(*key)
                _calendars[key] = found
    return found


_calendars: dict[tuple[str, str, int, str], dict[date, str]] = {}


def warm(organisation: Organisation, today: date) -> None:
    """Build this year's and next year's calendars in both languages now (the first
    message of a process pays it, not an opening-hours answer in a busy moment)."""
    country, region = organisation.country.upper(), organisation.region.upper()
    for year in (today.year, today.year + 1):
        for language in ("de", "en"):
            _calendar(country, region, year, language)


def _build_calendar(country: str, region: str, year: int, language: str) -> dict[date, str]:
    lang = "en_US" if language == "en" else "de"
    for subdiv in ([region] if region else []) + [None]:
        try:
            calendar = holiday_calendars.country_holidays(
                country, subdiv=subdiv, years=year, language=lang
            )
        except NotImplementedError:  # unknown country or subdivision
            continue
        return dict(calendar.items())
    return {}


def holiday_name(turn: Turn, day: date) -> str | None:
    org = turn.organisation
    return _calendar(org.country.upper(), org.region.upper(), day.year, turn.language).get(day)


@dataclass(frozen=True)
class DayHours:
    day: date
    spans: tuple[tuple[time, time], ...]  # empty: closed
    holiday: str | None
    # "sunday" / "regular" / "closed" when the holiday rule decided the day.
    rule: str | None
    note: str


class HoursBook:
    """The regular hours and the exceptions of one organisation, read once per turn."""

    def __init__(self, turn: Turn, start: date, end: date) -> None:
        self.turn = turn
        self.regular: dict[int, list[tuple[time, time]]] = {}
        for row in OpeningHours.objects.filter(organisation=turn.organisation):
            self.regular.setdefault(row.weekday, []).append((row.opens, row.closes))
        self.exceptions = {
            e.date: e
            for e in OpeningException.objects.filter(
                organisation=turn.organisation, date__gte=start, date__lte=end
            )
        }

    @property
    def known(self) -> bool:
        return bool(self.regular or self.exceptions)

    def hours(self, day: date) -> DayHours:
        lang = self.turn.language
        exception = self.exceptions.get(day)
        holiday = holiday_name(self.turn, day)
        if exception is not None:
            note = exception.note_en if lang == "en" and exception.note_en else exception.note_de
            spans: tuple[tuple[time, time], ...] = ()
            if not exception.closed and exception.opens and exception.closes:
                spans = ((exception.opens, exception.closes),)
            return DayHours(day, spans, holiday, None, note)
        if holiday:
            rule = self.turn.settings.holiday_rule
            if rule == HolidayRule.CLOSED:
                return DayHours(day, (), holiday, rule, "")
            weekday = 6 if rule == HolidayRule.SUNDAY else day.weekday()
            return DayHours(day, tuple(self.regular.get(weekday, [])), holiday, rule, "")
        return DayHours(day, tuple(self.regular.get(day.weekday(), [])), None, None, "")

    def week_words(self) -> str:
        """ "Mo geschlossen, Di–So 10–18 Uhr": consecutive weekdays with equal hours joined."""
        lang = self.turn.language
        names = WEEKDAYS_SHORT["en" if lang == "en" else "de"]
        groups: list[tuple[int, int, tuple[tuple[time, time], ...]]] = []
        for weekday in range(7):
            spans = tuple(self.regular.get(weekday, []))
            if groups and groups[-1][2] == spans:
                groups[-1] = (groups[-1][0], weekday, spans)
            else:
                groups.append((weekday, weekday, spans))
        parts = []
        for first, last, spans in groups:
            days = names[first] if first == last else f"{names[first]}–{names[last]}"
            hours = (
                " und ".join(short_span(o, c, lang) for o, c in spans)
                if lang != "en"
                else " and ".join(short_span(o, c, lang) for o, c in spans)
            )
            parts.append(f"{days} {hours or say('closed_short', lang)}")
        return ", ".join(parts)


def _day_label(turn: Turn, day: DayHours) -> str:
    lang = turn.language
    words = date_words(day.day, lang, today=turn.today)
    if day.holiday:
        # "Am Ostermontag, 6. April," rather than the weekday.
        words = words.split(", ", 1)[1] if ", " in words else words
        return say("day_on", lang, date=f"{day.holiday}, {words}")
    if day.day == turn.today:
        return say("day_today", lang, date=words)
    if day.day == turn.today + timedelta(days=1):
        return say("day_tomorrow", lang, date=words)
    return say("day_on", lang, date=words)


def _sentence(turn: Turn, day: DayHours) -> str:
    lang = turn.language
    label = _day_label(turn, day)
    if day.spans:
        joiner = " und " if lang != "en" else " and "
        spans = joiner.join(span_words(o, c, lang) for o, c in day.spans)
        text = say("open_on", lang, day=label, spans=spans)
    else:
        text = say("closed_on", lang, day=label)
    if day.holiday and day.rule:
        text += " (" + say(f"holiday_{day.rule}", lang) + ")"
    elif day.holiday:
        text += f" ({day.holiday})"
    if day.note:
        text += f" – {day.note}"
    return text + "."


def _compact(turn: Turn, day: DayHours) -> str:
    """One day of a list: "Samstag, 28. November: 10–18 Uhr"."""
    lang = turn.language
    label = date_words(day.day, lang, today=turn.today)
    if day.holiday:
        label += f" ({day.holiday})"
    hours = (
        ", ".join(short_span(o, c, lang) for o, c in day.spans)
        if day.spans
        else say("closed_short", lang)
    )
    text = f"{label}: {hours}"
    if day.note:
        text += f" – {day.note}"
    return text


def opening_hours(turn: Turn, *, confidence: float) -> Reply | None:
    """Hours of the asked day or days; today and the regular week when no day is asked.
    None when the organisation has entered no hours at all."""
    when = turn.when
    start = when.start if when else turn.today
    end = when.end if when else turn.today
    end = max(end, start)
    end = min(end, start + timedelta(days=MAX_DAYS - 1))
    book = HoursBook(turn, start, end)
    if not book.known:
        return None
    days = [book.hours(start + timedelta(days=i)) for i in range((end - start).days + 1)]
    if len(days) == 1:
        text = _sentence(turn, days[0])
        if start == turn.today and book.regular:
            text += " " + say("regular_hours", turn.language, week=book.week_words())
    else:
        text = "; ".join(_compact(turn, day) for day in days) + "."
    sources: list[dict[str, Any]] = [
        {"type": "opening_hours", "id": day.day.isoformat()} for day in days
    ]
    return Reply(
        text=text,
        language=turn.language,
        intent="opening_hours",
        confidence=confidence,
        sources=sources,
    )


def prices(turn: Turn, *, confidence: float) -> Reply | None:
    entries = list(PriceEntry.objects.filter(organisation=turn.organisation))
    if not entries:
        return None
    lang = turn.language
    parts = []
    for entry in entries:
        label = entry.label_en if lang == "en" and entry.label_en else entry.label_de
        note = entry.note_en if lang == "en" and entry.note_en else entry.note_de
        part = f"{label} {money(entry.amount_eur, lang)}"
        if note:
            part += f" ({note})"
        parts.append(part)
    return Reply(
        text=say("prices", lang, list=and_words(parts, lang)),
        language=lang,
        intent="prices",
        confidence=confidence,
        sources=[{"type": "prices", "id": entry.pk} for entry in entries],
    )


def address(turn: Turn, *, confidence: float) -> Reply | None:
    """The main venue's address and directions, when no knowledge entry answers it."""
    venue = programme_selectors.main_venue(organisation=turn.organisation)
    if venue is None or not (venue.street or venue.city):
        return None
    lang = turn.language
    place = ", ".join(
        p for p in [venue.name(lang), venue.street, f"{venue.postcode} {venue.city}".strip()] if p
    )
    text = say("address", lang, address=place)
    directions = venue.directions(lang)
    if directions:
        text += " " + directions
    return Reply(
        text=text,
        language=lang,
        intent="address",
        confidence=confidence,
        sources=[{"type": "venue", "id": venue.pk}],
    )
