"""The sample files of the programme import, and copies of them moved into the future.

The files in fixtures/ hold fixed dates (a season early in 2027). Tests that read them
pass a fixed "now" to the readers. Tests that write through the programme services,
which refuse dates in the past, use `future_copy`: the same file with every date of its
events moved by whole weeks (so weekdays and weekly rules stay right) until its first date
lies one to two weeks ahead of today.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from pathlib import Path

from django.utils import timezone

FIXTURES = Path(__file__).parent / "fixtures"

_ICS_DATE_LINE = re.compile(r"^(DTSTART|DTEND|EXDATE|RDATE|RECURRENCE-ID|RRULE)[;:]")
_ICS_DATE = re.compile(r"(?<![0-9])(\d{4})(\d{2})(\d{2})(?=T|[,;\r\n]|$)")
_DE_DATE = re.compile(r"(?<![0-9.])(\d{2})\.(\d{2})\.(\d{4})(?![0-9])")
_ISO_DATE = re.compile(r"(?<![0-9-])(\d{4})-(\d{2})-(\d{2})(?![0-9])")


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _ics_dates(text: str) -> list[date]:
    found = []
    in_event = False
    for line in text.splitlines():
        if line.startswith("BEGIN:VEVENT"):
            in_event = True
        elif line.startswith("END:VEVENT"):
            in_event = False
        elif in_event and _ICS_DATE_LINE.match(line):
            value = line.split(":", 1)[1]
            found += [date(int(y), int(m), int(d)) for y, m, d in _ICS_DATE.findall(value)]
    return found


def _shift_ics(text: str, days: int) -> str:
    out = []
    in_event = False
    for line in text.split("\n"):
        if line.startswith("BEGIN:VEVENT"):
            in_event = True
        elif line.startswith("END:VEVENT"):
            in_event = False
        elif in_event and _ICS_DATE_LINE.match(line):
            name, value = line.split(":", 1)

            def moved(m: re.Match[str]) -> str:
                day = date(int(m[1]), int(m[2]), int(m[3])) + timedelta(days=days)
                return day.strftime("%Y%m%d")

            out.append(f"{name}:{_ICS_DATE.sub(moved, value)}")
            continue
        out.append(line)
    return "\n".join(out)


def _day(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # "31.02.2027": the fixtures hold wrong dates on purpose
        return None


def _csv_dates(text: str) -> list[date]:
    found = [_day(y, m, d) for d, m, y in _DE_DATE.findall(text)]
    found += [_day(y, m, d) for y, m, d in _ISO_DATE.findall(text)]
    return [d for d in found if d is not None]


def _shift_csv(text: str, days: int) -> str:
    def de(m: re.Match[str]) -> str:
        day = _day(m[3], m[2], m[1])
        return (day + timedelta(days=days)).strftime("%d.%m.%Y") if day else m[0]

    def iso(m: re.Match[str]) -> str:
        day = _day(m[1], m[2], m[3])
        return (day + timedelta(days=days)).isoformat() if day else m[0]

    return _ISO_DATE.sub(iso, _DE_DATE.sub(de, text))


def weeks_ahead(first: date, today: date | None = None) -> int:
    """Whole weeks that move `first` to 7 to 13 days after today."""
    today = today or timezone.localdate()
    return math.ceil(((today - first).days + 7) / 7)


def future_copy(name: str, *, encoding: str = "utf-8") -> bytes:
    """The fixture `name` with its event dates moved into the near future."""
    text = read(name).decode(encoding)
    is_ics = name.endswith(".ics")
    dates = _ics_dates(text) if is_ics else _csv_dates(text)
    days = 7 * weeks_ahead(min(dates))
    moved = _shift_ics(text, days) if is_ics else _shift_csv(text, days)
    return moved.encode(encoding)


def shift_of(name: str, *, encoding: str = "utf-8") -> timedelta:
    """How far `future_copy` moves the dates of `name`."""
    text = read(name).decode(encoding)
    dates = _ics_dates(text) if name.endswith(".ics") else _csv_dates(text)
    return timedelta(days=7 * weeks_ahead(min(dates)))
