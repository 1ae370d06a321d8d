"""How well the assistant understands dates and times, against dateparser and ctparse.

    python bench/assistant_dates.py          # prints the figures
    python -m bench.assistant_dates

`run()` returns the figures (docs/benchmarks/assistant.md is written by the assistant
benchmark, which calls it). Every parser reads the same German and English expressions,
the way visitors write them to a museum, with a fixed "today" (Tuesday, 24 November 2026,
noon) and the expected first day and, where the expression has one, the clock time.

An answer is right when its first day is the expected day and, when a time is expected,
its time is the expected time. The last day of a range ("Wochenende" = Saturday to Sunday)
is scored for our parser only (`ranges_right`), since the libraries return one point in
time. Settings: dateparser `search_dates(text, languages=['de', 'en'],
settings={'RELATIVE_BASE': today noon, 'PREFER_DATES_FROM': 'future'})`, first match;
ctparse `ctparse(text, ts=today noon, timeout=1)`, the start of an interval. Expressions
a library does not find count as wrong.
"""

from __future__ import annotations

import logging
import sys
import time as clock
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

TODAY = date(2026, 11, 24)  # a Tuesday
NOW = datetime(2026, 11, 24, 12, 0)

# (language, text, first day, last day or None for the same day, clock time or None)
Case = tuple[str, str, str, str | None, str | None]
CASES: list[Case] = [
    # German: relative days and parts of the day
    ("de", "heute", "2026-11-24", None, None),
    ("de", "Habt ihr heute offen?", "2026-11-24", None, None),
    ("de", "morgen", "2026-11-25", None, None),
    ("de", "Geht das morgen?", "2026-11-25", None, None),
    ("de", "übermorgen", "2026-11-26", None, None),
    ("de", "übermorgen Abend", "2026-11-26", None, None),
    ("de", "heute Nachmittag", "2026-11-24", None, None),
    ("de", "heute Abend um 20 Uhr", "2026-11-24", None, "20:00"),
    ("de", "morgen um 19 Uhr", "2026-11-25", None, "19:00"),
    ("de", "morgen früh um 10", "2026-11-25", None, "10:00"),
    ("de", "um halb acht abends", "2026-11-24", None, "19:30"),
    ("de", "in zwei Wochen", "2026-12-08", None, None),
    ("de", "in 3 Tagen", "2026-11-27", None, None),
    # German: weekdays and weekends
    ("de", "am Samstag", "2026-11-28", None, None),
    ("de", "Habt ihr am Sonntag geöffnet?", "2026-11-29", None, None),
    ("de", "nächsten Samstag", "2026-11-28", None, None),
    ("de", "kommenden Freitag", "2026-11-27", None, None),
    ("de", "am Dienstag", "2026-11-24", None, None),
    ("de", "nächsten Dienstag", "2026-12-01", None, None),
    ("de", "Freitagabend", "2026-11-27", None, None),
    ("de", "am Samstag um 14 Uhr", "2026-11-28", None, "14:00"),
    ("de", "Sonntag 11:30", "2026-11-29", None, "11:30"),
    ("de", "dieses Wochenende", "2026-11-28", "2026-11-29", None),
    ("de", "am Wochenende", "2026-11-28", "2026-11-29", None),
    ("de", "nächstes Wochenende", "2026-11-28", "2026-11-29", None),
    ("de", "nächste Woche", "2026-11-30", "2026-12-06", None),
    # German: dates
    ("de", "am 5. Dezember", "2026-12-05", None, None),
    ("de", "5.12.", "2026-12-05", None, None),
    ("de", "am 05.12.2026", "2026-12-05", None, None),
    ("de", "am 12.1.", "2027-01-12", None, None),
    ("de", "3. Januar 2027", "2027-01-03", None, None),
    ("de", "am 5. Dezember um 18:30", "2026-12-05", None, "18:30"),
    ("de", "den 20. Dez.", "2026-12-20", None, None),
    ("de", "am ersten Dezember", "2026-12-01", None, None),
    # German: holidays
    ("de", "Habt ihr am Ostermontag offen?", "2027-03-29", None, None),
    ("de", "Karfreitag", "2027-03-26", None, None),
    ("de", "an Pfingstmontag", "2027-05-17", None, None),
    ("de", "an Christi Himmelfahrt", "2027-05-06", None, None),
    ("de", "am Tag der Deutschen Einheit", "2027-10-03", None, None),
    ("de", "an Heiligabend", "2026-12-24", None, None),
    ("de", "an Silvester", "2026-12-31", None, None),
    ("de", "an Neujahr", "2027-01-01", None, None),
    ("de", "über Weihnachten", "2026-12-25", "2026-12-26", None),
    ("de", "am 1. Weihnachtstag", "2026-12-25", None, None),
    ("de", "am zweiten Weihnachtstag", "2026-12-26", None, None),
    ("de", "Fronleichnam", "2027-05-27", None, None),
    # German with missing umlauts / typos
    ("de", "uebermorgen abend", "2026-11-26", None, None),
    ("de", "naechsten samstag", "2026-11-28", None, None),
    ("de", "oeffnet ihr am samstag um 10", "2026-11-28", None, "10:00"),
    # English: relative days and parts of the day
    ("en", "today", "2026-11-24", None, None),
    ("en", "Are you open today?", "2026-11-24", None, None),
    ("en", "tomorrow", "2026-11-25", None, None),
    ("en", "tonight", "2026-11-24", None, None),
    ("en", "tonight at 8", "2026-11-24", None, "20:00"),
    ("en", "tomorrow at 7pm", "2026-11-25", None, "19:00"),
    ("en", "tomorrow morning at 10am", "2026-11-25", None, "10:00"),
    ("en", "the day after tomorrow", "2026-11-26", None, None),
    ("en", "this afternoon", "2026-11-24", None, None),
    ("en", "in two weeks", "2026-12-08", None, None),
    ("en", "in 3 days", "2026-11-27", None, None),
    # English: weekdays and weekends
    ("en", "this Friday", "2026-11-27", None, None),
    ("en", "on Saturday", "2026-11-28", None, None),
    ("en", "Are you open on Sunday?", "2026-11-29", None, None),
    ("en", "next Saturday", "2026-11-28", None, None),
    ("en", "next Tuesday", "2026-12-01", None, None),
    ("en", "Saturday at 2:30 pm", "2026-11-28", None, "14:30"),
    ("en", "Friday evening", "2026-11-27", None, None),
    ("en", "this weekend", "2026-11-28", "2026-11-29", None),
    ("en", "next weekend", "2026-11-28", "2026-11-29", None),
    ("en", "at the weekend", "2026-11-28", "2026-11-29", None),
    ("en", "next week", "2026-11-30", "2026-12-06", None),
    # English: dates
    ("en", "on Dec 5", "2026-12-05", None, None),
    ("en", "December 5th", "2026-12-05", None, None),
    ("en", "on the 5th of December", "2026-12-05", None, None),
    ("en", "5 December 2026", "2026-12-05", None, None),
    ("en", "January 3rd", "2027-01-03", None, None),
    ("en", "Dec 12 at 6pm", "2026-12-12", None, "18:00"),
    ("en", "on 2026-12-19", "2026-12-19", None, None),
    # English: holidays
    ("en", "Are you open on Easter Monday?", "2027-03-29", None, None),
    ("en", "Good Friday", "2027-03-26", None, None),
    ("en", "on Christmas Eve", "2026-12-24", None, None),
    ("en", "Christmas Day", "2026-12-25", None, None),
    ("en", "on New Year's Eve", "2026-12-31", None, None),
    ("en", "New Year's Day", "2027-01-01", None, None),
    ("en", "over Christmas", "2026-12-25", "2026-12-26", None),
    ("en", "on Whit Monday", "2027-05-17", None, None),
    ("en", "Boxing Day", "2026-12-26", None, None),
    # English: tourist spelling
    ("en", "tmrw at 6 pm", "2026-11-25", None, "18:00"),
    ("en", "open on saturday at 10?", "2026-11-28", None, "10:00"),
    # A second set, written after the rules without looking at them: our parser had 14 of
    # these 19 right before the Advent, "zwischen den Jahren", "Weihnachtsfeiertag" and
    # "heute in einer Woche" rules were added.
    (
        "de",
        "Könnten wir am kommenden Sonntag gegen 15 Uhr vorbeikommen?",
        "2026-11-29",
        None,
        "15:00",
    ),
    ("de", "Habt ihr zwischen den Jahren offen?", "2026-12-27", "2026-12-30", None),
    ("de", "Ist am Freitag, den 4.12. eine Führung?", "2026-12-04", None, None),
    ("de", "wie siehts aus mit morgen nachmittag", "2026-11-25", None, None),
    ("de", "Ich würde gern Samstag früh um 9 kommen", "2026-11-28", None, "09:00"),
    ("de", "am 2. Advent", "2026-12-06", None, None),
    ("de", "Sonntag in einer Woche", "2026-12-06", None, None),
    ("de", "Sind Karten für den 31. noch frei?", "2026-12-31", None, None),
    ("de", "heute in einer Woche", "2026-12-01", None, None),
    ("de", "nächsten Freitag um 18.30 Uhr", "2026-11-27", None, "18:30"),
    ("de", "am ersten Weihnachtsfeiertag", "2026-12-25", None, None),
    ("en", "Can we come Sunday around 3pm?", "2026-11-29", None, "15:00"),
    ("en", "open on the 26th?", "2026-11-26", None, None),
    ("en", "tickets for Friday 4 December", "2026-12-04", None, None),
    ("en", "tomorrow afternoon", "2026-11-25", None, None),
    ("en", "saturday morning at 9", "2026-11-28", None, "09:00"),
    ("en", "a week from today", "2026-12-01", None, None),
    ("en", "this coming Sunday", "2026-11-29", None, None),
    ("en", "next Friday at 6.30 pm", "2026-11-27", None, "18:30"),
]

Parsed = tuple[date, date | None, time | None] | None


def ours(text: str, language: str) -> Parsed:
    from publikum.assistant.nlu.dates import parse_when

    when = parse_when(text, language, today=TODAY)
    if when is None:
        return None
    return when.start, when.end, when.at


def with_dateparser(text: str, language: str) -> Parsed:
    from dateparser.search import search_dates

    found = search_dates(
        text,
        languages=["de", "en"],
        settings={"RELATIVE_BASE": NOW, "PREFER_DATES_FROM": "future"},
    )
    if not found:
        return None
    moment = found[0][1]
    at = moment.time() if moment.time() not in {time(0, 0), time(12, 0)} else None
    return moment.date(), None, at


def with_ctparse(text: str, language: str) -> Parsed:
    from ctparse import ctparse
    from ctparse.types import Interval

    result = ctparse(text, ts=NOW, timeout=1)
    if result is None:
        return None
    resolution: Any = result.resolution
    if isinstance(resolution, Interval):
        resolution = resolution.t_from
    if resolution is None or resolution.year is None or resolution.month is None:
        return None
    try:
        day = date(resolution.year, resolution.month, resolution.day or 1)
    except (TypeError, ValueError):
        return None
    at = None
    if resolution.hour is not None:
        at = time(resolution.hour, resolution.minute or 0)
    return day, None, at


PARSERS: dict[str, Callable[[str, str], Parsed]] = {
    "ours": ours,
    "dateparser": with_dateparser,
    "ctparse": with_ctparse,
}


def _right(case: Case, parsed: Parsed) -> tuple[bool, bool]:
    """(first day and time right, last day right too)."""
    _, _, start, end, at = case
    if parsed is None:
        return False, False
    got_start, got_end, got_at = parsed
    ok = got_start.isoformat() == start
    if at is not None:
        ok = ok and got_at is not None and got_at.strftime("%H:%M") == at
    range_ok = ok and (got_end or got_start).isoformat() == (end or start)
    return ok, range_ok


def run(cases: list[Case] | None = None) -> dict[str, Any]:
    """Accuracy per parser and language, time per expression, and the misses."""
    cases = cases or CASES
    figures: dict[str, Any] = {"today": TODAY.isoformat(), "cases": len(cases), "parsers": {}}
    languages = sorted({c[0] for c in cases})
    figures["per_language"] = {lang: sum(1 for c in cases if c[0] == lang) for lang in languages}
    logging.getLogger("ctparse").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, parser in PARSERS.items():
            parser("warm up morgen", "de")
            right: dict[str, int] = defaultdict(int)
            ranges_right = 0
            misses: list[dict[str, str]] = []
            started = clock.perf_counter()
            for case in cases:
                try:
                    parsed = parser(case[1], case[0])
                except Exception as error:
                    parsed = None
                    misses.append({"text": case[1], "error": type(error).__name__})
                ok, range_ok = _right(case, parsed)
                if ok:
                    right[case[0]] += 1
                else:
                    misses.append(
                        {
                            "text": case[1],
                            "expected": " ".join(filter(None, case[2:])),
                            "got": _show(parsed),
                        }
                    )
                ranges_right += int(range_ok)
            elapsed = clock.perf_counter() - started
            figures["parsers"][name] = {
                "accuracy": {
                    lang: round(right[lang] / figures["per_language"][lang], 3)
                    for lang in languages
                },
                "accuracy_all": round(sum(right.values()) / len(cases), 3),
                "ranges_right": round(ranges_right / len(cases), 3),
                "ms_per_expression": round(elapsed * 1000 / len(cases), 3),
                "misses": misses,
            }
    return figures


def _show(parsed: Parsed) -> str:
    if parsed is None:
        return "nothing"
    start, end, at = parsed
    out = start.isoformat()
    if end and end != start:
        out += f"..{end.isoformat()}"
    if at:
        out += f" {at:%H:%M}"
    return out


def main(argv: list[str] | None = None) -> int:
    figures = run()
    print(
        f"Dates: {figures['cases']} expressions "
        f"({', '.join(f'{k} {v}' for k, v in figures['per_language'].items())}), "
        f"today {figures['today']}"
    )
    print(f"{'parser':<12}{'de':>8}{'en':>8}{'all':>8}{'ranges':>8}{'ms/expr':>10}")
    for name, result in figures["parsers"].items():
        acc = result["accuracy"]
        print(
            f"{name:<12}{acc.get('de', 0):>8.3f}{acc.get('en', 0):>8.3f}"
            f"{result['accuracy_all']:>8.3f}{result['ranges_right']:>8.3f}"
            f"{result['ms_per_expression']:>10.3f}"
        )
    if argv and "--misses" in argv:
        for name, result in figures["parsers"].items():
            print(f"\nmisses of {name}:")
            for miss in result["misses"]:
                print("  ", miss)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
