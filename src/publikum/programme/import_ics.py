"""Reading an iCalendar file (.ics) into programme records.

The file is split into its events by hand before icalendar reads each one on its own: one
broken event (a bad DTSTART, a line that is not iCalendar, a download cut off in the
middle) is rejected with its line number, and the other events are still read. Lines are
unfolded as bytes, so a fold in the middle of a UTF-8 character (some exporters do that)
does not break the umlaut.

Each VEVENT becomes one programme item, grouped by UID; a recurring event (RRULE, RDATE,
EXDATE, RECURRENCE-ID overrides) is expanded on the wall clock of its time zone, so that
"every Sunday at 11:00" stays 11:00 across a change to or from daylight saving time.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from dateutil import rrule as du  # type: ignore[import-untyped]
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from publikum.programme.import_records import (
    DateRecord,
    ItemRecord,
    ParsedFile,
    VenueRecord,
    day,
    external_key,
    kind_of,
    when,
)

# Recurring events are expanded this far ahead; a later import adds the dates beyond.
HORIZON = timedelta(days=365)
# More dates than this from one event is a typo or a calendar that is not a programme.
MAX_DATES_PER_EVENT = 500
TOO_FREQUENT = {"SECONDLY", "MINUTELY", "HOURLY"}
UTC = ZoneInfo("UTC")

_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(;[^:]*)?:")
_POSTCODE_CITY = re.compile(r"^(?:[A-Z]{1,2}-)?(\d{4,5})\s+(.+)$")
_COUNTRIES = {"germany", "deutschland", "de", "österreich", "austria", "schweiz", "switzerland"}
_TIME_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


class IcsUnreadable(Exception):
    """The whole file cannot be read; the message says why, for people."""


# --- bytes to lines ---------------------------------------------------------------------------


_SIGNATURES = (
    (b"PK\x03\x04", "zip"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
)


def _check_binary(data: bytes) -> None:
    if not data.strip():
        raise IcsUnreadable(_("The file is empty."))
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            if what == "zip":
                raise IcsUnreadable(
                    _("This is a zip file or an Office document, not an iCalendar file.")
                )
            if what == "pdf":
                raise IcsUnreadable(_("This is a PDF document, not an iCalendar file."))
            raise IcsUnreadable(_("This is an image, not an iCalendar file."))
    if b"\x00" in data[:65536] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IcsUnreadable(
            _("The file contains binary data (NUL bytes): it is not an iCalendar text file.")
        )


def _as_utf8_bytes(data: bytes) -> tuple[bytes, str]:
    """The bytes without a byte order mark, UTF-16 turned into UTF-8; and the encoding."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :], "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").encode("utf-8"), "utf-16"
        except UnicodeDecodeError as exc:
            raise IcsUnreadable(
                _(
                    "The file starts with a UTF-16 byte order mark but is not valid UTF-16. "
                    "Export the calendar again as UTF-8."
                )
            ) from exc
    return data, "utf-8"


@dataclass
class Line:
    number: int  # the physical line it starts on, counting from 1
    text: str


def logical_lines(data: bytes) -> tuple[list[Line], str, list[int]]:
    """Unfolded lines; the encoding; the numbers of lines that were not UTF-8.

    A line that is not UTF-8 is read as Windows-1252 (old Outlook exports); a fold is
    undone on the bytes, before decoding."""
    data, encoding = _as_utf8_bytes(data)
    physical = re.split(rb"\r\n|\n|\r", data)
    unfolded: list[tuple[int, bytes]] = []
    for number, raw in enumerate(physical, start=1):
        if raw[:1] in (b" ", b"\t") and unfolded:
            first, joined = unfolded[-1]
            unfolded[-1] = (first, joined + raw[1:])
        else:
            unfolded.append((number, raw))
    lines: list[Line] = []
    not_utf8: list[int] = []
    for number, raw in unfolded:
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
            not_utf8.append(number)
        lines.append(Line(number, text))
    return lines, encoding, not_utf8


# --- lines to components ----------------------------------------------------------------------


@dataclass
class Block:
    """The lines of one VEVENT (with any VALARM inside it)."""

    start: int
    lines: list[Line] = field(default_factory=list)
    problem: str = ""

    def text(self) -> str:
        return "\r\n".join(line.text for line in self.lines) + "\r\n"

    def label(self) -> str:
        for line in self.lines:
            name, _sep, value = line.text.partition(":")
            if name.split(";")[0].upper() == "SUMMARY":
                return _unescape(value)[:120]
        return ""


def _unescape(value: str) -> str:
    return (
        value.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";")
    ).replace("\\\\", "\\")


@dataclass
class Structure:
    events: list[Block] = field(default_factory=list)
    timezones: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _begin_of(text: str) -> str | None:
    name, sep, value = text.partition(":")
    return value.strip().upper() if sep and name.strip().upper() == "BEGIN" else None


def _end_of(text: str) -> str | None:
    name, sep, value = text.partition(":")
    return value.strip().upper() if sep and name.strip().upper() == "END" else None


def _first_line_problem(text: str) -> str:
    shown = text.strip()[:60]
    if shown.startswith("<"):
        return _(
            "This is a web page (HTML), not an iCalendar file. Download the calendar's .ics "
            "export, not the page that links to it."
        )
    if "," in shown or (";" in shown and ":" not in shown):
        return _(
            "This is not an iCalendar file: it should begin with BEGIN:VCALENDAR, but its first "
            "line is “%(line)s”. If it is a CSV file, choose the format CSV."
        ) % {"line": shown}
    return _(
        "This is not an iCalendar file: it should begin with BEGIN:VCALENDAR, but its first "
        "line is “%(line)s”."
    ) % {"line": shown}


class _Splitter:
    """Walks the lines once, keeping the VEVENTs (complete or not), VTIMEZONEs and the
    calendar's own properties."""

    def __init__(self) -> None:
        self.found = Structure()
        self.in_calendar = False
        self.event: Block | None = None
        self.stack: list[str] = []  # components open inside the event (VALARM)
        self.other: list[str] = []  # lines of a component that is not an event
        self.depth = 0

    def feed(self, line: Line) -> None:
        begin, end = _begin_of(line.text), _end_of(line.text)
        if not self.in_calendar:
            self.in_calendar = begin == "VCALENDAR"
        elif self.event is not None:
            self._in_event(line, begin, end)
        elif self.depth:
            self._in_other(line.text, begin, end)
        elif begin == "VEVENT":
            self.event, self.stack = Block(line.number, [line]), []
        elif begin:
            self.depth, self.other = 1, [line.text]
            if begin != "VTIMEZONE":
                self.found.ignored[begin] = self.found.ignored.get(begin, 0) + 1
        elif end == "VCALENDAR":
            self.in_calendar = False
        elif _CONTENT_LINE.match(line.text):
            name, _sep, value = line.text.partition(":")
            self.found.properties.setdefault(name.split(";")[0].upper(), value.strip())

    def _close(self, problem: str = "") -> None:
        assert self.event is not None
        self.event.problem = self.event.problem or problem
        self.found.events.append(self.event)
        self.event = None

    def _in_event(self, line: Line, begin: str | None, end: str | None) -> None:
        assert self.event is not None
        if begin == "VEVENT" and not self.stack:
            self._close(
                _("the event has no END:VEVENT: the next event begins on line %(line)d.")
                % {"line": line.number}
            )
            self.event = Block(line.number, [line])
            return
        if end == "VCALENDAR":
            self._close(_("the event has no END:VEVENT before the end of the calendar."))
            self.in_calendar = False
            return
        self.event.lines.append(line)
        if begin:
            self.stack.append(begin)
        elif end and self.stack and self.stack[-1] == end:
            self.stack.pop()
        elif end == "VEVENT" and not self.stack:
            self._close()
        elif end:
            self.event.problem = self.event.problem or _(
                "line %(line)d ends a %(name)s that was never begun."
            ) % {"line": line.number, "name": end}
        elif not _CONTENT_LINE.match(line.text):
            self.event.problem = self.event.problem or _(
                "line %(line)d is not an iCalendar line: “%(text)s”."
            ) % {"line": line.number, "text": line.text.strip()[:60]}

    def _in_other(self, text: str, begin: str | None, end: str | None) -> None:
        self.other.append(text)
        if begin:
            self.depth += 1
        elif end:
            self.depth -= 1
            if self.depth == 0 and _begin_of(self.other[0]) == "VTIMEZONE":
                self.found.timezones.append("\r\n".join(self.other) + "\r\n")

    def finish(self) -> Structure:
        if self.event is not None:
            self._close(
                _(
                    "the file ends before this event is complete (END:VEVENT is missing): "
                    "was the download cut off?"
                )
            )
        elif self.in_calendar or self.depth:
            self.found.notes.append(
                _(
                    "The file ends without END:VCALENDAR: it seems cut off; the events before "
                    "the cut were read."
                )
            )
        return self.found


def split_components(lines: list[Line]) -> Structure:
    """Events, time zones and calendar properties; broken events marked, not dropped."""
    if not lines or _begin_of(lines[0].text) != "VCALENDAR":
        raise IcsUnreadable(_first_line_problem(lines[0].text if lines else ""))
    splitter = _Splitter()
    for line in lines:
        splitter.feed(line)
    return splitter.finish()


# --- one event ---------------------------------------------------------------------------------


class Rejected(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = list(messages)


@dataclass
class Event:
    """The parts of one VEVENT the import uses, its times already checked."""

    line: int
    uid: str
    label: str
    component: Any
    zone: tzinfo
    start: datetime  # aware
    end: datetime  # aware
    all_day: bool
    cancelled: bool
    sequence: int
    recurrence_id: datetime | date | None
    tz_note: str = ""


_PROPERTY_SAMPLES = {
    "DTSTART": "20270130T190000",
    "DTEND": "20270130T210000",
    "RECURRENCE-ID": "20270130T190000",
    "EXDATE": "20270130T190000",
    "RDATE": "20270130T190000",
    "DURATION": "PT1H30M",
    "RRULE": "FREQ=WEEKLY;BYDAY=SU",
}


def _broken(component: Any) -> list[str]:
    messages = []
    for name, _error in component.errors:
        if name in _TIME_PROPERTIES:
            shown = str(component.get(name, ""))
            messages.append(
                _("%(name)s “%(value)s” is not valid (expected e.g. %(sample)s).")
                % {"name": name, "value": shown[:60], "sample": _PROPERTY_SAMPLES[name]}
            )
    return messages


def _texts(component: Any, name: str) -> list[tuple[str, str]]:
    """(language or "", text) of each occurrence of a text property."""
    values = component.get(name)
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    out = []
    for value in values:
        params = getattr(value, "params", {}) or {}
        language = str(params.get("LANGUAGE", "")).strip().lower()[:2]
        text = str(value).strip()
        if text:
            out.append((language, text))
    return out


def _by_language(pairs: list[tuple[str, str]], default: str) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for language, text in pairs:
        key = language if language in ("de", "en") else default
        chosen.setdefault(key, text)
    return chosen


def _zone_of_value(prop: Any, floating: tzinfo) -> tuple[tzinfo, str]:
    """The time zone of a date-time property, and a note when its TZID was not understood."""
    value = prop.dt
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.tzinfo, ""
    tzid = str(getattr(prop, "params", {}).get("TZID", "") or "")
    if tzid and isinstance(value, datetime):
        return floating, _(
            "its time zone “%(tzid)s” is not known; the times were read as %(zone)s."
        ) % {
            "tzid": tzid,
            "zone": str(floating),
        }
    return floating, ""


def _aware(value: datetime | date, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return _attach(value.replace(tzinfo=None), value.tzinfo or zone)
    return _attach(datetime.combine(value, time(0, 0)), zone)


def _attach(naive: datetime, zone: tzinfo) -> datetime:
    # A wall-clock time that does not exist (the hour skipped in spring) is moved on by
    # the round trip through UTC.
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def read_event(block: Block, component: Any, *, floating: tzinfo) -> Event:
    """Check the times of one VEVENT; raise Rejected with every problem found."""
    problems = _broken(component)
    if problems:
        raise Rejected(*problems)
    start_prop = component.get("DTSTART")
    if start_prop is None:
        raise Rejected(_("the event has no start (DTSTART)."))
    zone, tz_note = _zone_of_value(start_prop, floating)
    raw_start = start_prop.dt
    all_day = not isinstance(raw_start, datetime)
    start = _aware(raw_start, zone)
    end_prop = component.get("DTEND")
    duration_prop = component.get("DURATION")
    if all_day:
        last = raw_start
        if end_prop is not None and not isinstance(end_prop.dt, datetime):
            last = end_prop.dt - timedelta(days=1)  # DTEND of an all-day event is exclusive
            if end_prop.dt <= raw_start:
                raise Rejected(
                    _("the end %(end)s is before the start %(start)s.")
                    % {"end": day(end_prop.dt), "start": day(raw_start)}
                )
        elif duration_prop is not None and isinstance(duration_prop.dt, timedelta):
            last = raw_start + max(duration_prop.dt - timedelta(days=1), timedelta(0))
        end = _attach(datetime.combine(last, time(23, 59)), zone)
    elif end_prop is not None:
        end = _aware(end_prop.dt, zone)
    elif duration_prop is not None and isinstance(duration_prop.dt, timedelta):
        end = start + duration_prop.dt
    else:
        end = start  # RFC 5545: without DTEND and DURATION the event ends when it starts
    if end < start:
        raise Rejected(
            _("the end %(end)s is before the start %(start)s.")
            % {"end": when(end.astimezone(zone)), "start": when(start)}
        )
    recurrence = component.get("RECURRENCE-ID")
    status = str(component.get("STATUS", "")).strip().upper()
    try:
        sequence = int(str(component.get("SEQUENCE", "0")).strip() or 0)
    except ValueError:
        sequence = 0
    return Event(
        line=block.start,
        uid=str(component.get("UID", "")).strip(),
        label=block.label(),
        component=component,
        zone=zone,
        start=start,
        end=end,
        all_day=all_day,
        cancelled=status == "CANCELLED",
        sequence=sequence,
        recurrence_id=recurrence.dt if recurrence is not None else None,
        tz_note=tz_note,
    )


# --- series ------------------------------------------------------------------------------------


def _wall(value: datetime | date, zone: tzinfo) -> datetime:
    """A property value as a naive wall-clock time in `zone` (dates at midnight)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(zone).replace(tzinfo=None)
        return value
    return datetime.combine(value, time(0, 0))


def _values(component: Any, name: str) -> list[datetime | date]:
    props = component.get(name)
    if props is None:
        return []
    if not isinstance(props, list):
        props = [props]
    return [d.dt for prop in props for d in prop.dts]


def _rules(event: Event) -> list[str]:
    """The RRULEs as text for dateutil, UNTIL moved to the event's wall clock."""
    props = event.component.get("RRULE")
    if props is None:
        return []
    if not isinstance(props, list):
        props = [props]
    texts = []
    for prop in props:
        recur = icalendar.vRecur(dict(prop))
        freq = str((recur.get("FREQ") or [""])[0]).upper()
        if freq in TOO_FREQUENT:
            raise Rejected(
                _(
                    "the event repeats more often than daily (FREQ=%(freq)s); the import "
                    "takes daily, weekly, monthly and yearly series."
                )
                % {"freq": freq}
            )
        if not freq:
            raise Rejected(_("its RRULE has no FREQ."))
        if recur.get("UNTIL"):
            until = recur["UNTIL"][0]
            if isinstance(until, datetime):
                recur["UNTIL"] = [_wall(until, event.zone)]
            else:
                recur["UNTIL"] = [datetime.combine(until, time(23, 59, 59))]
        texts.append(recur.to_ical().decode())
    return texts


@dataclass
class Series:
    starts: list[datetime]  # aware
    beyond_horizon: bool = False
    capped: bool = False


def expand(event: Event, *, horizon_end: datetime) -> Series:
    """The start times of an event's dates up to `horizon_end`, in its own time zone."""
    rules = _rules(event)
    first = _wall(event.start, event.zone)
    if not rules and not _values(event.component, "RDATE"):
        return Series([event.start])
    dates = du.rruleset()
    for text in rules:
        try:
            dates.rrule(du.rrulestr(text, dtstart=first))  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            raise Rejected(
                _("its RRULE “%(rule)s” cannot be read (%(error)s).")
                % {"rule": text[:80], "error": exc}
            ) from exc
    dates.rdate(first)  # RFC 5545: DTSTART is always the first date of the series
    for value in _values(event.component, "RDATE"):
        dates.rdate(_wall(value, event.zone))
    excluded_days: set[date] = set()
    for value in _values(event.component, "EXDATE"):
        if isinstance(value, datetime):
            dates.exdate(_wall(value, event.zone))
        else:
            excluded_days.add(value)
    limit = _wall(horizon_end, event.zone)
    series = Series([])
    for wall in dates:
        if wall > limit:
            series.beyond_horizon = True
            break
        if wall.date() in excluded_days:
            continue
        if len(series.starts) >= MAX_DATES_PER_EVENT:
            series.capped = True
            break
        series.starts.append(_attach(wall, event.zone))
    return series


# --- the file -------------------------------------------------------------------------------


def _floating_zone(properties: dict[str, str], zone: ZoneInfo) -> tzinfo:
    name = properties.get("X-WR-TIMEZONE", "").strip()
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return zone
    return zone


def _parse_block(block: Block, timezones: str) -> Any:
    text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + timezones + block.text() + "END:VCALENDAR\r\n"
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise Rejected(_("the event cannot be read (%(error)s).") % {"error": exc}) from exc
    events = list(calendar.walk("VEVENT"))
    if len(events) != 1:
        raise Rejected(_("the event cannot be read."))
    return events[0]


def _categories(component: Any) -> list[str]:
    props = component.get("CATEGORIES")
    if props is None:
        return []
    if not isinstance(props, list):
        props = [props]
    names: list[str] = []
    for prop in props:
        for value in getattr(prop, "cats", []):
            name = " ".join(str(value).split())
            if name and name not in names:
                names.append(name)
    return names


def _venue(component: Any) -> VenueRecord | None:
    location = " ".join(str(component.get("LOCATION", "")).split())
    if not location:
        return None
    parts = [p.strip() for p in location.split(",") if p.strip()]
    venue = VenueRecord(name=parts[0][:200], aliases=[location] if len(parts) > 1 else [])
    for part in parts[1:]:
        if match := _POSTCODE_CITY.match(part):
            venue.postcode, venue.city = match[1], match[2][:100]
        elif part.casefold() in _COUNTRIES:
            continue
        elif re.search(r"\d", part) and not venue.street:
            venue.street = part[:200]
    geo = component.get("GEO")
    if geo is not None and hasattr(geo, "latitude"):
        venue.latitude, venue.longitude = str(geo.latitude), str(geo.longitude)
    return venue


def _item(master: Event, *, language: str) -> ItemRecord:
    component = master.component
    titles = _by_language(_texts(component, "SUMMARY"), language)
    if not titles:
        raise Rejected(_("the event has no title (SUMMARY)."))
    descriptions = _by_language(_texts(component, "DESCRIPTION"), language)
    url = str(component.get("URL", "")).strip()
    if url:
        target = "de" if "de" in descriptions or "en" not in descriptions else "en"
        text = descriptions.get(target, "")
        if url not in text:
            descriptions[target] = f"{text}\n\n{url}".strip()
    categories = _categories(component)
    kind = next((k for k in map(kind_of, categories) if k), None)
    themes = [c for c in categories if kind_of(c) is None]
    data: dict[str, Any] = {
        "title_de": titles.get("de") or titles.get("en", ""),
        "title_en": titles.get("en", ""),
        "description_de": descriptions.get("de", ""),
        "description_en": descriptions.get("en", ""),
        "published": str(component.get("CLASS", "PUBLIC")).strip().upper()
        not in ("PRIVATE", "CONFIDENTIAL"),
    }
    if kind:
        data["kind"] = kind
    key = external_key("ics", master.uid) if master.uid else ""
    return ItemRecord(
        ref=master.line,
        key=key,
        label=data["title_de"],
        data=data,
        venue=_venue(component),
        themes=themes,
    )


def _fallback_uid(event: Event) -> str:
    return f"no-uid:{event.label}:{event.start.isoformat()}"


def read_ics(
    data: bytes,
    *,
    zone: ZoneInfo,
    language: str,
    now: datetime,
    horizon: timedelta = HORIZON,
) -> ParsedFile:
    """Read a whole iCalendar file: its items, rejected events and notes.

    Raise IcsUnreadable when nothing of it can be read (not iCalendar, binary, empty)."""
    _check_binary(data)
    lines, encoding, not_utf8 = logical_lines(data)
    structure = split_components(lines)
    parsed = ParsedFile(format="ics", encoding=encoding)
    parsed.file_notes.extend(structure.notes)
    if not_utf8:
        parsed.file_notes.append(
            ngettext(
                "Line %(lines)s is not UTF-8, which iCalendar requires; it was read as "
                "Windows-1252. Check the umlauts of this event.",
                "Lines %(lines)s are not UTF-8, which iCalendar requires; they were read as "
                "Windows-1252. Check the umlauts of these events.",
                len(not_utf8),
            )
            % {"lines": ", ".join(map(str, not_utf8[:20]))}
        )
        if len(not_utf8) == sum(1 for ln in lines if not ln.text.isascii()):
            parsed.encoding = "cp1252"
    for name, count in sorted(structure.ignored.items()):
        parsed.file_notes.append(
            ngettext(
                "%(count)d %(name)s component (not an event) was ignored.",
                "%(count)d %(name)s components (not events) were ignored.",
                count,
            )
            % {"count": count, "name": name}
        )
    floating = _floating_zone(structure.properties, zone)
    timezones = "".join(structure.timezones)
    horizon_end = now + horizon

    masters: dict[str, Event] = {}
    overrides: dict[str, list[Event]] = {}
    for block in structure.events:
        parsed.total += 1
        label = block.label()
        if block.problem:
            parsed.reject(block.start, label, block.problem)
            continue
        try:
            event = read_event(block, _parse_block(block, timezones), floating=floating)
        except Rejected as exc:
            parsed.reject(block.start, label, *exc.messages)
            continue
        uid = event.uid or _fallback_uid(event)
        if event.tz_note:
            parsed.note(event.line, event.label, event.tz_note)
        if event.recurrence_id is not None:
            overrides.setdefault(uid, []).append(event)
            continue
        previous = masters.get(uid)
        if previous is not None:
            newer = event if event.sequence >= previous.sequence else previous
            older = previous if newer is event else event
            parsed.note(
                older.line,
                older.label,
                _(
                    "an event with the same UID follows on line %(line)d; the newer version "
                    "(SEQUENCE) was used."
                )
                % {"line": newer.line},
            )
            masters[uid] = newer
        else:
            masters[uid] = event

    for uid, master in masters.items():
        _add_item(parsed, master, overrides.pop(uid, []), language, now, horizon_end)
    for _uid, lonely in overrides.items():
        # Changed dates of a series whose main event is not in the file: each is a date.
        first = min(lonely, key=lambda e: e.start)
        _add_item(
            parsed,
            first,
            [e for e in lonely if e is not first],
            language,
            now,
            horizon_end,
            as_dates=True,
        )
    parsed.items.sort(key=lambda item: item.ref)
    parsed.notes.sort(key=lambda note: note.ref)
    return parsed


def _override_key(value: datetime | date, zone: tzinfo) -> datetime | date:
    return _wall(value, zone) if isinstance(value, datetime) else value


def _add_item(  # noqa: PLR0917
    parsed: ParsedFile,
    master: Event,
    changed: list[Event],
    language: str,
    now: datetime,
    horizon_end: datetime,
    *,
    as_dates: bool = False,
) -> None:
    try:
        item = _item(master, language=language)
        series = Series([master.start]) if as_dates else expand(master, horizon_end=horizon_end)
    except Rejected as exc:
        parsed.reject(master.line, master.label, *exc.messages)
        return
    if not item.key:
        item.key = external_key("ics", _fallback_uid(master))
    # An all-day date ends at 23:59 of its last day, also across a change of the clocks.
    wall_duration = _wall(master.end, master.zone) - _wall(master.start, master.zone)
    duration = master.end - master.start
    by_wall: dict[datetime | date, DateRecord] = {}
    for start in series.starts:
        wall = _wall(start, master.zone)
        end = _attach(wall + wall_duration, master.zone) if master.all_day else start + duration
        by_wall[wall] = DateRecord(master.line, start, max(start, end), cancelled=master.cancelled)
    for override in changed:
        assert override.recurrence_id is not None
        original = _override_key(override.recurrence_id, master.zone)
        record = DateRecord(
            override.line, override.start, override.end, cancelled=override.cancelled
        )
        if isinstance(original, datetime) and original in by_wall:
            by_wall[original] = record
            continue
        same_day = [k for k in by_wall if isinstance(k, datetime) and k.date() == original]
        if same_day:
            by_wall[same_day[0]] = record
        elif override.start <= horizon_end:
            by_wall[_wall(override.start, override.zone)] = record
    dates = sorted(by_wall.values(), key=lambda d: d.starts_at)
    future = [d for d in dates if d.ends_at > now]
    past = len(dates) - len(future)
    parsed.skipped_past += past
    if past == 1 and len(dates) == 1:
        parsed.note(
            master.line,
            item.label,
            _("the date %(when)s has begun or is over; it was not imported.")
            % {"when": when(dates[0].starts_at.astimezone(master.zone))},
        )
    elif past:
        parsed.note(
            master.line,
            item.label,
            ngettext(
                "%(count)d date in the past was not imported.",
                "%(count)d dates in the past were not imported.",
                past,
            )
            % {"count": past},
        )
    if series.beyond_horizon:
        parsed.note(
            master.line,
            item.label,
            _(
                "the series goes on after %(day)s; later dates were not imported yet: import "
                "the calendar again later to add them."
            )
            % {"day": horizon_end.astimezone(master.zone).strftime("%d.%m.%Y")},
        )
    if series.capped:
        parsed.note(
            master.line,
            item.label,
            _("the series has more than %(max)d dates; only the first %(max)d were imported.")
            % {"max": MAX_DATES_PER_EVENT},
        )
    if not future:
        return
    item.dates = future
    parsed.items.append(item)
