"""Dates and times visitors write, with a fixed today (Tuesday, 24 November 2026)."""

from __future__ import annotations

from datetime import date, time

import pytest

from publikum.assistant.nlu.dates import When, describe_when, easter, parse_when

TODAY = date(2026, 11, 24)  # Tuesday

# text, language, start, end (None = start), time, part
TABLE: list[tuple[str, str, str, str | None, str | None, str | None]] = [
    ("heute", "de", "2026-11-24", None, None, None),
    ("Habt ihr morgen offen?", "de", "2026-11-25", None, None, None),
    ("übermorgen Abend", "de", "2026-11-26", None, None, "evening"),
    ("uebermorgen abend", "de", "2026-11-26", None, None, "evening"),
    ("heute Nachmittag", "de", "2026-11-24", None, None, "afternoon"),
    ("heute Morgen", "de", "2026-11-24", None, None, "morning"),
    ("morgen um 19 Uhr", "de", "2026-11-25", None, "19:00", None),
    ("um halb acht abends", "de", "2026-11-24", None, "19:30", "evening"),
    ("viertel nach sieben", "de", "2026-11-24", None, "19:15", None),
    ("am Samstag um 10", "de", "2026-11-28", None, "10:00", None),
    ("am Samstag", "de", "2026-11-28", None, None, None),
    ("am Dienstag", "de", "2026-11-24", None, None, None),
    ("nächsten Samstag", "de", "2026-11-28", None, None, None),
    ("nächsten Dienstag", "de", "2026-12-01", None, None, None),
    ("übernächsten Sonntag", "de", "2026-12-06", None, None, None),
    ("Freitagabend", "de", "2026-11-27", None, None, "evening"),
    ("Karten für 2 am Sa", "de", "2026-11-28", None, None, None),
    ("dieses Wochenende", "de", "2026-11-28", "2026-11-29", None, None),
    ("nächstes Wochenende", "de", "2026-11-28", "2026-11-29", None, None),
    ("nächste Woche", "de", "2026-11-30", "2026-12-06", None, None),
    ("in zwei Wochen", "de", "2026-12-08", None, None, None),
    ("am 5. Dezember", "de", "2026-12-05", None, None, None),
    ("5.12.", "de", "2026-12-05", None, None, None),
    ("05.12.2026", "de", "2026-12-05", None, None, None),
    ("am Montag, den 7.12.", "de", "2026-12-07", None, None, None),
    ("am 12.1.", "de", "2027-01-12", None, None, None),
    ("im Dezember", "de", "2026-12-01", "2026-12-31", None, None),
    ("Habt ihr am Ostermontag offen?", "de", "2027-03-29", None, None, None),
    ("Karfreitag", "de", "2027-03-26", None, None, None),
    ("Pfingstmontag", "de", "2027-05-17", None, None, None),
    ("Christi Himmelfahrt", "de", "2027-05-06", None, None, None),
    ("Tag der Deutschen Einheit", "de", "2027-10-03", None, None, None),
    ("an Heiligabend", "de", "2026-12-24", None, None, None),
    ("Silvester", "de", "2026-12-31", None, None, None),
    ("Neujahr", "de", "2027-01-01", None, None, None),
    ("über Weihnachten", "de", "2026-12-25", "2026-12-26", None, None),
    ("am 1. Weihnachtstag", "de", "2026-12-25", None, None, None),
    ("am zweiten Weihnachtsfeiertag", "de", "2026-12-26", None, None, None),
    ("am 2. Advent", "de", "2026-12-06", None, None, None),
    ("zwischen den Jahren", "de", "2026-12-27", "2026-12-30", None, None),
    ("heute in einer Woche", "de", "2026-12-01", None, None, None),
    ("a week from tomorrow", "en", "2026-12-02", None, None, None),
    ("on the 26th", "en", "2026-11-26", None, None, None),
    ("tonight", "en", "2026-11-24", None, None, "evening"),
    ("tomorrow at 7pm", "en", "2026-11-25", None, "19:00", None),
    ("this Friday", "en", "2026-11-27", None, None, None),
    ("next Tuesday", "en", "2026-12-01", None, None, None),
    ("next weekend", "en", "2026-11-28", "2026-11-29", None, None),
    ("on Dec 5", "en", "2026-12-05", None, None, None),
    ("December 5th", "en", "2026-12-05", None, None, None),
    ("on the 5th of December at 6:30 pm", "en", "2026-12-05", None, "18:30", None),
    ("Easter Monday", "en", "2027-03-29", None, None, None),
    ("Christmas Eve", "en", "2026-12-24", None, None, None),
    ("New Year's Day", "en", "2027-01-01", None, None, None),
    ("in 3 days", "en", "2026-11-27", None, None, None),
    ("at half past seven in the evening", "en", "2026-11-24", None, "19:30", "evening"),
    ("at 10:30am", "en", "2026-11-24", None, "10:30", None),
]


@pytest.mark.parametrize(("text", "language", "start", "end", "at", "part"), TABLE)
def test_expressions(  # noqa: PLR0917
    text: str, language: str, start: str, end: str | None, at: str | None, part: str | None
) -> None:
    when = parse_when(text, language, today=TODAY)
    assert when is not None, text
    assert when.start.isoformat() == start
    assert when.end.isoformat() == (end or start)
    assert (when.at.strftime("%H:%M") if when.at else None) == at
    assert when.part == part


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Wie viel kostet der Eintritt?",
        "Guten Morgen, habt ihr ein Café?",
        "Guten Abend!",
        "Good evening, is there a cloakroom?",
        "Danke, schönes Wochenende!",
        "Kostet 12.50 Euro",
        "Ich komme mit 2 Personen",
        "I sat there",
        "Wer hat den Sonnenbrand?",
    ],
)
def test_no_date_in_text_without_one(text: str) -> None:
    assert parse_when(text, "de", today=TODAY) is None


def test_a_weekday_on_that_day_is_today_but_next_means_a_week_later() -> None:
    saturday = date(2026, 11, 28)
    assert parse_when("am Samstag", "de", today=saturday).start == saturday  # type: ignore[union-attr]
    assert parse_when("nächsten Samstag", "de", today=saturday).start == date(2026, 12, 5)  # type: ignore[union-attr]
    # on a Friday "next weekend" is the one after the coming weekend
    friday = date(2026, 11, 27)
    assert parse_when("next weekend", "en", today=friday).start == date(2026, 12, 5)  # type: ignore[union-attr]
    assert parse_when("this weekend", "en", today=friday).start == date(2026, 11, 28)  # type: ignore[union-attr]


def test_a_past_date_means_next_year_and_a_holiday_its_next_date() -> None:
    today = date(2026, 12, 27)
    assert parse_when("am 5.12.", "de", today=today).start == date(2027, 12, 5)  # type: ignore[union-attr]
    assert parse_when("Heiligabend", "de", today=today).start == date(2027, 12, 24)  # type: ignore[union-attr]
    assert parse_when("Silvester", "de", today=today).start == date(2026, 12, 31)  # type: ignore[union-attr]
    assert parse_when("Ostermontag", "de", today=date(2027, 3, 29)).start == date(2027, 3, 29)  # type: ignore[union-attr]


def test_invalid_dates_are_not_invented() -> None:
    assert parse_when("am 31.2.", "de", today=TODAY) is None
    assert parse_when("2026-02-30", "en", today=TODAY) is None


def test_the_understood_words_are_quoted_as_written() -> None:
    when = parse_when("Habt ihr übermorgen Abend um 19 Uhr noch Plätze?", "de", today=TODAY)
    assert when is not None
    assert when.text == "übermorgen Abend um 19 Uhr"
    assert when.at == time(19, 0)


def test_describe_in_both_languages() -> None:
    when = When(start=date(2026, 11, 28), end=date(2026, 11, 28), at=time(19), part=None, text="")
    assert describe_when(when, "de") == "Samstag, 28. November, 19:00 Uhr"
    assert describe_when(when, "en") == "Saturday, 28 November, 7:00 pm"
    weekend = parse_when("Wochenende", "de", today=TODAY)
    assert weekend is not None
    assert describe_when(weekend, "de") == "Samstag, 28. November bis Sonntag, 29. November"
    evening = parse_when("tomorrow evening", "en", today=TODAY)
    assert evening is not None
    assert describe_when(evening, "en") == "Wednesday, 25 November, evening"


def test_a_long_rambling_message_still_gives_its_date() -> None:
    text = "Hallo, ich wollte fragen ob ihr am Samstag um 14 Uhr eine Führung habt. " * 8
    when = parse_when(text, "de", today=TODAY)
    assert when is not None
    assert when.start.weekday() == 5
    assert when.at is not None
    assert when.at.hour == 14


def test_easter_dates() -> None:
    assert easter(2026) == date(2026, 4, 5)
    assert easter(2027) == date(2027, 3, 28)
    assert easter(2030) == date(2030, 4, 21)
    assert easter(2038) == date(2038, 4, 25)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2 Karten für das Erzähltheater am Sonntag, 20. Dezember", "2026-12-20"),
        ("1 Ticket für den Vortrag am Dienstag, 1. Dezember", "2026-12-01"),
        ("on Tuesday 1 December", "2026-12-01"),
        ("Sunday, December 20th at 3 pm", "2026-12-20"),
        # the weekday does not fit the date (20 December 2026 is a Sunday): the date wins
        ("am Montag, 20. Dezember", "2026-12-20"),
        ("Saturday 1 December", "2026-12-01"),
    ],
)
def test_an_explicit_date_wins_over_the_weekday_next_to_it(text: str, day: str) -> None:
    for today in (TODAY, date(2026, 11, 29), date(2026, 12, 1)):  # Tue, Sun, the day itself
        found = parse_when(text, "de", today=today)
        assert found is not None
        assert found.start.isoformat() == day, (text, today)


def test_day_and_month_names_are_public() -> None:
    from publikum.assistant.nlu import dates

    assert dates.DAY_NAMES["de"][6] == "Sonntag"
    assert dates.DAY_NAMES["en"][0] == "Monday"
    assert dates.MONTH_NAMES["de"][2] == "März"
    assert dates.MONTH_NAMES["en"][11] == "December"
    assert describe_when(parse_when("20.12.", "de", today=TODAY), "de").startswith(  # type: ignore[arg-type]
        f"{dates.DAY_NAMES['de'][6]}, 20. {dates.MONTH_NAMES['de'][11]}"
    )
