"""Reading a CSV programme (a ticketing or CMS export) into programme records.

One row is one date. Rows with the same title and venue are one programme item. Encoding,
delimiter and header are found by the contacts import's helpers (`audience.importing`);
the columns are assigned to fields by a preset, by their names (German and English) or by
hand, as in the contacts import.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from publikum.audience.importing import (
    FileInfo,
    UnreadableFile,
    encoding_label,
    inspect_file,
    normalise_header,
    parse_amount,
    parse_date,
)
from publikum.core.errors import ValidationFailed
from publikum.programme.checks import MAX_CAPACITY
from publikum.programme.import_records import (
    DateRecord,
    ItemRecord,
    ParsedFile,
    VenueRecord,
    accessibility_of,
    clock,
    external_key,
    folded,
    kind_of,
    split_words,
    target_groups_of,
    when,
)

# A date with a start time but neither end nor duration lasts this long.
DEFAULT_DURATION = timedelta(hours=2)
MAX_DURATION = timedelta(days=366)


@dataclass(frozen=True)
class Field:
    name: str
    label: str | Promise
    # Header names (normalised: lower case, letters and digits only) that mean this field.
    synonyms: tuple[str, ...]


def _field(name: str, label: str | Promise, synonyms: str) -> Field:
    return Field(name, label, tuple(synonyms.split()))


FIELDS: tuple[Field, ...] = (
    _field("title_de", gettext_lazy("Title (German)"),
           "titel title titelde titledeutsch veranstaltung veranstaltungstitel eventname "
           "event name bezeichnung produktion programmpunkt eventtitle veranstaltungsname"),
    _field("title_en", gettext_lazy("Title (English)"),
           "titleen titelen titelenglisch englishtitle eventnameen englischertitel"),
    _field("kind", gettext_lazy("Kind (exhibition, concert, tour …)"),
           "art kind typ type kategorie category eventtype veranstaltungsart sparte genre format"),
    _field("start_date", gettext_lazy("Start date (may include the time)"),
           "datum date startdate beginndatum eventstartdate tag spieltag termin start "
           "startdatum von vondatum datumuhrzeit startdatetime beginnt"),
    _field("start_time", gettext_lazy("Start time"),
           "beginn uhrzeit zeit time starttime eventstarttime anfang startzeit beginnzeit "
           "vonuhrzeit"),
    _field("end_date", gettext_lazy("End date (may include the time)"),
           "enddatum enddate eventenddate bis bisdatum end enddatetime"),
    _field("end_time", gettext_lazy("End time"),
           "ende endzeit endtime eventendtime bisuhrzeit endet"),
    _field("duration", gettext_lazy("Duration (minutes or h:mm)"),
           "dauer duration dauerinminuten dauerminuten länge laenge minuten minutes"),
    _field("all_day", gettext_lazy("All day (yes/no)"),
           "ganztägig ganztaegig allday alldayevent ganztags"),
    _field("venue", gettext_lazy("Venue"),
           "ort spielstätte spielstaette venue location veranstaltungsort raum saal "
           "eventvenuename spielort treffpunkt"),
    _field("themes", gettext_lazy("Themes"),
           "themen themes thema theme tags schlagworte eventtags stichworte eventcategory "
           "kategorien categories rubrik"),
    _field("target_groups", gettext_lazy("Target groups"),
           "zielgruppe zielgruppen targetgroups targetgroup audience publikum für fuer"),
    _field("accessibility", gettext_lazy("Accessibility"),
           "barrierefreiheit accessibility zugänglichkeit zugaenglichkeit barrierefrei inklusion"),
    _field("price", gettext_lazy("Price (EUR)"),
           "preis price eintritt eventcost cost ticketpreis preisvvk vvk normalpreis "
           "preisregulär regulär regular vollpreis"),
    _field("price_reduced", gettext_lazy("Reduced price (EUR)"),
           "ermäßigt ermaessigt preisermäßigt reduced reducedprice concession ermäßigung"),
    _field("capacity", gettext_lazy("Capacity (seats)"),
           "kapazität kapazitaet capacity plätze plaetze kontingent sitzplätze maxteilnehmer "
           "teilnehmer maxparticipants seats platzanzahl"),
    _field("summary_de", gettext_lazy("Summary (German)"),
           "kurzbeschreibung summary teaser untertitel subtitle eventexcerpt anreißer kurztext"),
    _field("summary_en", gettext_lazy("Summary (English)"),
           "summaryen teaseren kurzbeschreibungen"),
    _field("description_de", gettext_lazy("Description (German)"),
           "beschreibung description text eventdescription langtext details infotext "
           "beschreibungde"),
    _field("description_en", gettext_lazy("Description (English)"),
           "beschreibungen descriptionen englishdescription beschreibungenglisch"),
    _field("status", gettext_lazy("Status (cancelled or not)"),
           "status eventstatus abgesagt cancelled canceled"),
    _field("url", gettext_lazy("Web address"),
           "url link website weblink eventwebsite internetseite"),
)  # fmt: skip
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
# Fields that may take several columns; their cells are joined ("Category" and "Tags").
MULTI_COLUMN_FIELDS = {"themes"}
# How a row's message names the cell it is about.
FIELD_WORDS: dict[str, str | Promise] = {
    "start_date": gettext_lazy("start"),
    "start_time": gettext_lazy("start time"),
    "end_date": gettext_lazy("end"),
    "end_time": gettext_lazy("end time"),
    "duration": gettext_lazy("duration"),
    "all_day": gettext_lazy("all day"),
    "capacity": gettext_lazy("capacity"),
    "price": gettext_lazy("price"),
    "price_reduced": gettext_lazy("reduced price"),
    "status": gettext_lazy("status"),
}


@dataclass(frozen=True)
class Preset:
    name: str
    label: str | Promise
    # normalised header → field
    columns: dict[str, str]


def _preset(name: str, label: str | Promise, columns: str) -> Preset:
    return Preset(name, label, dict(pair.split("=") for pair in columns.split()))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset(
            "generic",
            gettext_lazy("Generic (columns named like the fields: title_de, start_date, …)"),
            " ".join(f"{normalise_header(f.name)}={f.name}" for f in FIELDS),
        ),
        # Box-office systems (Reservix, Eventim.Inhouse, ...) export their event lists
        # with German column names, semicolons and Windows-1252.
        _preset(
            "ticketing",
            gettext_lazy("Ticketing system event list (German columns)"),
            "veranstaltung=title_de untertitel=summary_de kategorie=kind sparte=kind "
            "datum=start_date beginn=start_time ende=end_time spielstätte=venue "
            "veranstaltungsort=venue kontingent=capacity preisvvk=price preis=price "
            "preisermäßigt=price_reduced ermäßigt=price_reduced status=status "
            "zielgruppe=target_groups barrierefreiheit=accessibility "
            "beschreibung=description_de link=url",
        ),
        # WordPress, The Events Calendar: Events → Export (CSV).
        _preset(
            "events_calendar",
            gettext_lazy("WordPress “The Events Calendar” export"),
            "eventname=title_de eventdescription=description_de eventexcerpt=summary_de "
            "eventstartdate=start_date eventstarttime=start_time eventenddate=end_date "
            "eventendtime=end_time alldayevent=all_day eventvenuename=venue "
            "eventcost=price eventcategory=themes eventtags=themes eventwebsite=url",
        ),
    )
}


# --- mapping -------------------------------------------------------------------------------


def guess_mapping(header: list[str], *, preset: str | None = None) -> dict[str, str]:
    """Column label → field name ("" = ignored): the preset's names first, then synonyms;
    a field goes to the first column that names it."""
    synonyms = {s: f.name for f in FIELDS for s in f.synonyms}
    chosen = PRESETS[preset].columns if preset in PRESETS else {}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for label in header:
        key = normalise_header(re.sub(r" \(\d+\)$", "", label))
        name = chosen.get(key) or synonyms.get(key) or ""
        if name in used and name not in MULTI_COLUMN_FIELDS:
            name = ""
        if name:
            used.add(name)
        mapping[label] = name
    return mapping


def check_preset(preset: str | None) -> None:
    if preset and preset not in PRESETS:
        raise ValidationFailed(
            _("Unknown column layout '%(preset)s'; one of %(known)s.")
            % {"preset": preset, "known": ", ".join(PRESETS)},
            fields={"preset": ["unknown preset"]},
        )


def resolve_mapping(
    header: list[str], *, preset: str | None = None, explicit: dict[str, str] | None = None
) -> dict[str, str]:
    """The guess, overridden by an explicit mapping; the result is checked."""
    check_preset(preset)
    mapping = guess_mapping(header, preset=preset)
    if explicit:
        by_key = {normalise_header(h): h for h in header}
        for column, name in explicit.items():
            label = column if column in mapping else by_key.get(normalise_header(column))
            if label is None:
                raise ValidationFailed(
                    _("The file has no column '%(column)s' (its columns: %(columns)s).")
                    % {"column": column, "columns": ", ".join(header)},
                    fields={"mapping": [f"unknown column '{column}'"]},
                )
            chosen = "" if name in ("", "-", "ignore") else name
            if chosen and chosen not in MULTI_COLUMN_FIELDS:
                for other, guessed in mapping.items():
                    if guessed == chosen and other != label and other not in explicit:
                        mapping[other] = ""
            mapping[label] = chosen
    check_mapping(header, mapping)
    return mapping


def check_mapping(header: list[str], mapping: dict[str, str]) -> None:
    problems: list[str] = []
    seen: dict[str, str] = {}
    for column, name in mapping.items():
        if column not in header:
            problems.append(_("unknown column '%(column)s'") % {"column": column})
        elif name and name not in FIELDS_BY_NAME:
            problems.append(
                _("'%(name)s' is not a field of the programme (fields: %(fields)s)")
                % {"name": name, "fields": ", ".join(FIELDS_BY_NAME)}
            )
        elif name and name in seen and name not in MULTI_COLUMN_FIELDS:
            problems.append(
                _("'%(name)s' is assigned to both '%(first)s' and '%(second)s'")
                % {"name": name, "first": seen[name], "second": column}
            )
        elif name:
            seen[name] = column
    if not problems:
        missing = [
            str(FIELDS_BY_NAME[n].label) for n in ("title_de", "start_date") if n not in seen
        ]
        if missing:
            problems.append(
                _("no column is assigned to %(fields)s (the file's columns: %(columns)s)")
                % {"fields": _(" and ").join(missing), "columns": ", ".join(header)}
            )
    if problems:
        raise ValidationFailed(
            _("The column mapping cannot be used: %(problems)s.")
            % {"problems": "; ".join(problems)},
            fields={"mapping": problems},
        )


def parse_map_options(values: Iterable[str]) -> dict[str, str]:
    """`COLUMN=FIELD` strings (the CLI's --map) as a dict."""
    mapping: dict[str, str] = {}
    for value in values:
        column, sep, name = value.rpartition("=")
        if not sep or not column.strip():
            raise ValidationFailed(
                _("'%(value)s' is not COLUMN=FIELD (e.g. \"Spielstätte=venue\").")
                % {"value": value},
                fields={"map": ["COLUMN=FIELD"]},
            )
        mapping[column.strip()] = name.strip()
    return mapping


# --- values --------------------------------------------------------------------------------

_WEEKDAY_PREFIX = re.compile(r"^[A-Za-zÄÖÜäöü]{2,10}\.?,?\s+(?=\d)")
_TIME = re.compile(
    r"^(\d{1,2})(?:[:.](\d{2}))?(?::(\d{2}))?\s*(uhr|h|am|pm|a\.m\.|p\.m\.)?$", re.IGNORECASE
)
_SHORT_YEAR = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2})$")
_MINUTES = re.compile(r"^(\d{1,5})\s*(min|mins|minuten|minutes|m)?\.?$", re.IGNORECASE)
_HOURS = re.compile(r"^(\d{1,3}(?:[.,]\d+)?)\s*(h|std|stunden|stunde|hours|hour|hrs)\.?$", re.I)
_CLOCK_DURATION = re.compile(r"^(\d{1,3}):(\d{2})$")
CANCELLED = {
    "abgesagt", "cancelled", "canceled", "entfallt", "entfaellt", "ausgefallen", "storniert",
    "fallt aus", "faellt aus", "cancel", "annulliert", "x", "ja", "yes", "true", "1",
}  # fmt: skip
NOT_CANCELLED = {
    "", "findet statt", "scheduled", "confirmed", "bestatigt", "bestaetigt", "geplant", "aktiv",
    "active", "ok", "nein", "no", "false", "0", "ausverkauft", "sold out", "soldout",
    "published", "veroffentlicht", "veroeffentlicht", "offen", "open", "-", "planmassig",
}  # fmt: skip
YES = {"1", "yes", "y", "ja", "j", "true", "wahr", "x"}
NO = {"0", "no", "n", "nein", "false", "falsch", "-", ""}
FREE = {"frei", "free", "kostenlos", "gratis", "eintritt frei", "freier eintritt"}


def parse_time(value: str) -> time:
    """19:30, 19.30, 19:30 Uhr, 19 Uhr, 7:30 pm, 19:30:00."""
    text = value.strip()
    match = _TIME.match(text)
    if match:
        hour, minute, second = int(match[1]), int(match[2] or 0), int(match[3] or 0)
        suffix = (match[4] or "").lower().replace(".", "")
        if suffix in ("am", "pm") and 1 <= hour <= 12:
            hour = hour % 12 + (12 if suffix == "pm" else 0)
        elif suffix in ("am", "pm"):
            hour = 99
        has_clock = match[2] is not None or bool(suffix)
        if has_clock and hour <= 23 and minute <= 59 and second <= 59:
            return time(hour, minute, second)
    raise ValueError(_("'%(value)s' is not a time (HH:MM)") % {"value": text[:40]})


def parse_day(value: str) -> date:
    """24.12.2026, 24.12.26, 2026-12-24, "Fr, 24.12.2026"."""
    text = _WEEKDAY_PREFIX.sub("", value.strip())
    if match := _SHORT_YEAR.match(text):
        text = f"{match[1]}.{match[2]}.20{match[3]}"
    try:
        return parse_date(text)
    except ValueError:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}|\d{4}-\d{2}-\d{2}", text):
            message = _("'%(value)s' is not a valid date: there is no such day")
        else:
            message = _("'%(value)s' is not a date (DD.MM.YYYY or YYYY-MM-DD)")
        raise ValueError(message % {"value": value.strip()[:40]}) from None


def parse_moment(value: str) -> tuple[date, time | None]:
    """A date with an optional time: "24.12.2026 19:30", "2026-12-24T19:30:00"."""
    text = _WEEKDAY_PREFIX.sub("", value.strip())
    date_part, _sep, time_part = re.sub(r"[T,]\s*|\s+", " ", text, count=1).partition(" ")
    day = parse_day(date_part)
    time_part = time_part.strip().removesuffix(",").strip()
    if not time_part:
        return day, None
    return day, parse_time(time_part)


def parse_duration(value: str) -> timedelta:
    """90, 90 min, 1:30, 1,5 h, 2 Std."""
    text = value.strip()
    if match := _MINUTES.match(text):
        duration = timedelta(minutes=int(match[1]))
    elif match := _CLOCK_DURATION.match(text):
        duration = timedelta(hours=int(match[1]), minutes=int(match[2]))
    elif match := _HOURS.match(text):
        duration = timedelta(hours=float(match[1].replace(",", ".")))
    else:
        raise ValueError(
            _("'%(value)s' is not a duration (minutes, or hours as 1:30)") % {"value": text[:40]}
        )
    if duration > MAX_DURATION:
        raise ValueError(_("'%(value)s' is longer than a year") % {"value": text[:40]})
    return duration


def parse_capacity(value: str) -> int:
    text = value.strip().replace(".", "").replace(" ", "")
    if not text.isdigit() or int(text) > MAX_CAPACITY:
        raise ValueError(
            _("'%(value)s' is not a whole number from 0 to %(max)d")
            % {"value": value[:20], "max": MAX_CAPACITY}
        )
    return int(text)


def parse_price(value: str) -> Decimal:
    if folded(value) in FREE:
        return Decimal("0.00")
    try:
        return parse_amount(value)
    except ValueError:
        raise ValueError(
            _("'%(value)s' is not an amount in euros") % {"value": value[:20]}
        ) from None


def parse_cancelled(value: str) -> bool:
    text = folded(value)
    if text in CANCELLED:
        return True
    if text in NOT_CANCELLED:
        return False
    raise ValueError(
        _("'%(value)s' is not understood (e.g. “abgesagt” or “cancelled”; empty: takes place)")
        % {"value": value[:40]}
    )


def parse_yes_no(value: str) -> bool:
    text = value.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(_("'%(value)s' is neither yes nor no") % {"value": value[:20]})


# --- rows ----------------------------------------------------------------------------------


@dataclass
class RowValues:
    """The checked cells of one row."""

    row: int
    title_de: str
    venue: str
    starts_at: datetime
    ends_at: datetime
    cancelled: bool
    capacity: int | None
    data: dict[str, Any]
    themes: list[str]
    prices: list[dict[str, Any]]
    unknown_kind: str = ""
    default_end: bool = False
    warnings: list[str] = field(default_factory=list)


class RowReader:
    """Turns the cells of one row into checked values, or a list of reasons to reject it."""

    def __init__(self, *, header: list[str], mapping: dict[str, str], zone: ZoneInfo) -> None:
        self.columns: dict[str, list[int]] = {}
        for column, name in mapping.items():
            if name:
                self.columns.setdefault(name, []).append(header.index(column))
        self.zone = zone

    def cell(self, row: list[str], name: str) -> str:
        """The cell of a field; the cells of a field with several columns, joined."""
        cells = [row[i].strip() for i in self.columns.get(name, []) if i < len(row)]
        return ", ".join(c for c in cells if c)

    def _value(self, row: list[str], name: str, parse: Any, errors: list[str]) -> Any:
        value = self.cell(row, name)
        if not value:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            errors.append(f"{FIELD_WORDS[name]}: {exc}")
            return None

    def read(self, number: int, row: list[str]) -> tuple[RowValues | None, list[str]]:
        errors: list[str] = []
        title = " ".join(self.cell(row, "title_de").split())
        if not title:
            errors.append(_("the title is empty"))
        times = self._times(row, errors)
        capacity = self._value(row, "capacity", parse_capacity, errors)
        price = self._value(row, "price", parse_price, errors)
        reduced = self._value(row, "price_reduced", parse_price, errors)
        cancelled = self._value(row, "status", parse_cancelled, errors) or False
        if errors or times is None:
            return None, errors
        starts_at, ends_at, default_end = times
        if ends_at < starts_at:
            same_day = ends_at.date() == starts_at.date()
            return None, [
                _("end %(end)s is before start %(start)s")
                % {
                    "end": clock(ends_at) if same_day else when(ends_at),
                    "start": clock(starts_at) if same_day else when(starts_at),
                }
            ]
        warnings: list[str] = []
        data, themes, unknown_kind = self._item_data(row, title, warnings)
        prices = []
        if price is not None:
            prices.append({"name_de": "Regulär", "name_en": "Regular", "price_eur": price})
        if reduced is not None:
            prices.append({"name_de": "Ermäßigt", "name_en": "Reduced", "price_eur": reduced})
        values = RowValues(
            row=number,
            title_de=title,
            venue=" ".join(self.cell(row, "venue").split()),
            starts_at=starts_at,
            ends_at=ends_at,
            cancelled=cancelled,
            capacity=capacity,
            data=data,
            themes=themes,
            prices=prices,
            unknown_kind=unknown_kind,
            default_end=default_end,
            warnings=warnings,
        )
        return values, []

    def _moment(
        self, row: list[str], name: str, errors: list[str]
    ) -> tuple[date | None, time | None]:
        value = self.cell(row, name)
        if not value:
            return None, None
        try:
            return parse_moment(value)
        except ValueError as exc:
            errors.append(f"{FIELD_WORDS[name]}: {exc}")
            return None, None

    def _times(self, row: list[str], errors: list[str]) -> tuple[datetime, datetime, bool] | None:
        """Start and end (aware), and whether the end is the default duration."""
        if not self.cell(row, "start_date"):
            errors.append(_("the start date is empty"))
            return None
        start_day, start_clock = self._moment(row, "start_date", errors)
        start_clock = self._value(row, "start_time", parse_time, errors) or start_clock
        end_day, end_clock = self._moment(row, "end_date", errors)
        end_clock = self._value(row, "end_time", parse_time, errors) or end_clock
        duration = self._value(row, "duration", parse_duration, errors)
        all_day = self._value(row, "all_day", parse_yes_no, errors) or False
        if start_day is None or errors:
            return None
        no_end = end_day is None and end_clock is None
        if all_day or start_clock is None:
            starts_at = datetime.combine(start_day, time(0, 0), self.zone)
            ends_at = datetime.combine(end_day or start_day, end_clock or time(23, 59), self.zone)
        else:
            starts_at = datetime.combine(start_day, start_clock, self.zone)
            ends_at = datetime.combine(end_day or start_day, end_clock or time(23, 59), self.zone)
            if no_end:
                ends_at = starts_at + (duration or DEFAULT_DURATION)
        if duration is not None and no_end:
            ends_at = starts_at + duration
        default_end = start_clock is not None and not all_day and no_end and duration is None
        return _normalised(starts_at), _normalised(ends_at), default_end

    def _item_data(
        self, row: list[str], title: str, warnings: list[str]
    ) -> tuple[dict[str, Any], list[str], str]:
        """The item's fields, its themes, and a kind word that was not understood."""
        groups, unknown_groups = target_groups_of(split_words(self.cell(row, "target_groups")))
        if unknown_groups:
            warnings.append(
                _("target groups %(words)s are not known and were left out (known: %(known)s).")
                % {
                    "words": ", ".join(f"'{w}'" for w in unknown_groups),
                    "known": _("children, families, seniors, schools, groups, adults"),
                }
            )
        access, unknown_access = accessibility_of(split_words(self.cell(row, "accessibility")))
        if unknown_access:
            warnings.append(
                _("accessibility %(words)s is not known and was left out (known: %(known)s).")
                % {
                    "words": ", ".join(f"'{w}'" for w in unknown_access),
                    "known": _("wheelchair, induction loop, sign language, easy language"),
                }
            )
        kind_cell = self.cell(row, "kind")
        kind = kind_of(kind_cell) if kind_cell else None
        theme_words = split_words(self.cell(row, "themes"))
        themes = [w for w in theme_words if kind_of(w) is None]
        chosen_kind = kind or next((k for k in map(kind_of, theme_words) if k), None)
        description = self.cell(row, "description_de")
        url = self.cell(row, "url")
        if url and url not in description:
            description = f"{description}\n\n{url}".strip()
        data: dict[str, Any] = {
            "title_de": title,
            "title_en": " ".join(self.cell(row, "title_en").split()),
            "summary_de": self.cell(row, "summary_de"),
            "summary_en": self.cell(row, "summary_en"),
            "description_de": description,
            "description_en": self.cell(row, "description_en"),
            "target_groups": groups,
            "accessibility": access,
        }
        if chosen_kind:
            data["kind"] = chosen_kind
        return data, themes, kind_cell if kind_cell and kind is None else ""


def _normalised(moment: datetime) -> datetime:
    # A wall-clock time that does not exist (the hour skipped in spring) moves on.
    return moment.astimezone(ZoneInfo("UTC")).astimezone(moment.tzinfo)


# --- the file --------------------------------------------------------------------------------


def inspect_csv(path: Path) -> FileInfo:
    """Encoding, delimiter, header and first rows (the contacts import's detection)."""
    return inspect_file(path, kind="programme")


def _rows(path: Path, info: FileInfo) -> Iterable[tuple[int, list[str]]]:
    with path.open(encoding=info.encoding, newline="", errors="strict") as fh:
        for number, row in enumerate(csv.reader(fh, delimiter=info.delimiter), start=1):
            if number <= info.header_row:
                continue
            yield number, row


def read_csv(
    path: Path,
    *,
    info: FileInfo,
    mapping: dict[str, str],
    zone: ZoneInfo,
    now: datetime,
) -> ParsedFile:
    """Read every row: items grouped by title and venue, rejected rows with their reasons."""
    check_mapping(info.header, mapping)
    reader = RowReader(header=info.header, mapping=mapping, zone=zone)
    parsed = ParsedFile(format="csv", encoding=info.encoding, delimiter=info.delimiter)
    items: dict[str, ItemRecord] = {}
    seen_dates: dict[tuple[str, datetime], int] = {}
    past_rows: dict[str, list[int]] = {}
    unknown_kinds: dict[str, list[int]] = {}
    default_ends: list[int] = []
    try:
        for number, row in _rows(path, info):
            if not any(c.strip() for c in row):
                continue
            parsed.total += 1
            values, errors = reader.read(number, row)
            if values is None:
                parsed.reject(number, " ".join(reader.cell(row, "title_de").split()), *errors)
                continue
            key = external_key("csv", f"{folded(values.title_de)}@{folded(values.venue)}")
            if (key, values.starts_at) in seen_dates:
                parsed.note(
                    number,
                    values.title_de,
                    _("the same date as row %(row)d (same title, venue and start); skipped.")
                    % {"row": seen_dates[key, values.starts_at]},
                )
                continue
            seen_dates[key, values.starts_at] = number
            if values.warnings:
                parsed.note(number, values.title_de, *values.warnings)
            if values.unknown_kind:
                unknown_kinds.setdefault(values.unknown_kind, []).append(number)
            if values.default_end:
                default_ends.append(number)
            item = items.get(key)
            if item is None:
                item = items[key] = ItemRecord(
                    ref=number,
                    key=key,
                    label=values.title_de,
                    data=values.data,
                    venue=VenueRecord(values.venue[:200]) if values.venue else None,
                    themes=values.themes,
                    prices=values.prices,
                )
            else:
                _merge(item, values)
            if values.ends_at <= now:
                parsed.skipped_past += 1
                past_rows.setdefault(key, []).append(number)
                continue
            item.dates.append(
                DateRecord(
                    number,
                    values.starts_at,
                    values.ends_at,
                    cancelled=values.cancelled,
                    capacity=values.capacity,
                )
            )
    except csv.Error as exc:
        raise UnreadableFile(
            _("Row %(row)d is not valid CSV (%(error)s).")
            % {"row": parsed.total + info.header_row + 1, "error": exc}
        ) from exc
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            _("The file is not valid %(encoding)s.") % {"encoding": encoding_label(info.encoding)}
        ) from exc
    _add_notes(parsed, items, past_rows, unknown_kinds, default_ends, mapping)
    parsed.items = [item for item in items.values() if item.dates]
    parsed.notes.sort(key=lambda note: note.ref)
    return parsed


def _add_notes(  # noqa: PLR0917
    parsed: ParsedFile,
    items: dict[str, ItemRecord],
    past_rows: dict[str, list[int]],
    unknown_kinds: dict[str, list[int]],
    default_ends: list[int],
    mapping: dict[str, str],
) -> None:
    for key, rows in past_rows.items():
        parsed.note(
            rows[0],
            items[key].label,
            ngettext(
                "row %(rows)s: the date has begun or is over and was not imported.",
                "rows %(rows)s: dates that have begun or are over were not imported.",
                len(rows),
            )
            % {"rows": _row_list(rows)},
        )
    for word, rows in unknown_kinds.items():
        parsed.file_notes.append(
            ngettext(
                "The kind “%(word)s” is not known (row %(rows)s); the item was given the "
                "default kind.",
                "The kind “%(word)s” is not known (rows %(rows)s); those items were given the "
                "default kind.",
                len(rows),
            )
            % {"word": word, "rows": _row_list(rows)}
        )
    if default_ends:
        parsed.file_notes.append(
            ngettext(
                "Row %(rows)s gives no end and no duration: the date was given two hours.",
                "Rows %(rows)s give no end and no duration: those dates were given two hours.",
                len(default_ends),
            )
            % {"rows": _row_list(default_ends)}
        )
    ignored = [column for column, name in mapping.items() if not name]
    if ignored:
        parsed.file_notes.append(
            _("Columns not imported: %(columns)s.") % {"columns": ", ".join(ignored)}
        )


def _merge(item: ItemRecord, values: RowValues) -> None:
    """A further date of an item: fill what the first row left empty."""
    for name, value in values.data.items():
        if value and not item.data.get(name):
            item.data[name] = value
    for theme in values.themes:
        if theme not in item.themes:
            item.themes.append(theme)
    if not item.prices and values.prices:
        item.prices = values.prices


def _row_list(rows: list[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (" …" if len(rows) > limit else "")
