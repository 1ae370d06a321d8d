"""Programme import: the iCalendar and CSV readers on realistic files, the writing through
the programme services (re-import, dry run, capacity below sold), and the command line."""

from __future__ import annotations

import codecs
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from publikum.audience.models import ImportRun
from publikum.bookings.services import booking_create
from publikum.core.errors import ValidationFailed
from publikum.core.models import AuditEntry
from publikum.programme import import_csv, import_ics, importing
from publikum.programme.import_ics import IcsUnreadable, read_ics
from publikum.programme.import_records import ItemRecord, ParsedFile
from publikum.programme.models import (
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
    Theme,
    Venue,
)
from publikum.programme.tests.import_files import FIXTURES, future_copy, read, shift_of

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
# The fixtures describe the first half of 2027 and were "exported" on 15 January.
NOW = datetime(2027, 1, 15, 10, 0, tzinfo=BERLIN)


@pytest.fixture(autouse=True)
def english() -> object:
    with translation.override("en"):
        yield


def ics(data: bytes, *, now: datetime = NOW, language: str = "de") -> ParsedFile:
    return read_ics(data, zone=BERLIN, language=language, now=now)


def calendar(*events: str, head: str = "") -> bytes:
    """A small calendar around hand-written VEVENT bodies."""
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Test//DE\r\n"
        f"{head}{body}END:VCALENDAR\r\n"
    ).encode()


def by_title(parsed: ParsedFile) -> dict[str, ItemRecord]:
    return {item.data["title_de"]: item for item in parsed.items}


def local(moment: datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M %Z")


# --- iCalendar: a Google Calendar export ------------------------------------------------------


def test_google_export_becomes_one_item_per_event_with_its_series() -> None:
    parsed = ics(read("google_kalender.ics"))

    assert parsed.total == 8  # VEVENTs, the two changed dates of the series among them
    assert parsed.rejected == []
    items = by_title(parsed)
    assert sorted(items) == [
        "Highlights of the collection",
        "Kammerkonzert: Schubert im Spiegelsaal",
        "Licht und Schatten. Fotografien 1950–1980",
        "Sonntagsführung: Die Stadt im Mittelalter",
        "Vortrag: Der Rhein als Grenze",
    ]
    tour = items["Sonntagsführung: Die Stadt im Mittelalter"]
    assert tour.key == "ics:7kq3m1v0s9d2f8h4j6l5n0p2r4@google.com"
    assert tour.data["kind"] == "tour"
    assert tour.themes == ["Stadtgeschichte"]  # "Führung" names the kind, not a theme
    assert tour.venue is not None
    assert (tour.venue.name, tour.venue.street, tour.venue.postcode, tour.venue.city) == (
        "Stadtmuseum",
        "Marktplatz 1",
        "79098",
        "Freiburg im Breisgau",
    )
    # Folded lines are joined, escapes undone, the URL kept.
    assert tour.data["description_de"] == (
        "Wie lebten die Menschen in der Stadt vor 700 Jahren? Die Führung durch die "
        "Dauerausstellung erzählt von Zünften, Märkten und Stadtmauern – und davon, was davon "
        "bis heute im Stadtbild zu sehen ist.\n\nTreffpunkt: Foyer. Dauer etwa eine Stunde."
        "\n\nhttps://stadtmuseum.example/programm/sonntagsfuehrung"
    )


def test_weekly_series_honours_exdate_overrides_and_the_change_to_summer_time() -> None:
    tour = by_title(ics(read("google_kalender.ics")))["Sonntagsführung: Die Stadt im Mittelalter"]

    starts = [local(d.starts_at) for d in tour.dates]
    # 3 and 10 January have passed; 28 March (Easter Sunday) is excluded by EXDATE.
    assert starts == [
        "2027-01-17 11:00 CET", "2027-01-24 11:00 CET", "2027-01-31 11:00 CET",
        "2027-02-07 11:00 CET", "2027-02-14 11:00 CET",
        "2027-02-21 14:00 CET",  # moved by a RECURRENCE-ID override
        "2027-02-28 11:00 CET", "2027-03-07 11:00 CET", "2027-03-14 11:00 CET",
        "2027-03-21 11:00 CET",
        "2027-04-04 11:00 CEST", "2027-04-11 11:00 CEST", "2027-04-18 11:00 CEST",
        "2027-04-25 11:00 CEST",
    ]  # fmt: skip
    # 11:00 on the wall clock both sides of the change: an hour apart in UTC.
    assert tour.dates[9].starts_at.astimezone(UTC).hour == 10
    assert tour.dates[10].starts_at.astimezone(UTC).hour == 9
    assert [local(d.starts_at) for d in tour.dates if d.cancelled] == ["2027-04-04 11:00 CEST"]
    assert all(d.ends_at - d.starts_at == timedelta(hours=1) for d in tour.dates)


def test_all_day_cancelled_past_and_english_events() -> None:
    parsed = ics(read("google_kalender.ics"))
    items = by_title(parsed)

    exhibition = items["Licht und Schatten. Fotografien 1950–1980"]
    assert exhibition.data["kind"] == "exhibition"
    assert exhibition.themes == ["Fotografie"]
    [run] = exhibition.dates
    # DTEND of an all-day event is exclusive: the last day is 27 June.
    assert (local(run.starts_at), local(run.ends_at)) == (
        "2027-03-12 00:00 CET",
        "2027-06-27 23:59 CEST",
    )

    [talk] = items["Vortrag: Der Rhein als Grenze"].dates
    assert talk.cancelled

    english = items["Highlights of the collection"]
    assert english.data["title_en"] == "Highlights of the collection"
    assert english.data["description_en"].startswith("A guided tour of the collection")
    assert english.data["description_de"] == ""
    assert english.data["kind"] == "tour"  # CATEGORIES:Guided tour
    assert (english.venue.latitude, english.venue.longitude) == ("47.9958", "7.8521")

    assert "Druckwerkstatt im Advent" not in items
    assert parsed.skipped_past == 3
    notes = [(n.ref, n.label, n.errors) for n in parsed.notes]
    assert notes == [
        (27, "Sonntagsführung: Die Stadt im Mittelalter",
         ["2 dates in the past were not imported."]),
        (126, "Druckwerkstatt im Advent",
         ["the date 2026-12-05 14:00 has begun or is over; it was not imported."]),
    ]  # fmt: skip


def test_outlook_export_with_windows_time_zone_and_a_fold_inside_an_umlaut() -> None:
    parsed = ics(read("outlook_export.ics"))

    assert parsed.rejected == []
    items = by_title(parsed)
    # Outlook cut the line between the two bytes of "ö": unfolded before decoding.
    reading = items["Lesung mit Musik: Die Flößer"]
    assert reading.data["kind"] == "talk"
    assert [local(d.starts_at) for d in reading.dates] == ["2027-03-18 19:30 CET"]
    workshop = items["Theaterwerkstatt für Jugendliche"]
    assert workshop.data["kind"] == "workshop"
    assert workshop.data["description_de"].startswith(
        "Vier Samstage lang proben Jugendliche von 12 bis 16 Jahren mit der Theaterpädagogin"
    )
    # FREQ=MONTHLY;COUNT=4;BYDAY=1SA in "W. Europe Standard Time".
    assert [local(d.starts_at) for d in workshop.dates] == [
        "2027-02-06 10:00 CET",
        "2027-03-06 10:00 CET",
        "2027-04-03 10:00 CEST",
        "2027-05-01 10:00 CEST",
    ]
    assert len(workshop.key) <= 255


def test_broken_events_are_rejected_with_their_line_and_the_good_one_is_read() -> None:
    parsed = ics(read("fehlerhaft.ics"))

    assert [i.data["title_de"] for i in parsed.items] == ["Führung: Stadtmauer und Tore"]
    assert [(p.ref, p.label, p.errors) for p in parsed.rejected] == [
        (14, "Familiennachmittag im Museum",
         ["DTSTART “2027022T140000” is not valid (expected e.g. 20270130T190000)."]),
        (21, "Lesecafé", ["the event has no start (DTSTART)."]),
        (27, "Orgelkonzert im Münster",
         ["the end 2027-03-05 18:00 is before the start 2027-03-05 19:30."]),
        (35, "Kinderwerkstatt: Wappen malen",
         ["line 41 is not an iCalendar line: “Das ist keine iCalendar-Zeile”."]),
        (43, "Vortrag: Brunnen und Bächle",
         ["the file ends before this event is complete (END:VEVENT is missing): was the "
          "download cut off?"]),
    ]  # fmt: skip
    assert parsed.total == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"Hallo Welt, das ist ein Brief.\n", "This is not an iCalendar file: it should begin "
         "with BEGIN:VCALENDAR, but its first line is “Hallo Welt, das ist ein Brief.”. If it "
         "is a CSV file, choose the format CSV."),
        (b"<!DOCTYPE html><html><body>Kalender</body></html>", "This is a web page (HTML), "
         "not an iCalendar file. Download the calendar's .ics export, not the page that links "
         "to it."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is an image, not an iCalendar file."),
        (b"PK\x03\x04\x14\x00\x06\x00", "This is a zip file or an Office document, not an "
         "iCalendar file."),
        (b"BEGIN:VCALENDAR\x00\x01\x02\x03", "The file contains binary data (NUL bytes): it "
         "is not an iCalendar text file."),
        (codecs.BOM_UTF16_LE + b"B\x00E\x00G\x00\x00\xd8", "The file starts with a UTF-16 "
         "byte order mark but is not valid UTF-16. Export the calendar again as UTF-8."),
    ],
)  # fmt: skip
def test_a_file_that_is_not_icalendar_at_all_is_refused_with_the_reason(data, message) -> None:
    with pytest.raises(IcsUnreadable) as refused:
        ics(data)
    assert str(refused.value) == message


def test_windows_1252_lines_and_utf16_files_keep_their_umlauts() -> None:
    event = (
        "UID:1\r\nDTSTART;TZID=Europe/Berlin:20270301T190000\r\n"
        "DTEND;TZID=Europe/Berlin:20270301T200000\r\nSUMMARY:Führung im Gärtnerhaus"
    )
    cp1252 = calendar(event).decode().encode("cp1252")
    parsed = ics(cp1252)
    assert by_title(parsed)["Führung im Gärtnerhaus"]
    assert parsed.encoding == "cp1252"
    assert parsed.file_notes == [
        "Line 8 is not UTF-8, which iCalendar requires; it was read as Windows-1252. "
        "Check the umlauts of this event."
    ]

    utf16 = calendar(event).decode().encode("utf-16")
    parsed = ics(utf16)
    assert by_title(parsed)["Führung im Gärtnerhaus"]
    assert parsed.encoding == "utf-16"
    assert parsed.file_notes == []


def test_an_endless_series_stops_at_the_horizon_and_says_so() -> None:
    parsed = ics(
        calendar(
            "UID:jeden-mittwoch\r\nDTSTART;TZID=Europe/Berlin:20270120T180000\r\n"
            "DURATION:PT1H30M\r\nRRULE:FREQ=WEEKLY;BYDAY=WE\r\nSUMMARY:Offenes Atelier"
        )
    )
    [item] = parsed.items
    assert len(item.dates) == 52  # every Wednesday up to 15 January 2028
    assert local(item.dates[-1].starts_at) == "2028-01-12 18:00 CET"
    assert item.dates[0].ends_at - item.dates[0].starts_at == timedelta(minutes=90)
    assert [n.errors for n in parsed.notes] == [
        ["the series goes on after 15.01.2028; later dates were not imported yet: import the "
         "calendar again later to add them."]
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("RRULE:FREQ=HOURLY;COUNT=5", "the event repeats more often than daily "
         "(FREQ=HOURLY); the import takes daily, weekly, monthly and yearly series."),
        ("RRULE:FREQ=WEEKLY;BYDAY=XX", "RRULE “FREQ=WEEKLY;BYDAY=XX” is not valid (expected "
         "e.g. FREQ=WEEKLY;BYDAY=SU)."),
        ("EXDATE:2027XX", "EXDATE “2027XX” is not valid (expected e.g. 20270130T190000)."),
    ],
)  # fmt: skip
def test_unusable_rules_reject_the_event(lines, message) -> None:
    parsed = ics(
        calendar("UID:x\r\nDTSTART;TZID=Europe/Berlin:20270201T100000\r\nSUMMARY:Kurs\r\n" + lines)
    )
    assert parsed.items == []
    assert [p.errors for p in parsed.rejected] == [[message]]


def test_a_time_skipped_by_the_clock_change_moves_on_an_hour() -> None:
    parsed = ics(
        calendar(
            "UID:nacht\r\nDTSTART;TZID=Europe/Berlin:20270328T023000\r\n"
            "DTEND;TZID=Europe/Berlin:20270328T033000\r\nSUMMARY:Lange Nacht der Museen"
        )
    )
    [date_] = parsed.items[0].dates
    assert local(date_.starts_at) == "2027-03-28 03:30 CEST"


def test_floating_times_follow_the_calendars_zone_and_unknown_zones_are_noted() -> None:
    parsed = ics(
        calendar(
            "UID:a\r\nDTSTART:20270301T190000\r\nDTEND:20270301T200000\r\nSUMMARY:Konzert A",
            "UID:b\r\nDTSTART;TZID=Mars/Olympus:20270302T190000\r\nSUMMARY:Konzert B",
            "UID:c\r\nDTSTART:20270303T180000Z\r\nSUMMARY:Konzert C",
            head="X-WR-TIMEZONE:Europe/Lisbon\r\n",
        )
    )
    items = by_title(parsed)
    lisbon = ZoneInfo("Europe/Lisbon")
    assert items["Konzert A"].dates[0].starts_at.astimezone(lisbon).hour == 19
    assert items["Konzert B"].dates[0].starts_at.astimezone(lisbon).hour == 19
    assert local(items["Konzert C"].dates[0].starts_at) == "2027-03-03 19:00 CET"
    assert [n.errors for n in parsed.notes] == [
        ["its time zone “Mars/Olympus” is not known; the times were read as Europe/Lisbon."]
    ]
    # Without DTEND and DURATION an event ends when it begins (RFC 5545).
    assert items["Konzert B"].dates[0].ends_at == items["Konzert B"].dates[0].starts_at


def test_private_events_become_drafts() -> None:
    parsed = ics(
        calendar(
            "UID:p\r\nDTSTART:20270301T190000\r\nSUMMARY:Probe\r\nCLASS:PRIVATE",
            "UID:q\r\nDTSTART:20270302T190000\r\nSUMMARY:Premiere\r\nCLASS:PUBLIC",
        )
    )
    assert {i.label: i.data["published"] for i in parsed.items} == {
        "Probe": False,
        "Premiere": True,
    }


def test_the_summary_language_decides_the_title_field() -> None:
    event = "UID:x\r\nDTSTART:20270301T190000\r\nSUMMARY:Museum at night"
    assert ics(calendar(event), language="en").items[0].data["title_en"] == "Museum at night"
    assert ics(calendar(event), language="de").items[0].data["title_en"] == ""
    two = ics(
        calendar(
            "UID:y\r\nDTSTART:20270301T190000\r\nSUMMARY;LANGUAGE=de:Museumsnacht\r\n"
            "SUMMARY;LANGUAGE=en:Museum night"
        )
    ).items[0]
    assert (two.data["title_de"], two.data["title_en"]) == ("Museumsnacht", "Museum night")


# --- CSV -------------------------------------------------------------------------------------


def csv_file(name: str) -> tuple[Path, import_csv.FileInfo]:
    path = FIXTURES / name
    return path, import_csv.inspect_csv(path)


def test_ticketing_export_windows_1252_semicolons_and_german_columns() -> None:
    path, info = csv_file("ticketing_export.csv")
    assert (info.encoding, info.delimiter) == ("cp1252", ";")
    mapping = import_csv.resolve_mapping(info.header)
    assert mapping == {
        "Veranstaltung": "title_de", "Untertitel": "summary_de", "Kategorie": "kind",
        "Datum": "start_date", "Beginn": "start_time", "Ende": "end_time",
        "Spielstätte": "venue", "Kontingent": "capacity", "Preis VVK": "price",
        "Preis ermäßigt": "price_reduced", "Status": "status", "Zielgruppe": "target_groups",
        "Barrierefreiheit": "accessibility",
    }  # fmt: skip

    parsed = import_csv.read_csv(path, info=info, mapping=mapping, zone=BERLIN, now=NOW)

    assert parsed.total == 11
    assert [(p.ref, p.label, p.errors) for p in parsed.rejected] == [
        (6, "Orgelkonzert im Münster", ["end 18:00 is before start 19:30"]),
        (9, "Lesung: Die Flößer",
         ["start: '31.02.2027' is not a valid date: there is no such day"]),
        (10, "Kinderwerkstatt: Wappen malen",
         ["capacity: 'zwölf' is not a whole number from 0 to 100000"]),
    ]  # fmt: skip
    items = by_title(parsed)
    concert = items["Kammerkonzert: Schubert im Spiegelsaal"]
    assert concert.data["kind"] == "concert"
    assert concert.data["summary_de"] == "Ensemble Dreisam"
    assert [local(d.starts_at) for d in concert.dates] == [
        "2027-02-12 19:30 CET",
        "2027-02-13 19:30 CET",
    ]
    assert [d.capacity for d in concert.dates] == [120, 120]
    assert concert.prices == [
        {"name_de": "Regulär", "name_en": "Regular", "price_eur": Decimal("24.00")},
        {"name_de": "Ermäßigt", "name_en": "Reduced", "price_eur": Decimal("12.00")},
    ]
    assert concert.data["target_groups"] == ["adults"]
    assert concert.data["accessibility"] == ["wheelchair", "induction_loop"]
    tour = items["Familienführung: Ritter, Burgen, Wappen"]
    assert [d.cancelled for d in tour.dates] == [False, True]  # Status "abgesagt"
    assert tour.data["target_groups"] == ["families", "children"]
    theatre = items["Theater: Der zerbrochne Krug"]
    assert (theatre.data["kind"], theatre.data["accessibility"]) == (
        "performance",
        ["sign_language"],
    )
    assert local(theatre.dates[0].ends_at) == "2027-03-20 22:15 CET"  # "22:15 Uhr"
    free_talk = items["Vortrag: Der Rhein als Grenze"]
    assert free_talk.prices[0]["price_eur"] == Decimal("0.00")  # "frei"
    assert "Weihnachtsoratorium" in {n.label for n in parsed.notes}
    assert [(n.ref, n.errors) for n in parsed.notes] == [
        (8, ["row 8: the date has begun or is over and was not imported."]),
        (11, ["target groups 'Jugendliche' are not known and were left out (known: children, "
              "families, seniors, schools, groups, adults)."]),
    ]  # fmt: skip


def test_events_calendar_export_utf8_commas_with_its_preset() -> None:
    path, info = csv_file("events_calendar_export.csv")
    assert (info.encoding, info.delimiter) == ("utf-8", ",")
    mapping = import_csv.resolve_mapping(info.header, preset="events_calendar")
    # Category and tags both fill the themes.
    assert (mapping["Event Category"], mapping["Event Tags"]) == ("themes", "themes")

    parsed = import_csv.read_csv(path, info=info, mapping=mapping, zone=BERLIN, now=NOW)

    items = by_title(parsed)
    exhibition = items["Licht und Schatten. Fotografien 1950–1980"]
    assert exhibition.data["kind"] == "exhibition"  # from the category "Ausstellung"
    assert exhibition.themes == ["Fotografie", "Stadtgeschichte"]
    assert (local(exhibition.dates[0].starts_at), local(exhibition.dates[0].ends_at)) == (
        "2027-03-12 00:00 CET",
        "2027-06-27 23:59 CEST",
    )
    assert exhibition.data["description_de"].endswith(
        "\n\nhttps://stadtmuseum.example/licht-und-schatten"
    )
    curator = items["Kuratorinnenführung: Licht und Schatten"]
    assert [local(d.starts_at) for d in curator.dates] == [  # "3:00 pm"
        "2027-03-14 15:00 CET",
        "2027-04-11 15:00 CEST",
    ]
    talk = items["Vortrag: Frauen in der Stadtgeschichte"]
    assert talk.data["description_de"] == (
        "Von der Zunftmeisterin bis zur ersten Stadträtin.\n"
        "Ein Abend mit der Historikerin Prof. Dr. Amani Yilmaz."
    )
    assert talk.dates[0].ends_at - talk.dates[0].starts_at == timedelta(hours=2)
    slam = items["Poetry Slam im Museum"]
    assert "kind" not in slam.data  # "Slam" is no kind: the import's default applies
    assert slam.themes == ["Slam", "Literatur"]
    assert [(p.ref, p.errors) for p in parsed.rejected] == [
        (7, ["the title is empty"]),
        (8, ["start time: '25:00' is not a time (HH:MM)",
             "end time: '26:00' is not a time (HH:MM)"]),
    ]  # fmt: skip
    assert parsed.file_notes == [
        "Row 5 gives no end and no duration: the date was given two hours."
    ]


def test_mapping_problems_are_named(tmp_path) -> None:
    _path, info = csv_file("ticketing_export.csv")
    with pytest.raises(ValidationFailed) as missing:
        import_csv.resolve_mapping(info.header, explicit={"Veranstaltung": "", "Datum": ""})
    assert missing.value.message == (
        "The column mapping cannot be used: no column is assigned to Title (German) and Start "
        "date (may include the time) (the file's columns: Veranstaltung, Untertitel, Kategorie, "
        "Datum, Beginn, Ende, Spielstätte, Kontingent, Preis VVK, Preis ermäßigt, Status, "
        "Zielgruppe, Barrierefreiheit)."
    )
    with pytest.raises(ValidationFailed) as unknown:
        import_csv.resolve_mapping(info.header, explicit={"Uhrzeit": "start_time"})
    assert unknown.value.message.startswith("The file has no column 'Uhrzeit'")
    with pytest.raises(ValidationFailed) as twice:
        import_csv.check_mapping(
            info.header, {"Veranstaltung": "title_de", "Untertitel": "title_de"}
        )
    assert "'title_de' is assigned to both 'Veranstaltung' and 'Untertitel'" in twice.value.message

    tabbed = tmp_path / "programm.csv"
    tabbed.write_bytes("Titel\tDatum\tUhrzeit\nFührung\t2027-03-01\t11:00\n".encode("utf-16"))
    info = import_csv.inspect_csv(tabbed)
    assert (info.encoding, info.delimiter, info.header) == (
        "utf-16",
        "\t",
        ["Titel", "Datum", "Uhrzeit"],
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("19:30", "19:30"), ("19.30", "19:30"), ("19 Uhr", "19:00"), ("7:30 pm", "19:30"),
     ("12:00 AM", "00:00"), ("19:30:00", "19:30")],
)  # fmt: skip
def test_times_in_the_usual_spellings(text, expected) -> None:
    assert import_csv.parse_time(text).strftime("%H:%M") == expected


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90", 90), ("90 min", 90), ("1:30", 90), ("1,5 h", 90), ("2 Std.", 120)],
)
def test_durations_in_the_usual_spellings(text, minutes) -> None:
    assert import_csv.parse_duration(text) == timedelta(minutes=minutes)


def test_dates_german_and_iso_with_or_without_weekday() -> None:
    assert import_csv.parse_moment("Fr, 24.12.2027 19:30")[0] == date(2027, 12, 24)
    assert import_csv.parse_moment("2027-12-24T19:30:00")[1].hour == 19
    assert import_csv.parse_moment("24.12.27")[0] == date(2027, 12, 24)
    with pytest.raises(ValueError, match="is not a date"):
        import_csv.parse_day("Heiligabend")


# --- writing: through the services -------------------------------------------------------------


def import_bytes(organisation, tmp_path, name: str, data: bytes, **kwargs) -> ImportRun:
    path = tmp_path / name
    path.write_bytes(data)
    options = {"default_kind": "talk", "capacity": 40} | kwargs
    return importing.import_file(organisation=organisation, path=path, **options)


@pytest.fixture
def google(organisation, tmp_path) -> ImportRun:
    return import_bytes(organisation, tmp_path, "kalender.ics", future_copy("google_kalender.ics"))


def report(run: ImportRun) -> dict[str, int]:
    figures = importing.run_report(run)
    return {k: v for k, v in figures.items() if isinstance(v, int) and v}


@pytest.mark.django_db
def test_import_creates_items_dates_venues_and_themes_through_the_services(
    organisation, google
) -> None:
    # All dates lie ahead (the copy is moved into the future): 16 + 5 single dates.
    assert report(google) == {
        "items_created": 6, "dates_created": 21, "dates_cancelled": 2,
        "venues_created": 5, "themes_created": 2,
    }  # fmt: skip
    assert google.status == "done"
    assert (google.total_rows, google.created_count, google.rejected_count) == (8, 21, 0)
    tour = ProgrammeItem.objects.get(organisation=organisation, external_id__contains="7kq3m1")
    assert (tour.kind, tour.published, tour.bookable) == ("tour", True, True)
    assert [t.name_de for t in tour.themes.all()] == ["Stadtgeschichte"]
    assert tour.venue is not None
    assert (tour.venue.name_de, tour.venue.postcode) == ("Stadtmuseum", "79098")
    dates = tour.occurrences.order_by("starts_at")
    assert dates.count() == 16
    assert {d.capacity for d in dates} == {40}  # the default capacity
    assert [d.status for d in dates].count(OccurrenceStatus.CANCELLED) == 1
    exhibition = ProgrammeItem.objects.get(organisation=organisation, kind="exhibition")
    assert not exhibition.bookable
    # The English-only event is found by its venue's full address.
    english = ProgrammeItem.objects.get(organisation=organisation, title_en__startswith="High")
    assert english.venue == tour.venue
    assert ProgrammeItem.objects.get(title_de="Druckwerkstatt im Advent").kind == "workshop"
    # Every write left its audit entry; the import its own.
    actions = list(
        AuditEntry.objects.filter(organisation=organisation).values_list("action", flat=True)
    )
    assert actions.count("programme.item.created") == 6
    assert actions.count("programme.occurrence.created") == 21
    assert actions.count("programme.occurrence.cancelled") == 2
    assert actions.count("programme.import.finished") == 1


@pytest.mark.django_db
def test_importing_the_same_file_again_changes_nothing(organisation, tmp_path, google) -> None:
    again = import_bytes(organisation, tmp_path, "kalender.ics", future_copy("google_kalender.ics"))

    assert report(again) == {"items_unchanged": 6, "dates_unchanged": 21}
    assert ProgrammeItem.objects.filter(organisation=organisation).count() == 6
    assert Occurrence.objects.filter(organisation=organisation).count() == 21
    assert Venue.objects.filter(organisation=organisation).count() == 5
    assert Theme.objects.filter(organisation=organisation).count() == 2


@pytest.mark.django_db
def test_a_changed_calendar_updates_what_changed(organisation, tmp_path, google) -> None:
    changed = (
        future_copy("google_kalender.ics")
        .replace(b"SUMMARY:Kammerkonzert: Schubert im Spiegelsaal", b"SUMMARY:Schubertabend")
        .replace(b"T213000\r\n", b"T220000\r\n")  # the concert ends half an hour later
        .replace(b"EXDATE;TZID=Europe/Berlin:", b"X-EXDATE;TZID=Europe/Berlin:")
    )

    again = import_bytes(organisation, tmp_path, "kalender.ics", changed)

    assert report(again) == {
        "items_updated": 1, "items_unchanged": 5, "dates_created": 1, "dates_updated": 1,
        "dates_unchanged": 20,
    }  # fmt: skip
    concert = ProgrammeItem.objects.get(organisation=organisation, kind="concert")
    assert concert.title_de == "Schubertabend"
    [evening] = concert.occurrences.all()
    assert timezone.localtime(evening.ends_at, BERLIN).strftime("%H:%M") == "22:00"


@pytest.mark.django_db
def test_a_dry_run_reports_everything_and_writes_nothing(organisation, tmp_path) -> None:
    run = import_bytes(
        organisation, tmp_path, "kalender.ics", future_copy("google_kalender.ics"), dry_run=True
    )

    assert run.pk is None
    assert report(run)["dates_created"] == 21
    assert not ProgrammeItem.objects.filter(organisation=organisation).exists()
    assert not Occurrence.objects.filter(organisation=organisation).exists()
    assert not Venue.objects.filter(organisation=organisation).exists()
    assert not Theme.objects.filter(organisation=organisation).exists()
    assert not AuditEntry.objects.filter(action__startswith="programme.").exists()
    assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_a_rejected_item_leaves_nothing_behind_and_the_others_are_imported(
    organisation, tmp_path
) -> None:
    day = (timezone.localdate() + timedelta(days=20)).strftime("%Y%m%d")
    data = calendar(
        f"UID:lang\r\nDTSTART;TZID=Europe/Berlin:{day}T190000\r\nSUMMARY:{'Sehr ' * 50}lang\r\n"
        "LOCATION:Neuer Saal\r\nCATEGORIES:Neues Thema",
        f"UID:kurz\r\nDTSTART;TZID=Europe/Berlin:{day}T200000\r\nSUMMARY:Kurz\r\nLOCATION:Foyer",
    )

    run = import_bytes(organisation, tmp_path, "k.ics", data)

    assert [e["errors"] for e in run.rejected] == [
        ["The programme item could not be saved (title_de: at most 200 characters)."]
    ]
    assert list(ProgrammeItem.objects.values_list("title_de", flat=True)) == ["Kurz"]
    assert list(Venue.objects.values_list("name_de", flat=True)) == ["Foyer"]
    assert not Theme.objects.exists()
    assert report(run)["venues_created"] == 1


def ticketing_copy() -> bytes:
    return future_copy("ticketing_export.csv", encoding="cp1252")


@pytest.mark.django_db
def test_csv_import_keeps_valid_rows_and_reports_rejected_ones(organisation, tmp_path) -> None:
    run = import_bytes(organisation, tmp_path, "export.csv", ticketing_copy())

    assert run.status == "done"
    assert (run.encoding, run.delimiter) == ("cp1252", ";")
    assert [(e["row"], e["errors"]) for e in run.rejected] == [
        (6, ["end 18:00 is before start 19:30"]),
        (9, ["start: '31.02.2027' is not a valid date: there is no such day"]),
        (10, ["capacity: 'zwölf' is not a whole number from 0 to 100000"]),
    ]
    # The Weihnachtsoratorium lies ahead in the moved copy: 8 dates in 6 items.
    assert report(run) == {
        "items_created": 6, "dates_created": 8, "dates_cancelled": 2, "venues_created": 6,
    }  # fmt: skip
    concert = ProgrammeItem.objects.get(title_de="Kammerkonzert: Schubert im Spiegelsaal")
    assert list(concert.price_categories.values_list("name_de", "price_eur")) == [
        ("Regulär", Decimal("24.00")),
        ("Ermäßigt", Decimal("12.00")),
    ]
    assert {o.capacity for o in concert.occurrences.all()} == {120}
    assert concert.accessibility == ["wheelchair", "induction_loop"]
    text = importing.report_text(run)
    assert "Row 6 (“Orgelkonzert im Münster”): end 18:00 is before start 19:30" in text


@pytest.mark.django_db
def test_capacity_is_not_lowered_below_the_seats_sold(organisation, tmp_path) -> None:
    import_bytes(organisation, tmp_path, "export.csv", ticketing_copy())
    concert = ProgrammeItem.objects.get(title_de="Kammerkonzert: Schubert im Spiegelsaal")
    first = concert.occurrences.order_by("starts_at").first()
    booking_create(
        organisation=organisation,
        occurrence_id=first.pk,
        name="Greta Bauer",
        email="greta.bauer@example.org",
        quantity=5,
    )
    smaller = ticketing_copy().replace(b";Spiegelsaal;120;", b";Spiegelsaal;3;")

    run = import_bytes(organisation, tmp_path, "export.csv", smaller)

    assert (run.rejected[0]["row"], run.rejected[0]["errors"]) == (
        2,
        [
            f"the date {timezone.localtime(first.starts_at, BERLIN):%Y-%m-%d %H:%M}: 5 seats "
            "of this date are sold; the capacity cannot be lower than 5."
        ],
    )
    first.refresh_from_db()
    assert first.capacity == 120
    second = concert.occurrences.order_by("starts_at").last()
    assert second.capacity == 3  # nothing sold there: the file's capacity is taken
    assert report(run)["dates_updated"] == 1


@pytest.mark.django_db
def test_a_date_cancelled_in_publikum_stays_cancelled(organisation, tmp_path) -> None:
    import_bytes(organisation, tmp_path, "export.csv", ticketing_copy())
    theatre = ProgrammeItem.objects.get(title_de="Theater: Der zerbrochne Krug")
    Occurrence.objects.filter(item=theatre).update(status=OccurrenceStatus.CANCELLED)

    run = import_bytes(organisation, tmp_path, "export.csv", ticketing_copy())

    assert [n["errors"][0] for n in importing.run_report(run)["notes"] if n["row"] == 7] == [
        f"the date {timezone.localtime(theatre.occurrences.get().starts_at, BERLIN):%Y-%m-%d %H:%M}"
        " was cancelled in Publikum and stays cancelled."
    ]
    assert theatre.occurrences.get().status == OccurrenceStatus.CANCELLED


@pytest.mark.django_db
def test_csv_prices_are_added_to_an_existing_item_never_removed(organisation, tmp_path) -> None:
    import_bytes(organisation, tmp_path, "export.csv", ticketing_copy())
    concert = ProgrammeItem.objects.get(title_de="Kammerkonzert: Schubert im Spiegelsaal")
    PriceCategory.objects.create(
        organisation=organisation, item=concert, name_de="Schüler", price_eur=5, position=2
    )
    dearer = ticketing_copy().replace(b"24,00 \x80;12,00 \x80", b"26,00 \x80;12,00 \x80")

    import_bytes(organisation, tmp_path, "export.csv", dearer)

    assert list(concert.price_categories.values_list("name_de", "price_eur")) == [
        ("Regulär", Decimal("26.00")),
        ("Ermäßigt", Decimal("12.00")),
        ("Schüler", Decimal("5.00")),
    ]


# --- the command line ---------------------------------------------------------------------------


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("publikum_import", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_cli_imports_a_calendar_and_prints_the_report(organisation, tmp_path) -> None:
    path = tmp_path / "kalender.ics"
    path.write_bytes(future_copy("google_kalender.ics"))

    out = command("programme", str(path), "--org", organisation.slug, "--capacity", "25")

    run = ImportRun.objects.get(kind="programme")
    assert out.splitlines()[:5] == [
        f"Import {run.pk}: programme from kalender.ics",
        "Format: iCalendar; encoding: UTF-8",
        "Events: 8; rejected: 0",
        "Items: 6 created, 0 updated, 0 unchanged.",
        "Dates: 21 created, 0 updated, 0 unchanged, 2 cancelled, 0 in the past skipped.",
    ]
    assert set(Occurrence.objects.values_list("capacity", flat=True)) == {25}


@pytest.mark.django_db
def test_cli_prints_json_on_request(organisation, tmp_path) -> None:
    path = tmp_path / "fehlerhaft.ics"
    path.write_bytes(future_copy("fehlerhaft.ics"))

    out = command("programme", str(path), "--org", organisation.slug, "--capacity", "12", "--json")

    report = json.loads(out)
    assert (report["format"], report["total"], report["items_created"]) == ("ics", 6, 1)
    assert report["rejected"][1] == {
        "row": 21,
        "label": "Lesecafé",
        "errors": ["the event has no start (DTSTART)."],
    }
    assert report["dry_run"] is False


@pytest.mark.django_db
def test_cli_dry_run_of_a_csv_file_keeps_nothing(organisation, tmp_path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(ticketing_copy())

    out = command(
        "programme", str(path), "--org", organisation.slug, "--capacity", "25", "--dry-run",
        "--item-kind", "concert", "--map", "Untertitel=",
    )  # fmt: skip

    assert out.startswith("Dry run, nothing was saved: programme from export.csv\n")
    assert "Format: CSV; encoding: Windows-1252; delimiter: semicolon" in out
    assert "Rows: 11; rejected: 3" in out
    assert "Rejected: Row 9 (“Lesung: Die Flößer”): start: '31.02.2027' is not a valid date" in out
    assert "Untertitel →" not in out
    assert not ProgrammeItem.objects.exists()
    assert not ImportRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "gibt-es-nicht", "--capacity", "10"],
         "There is no organisation 'gibt-es-nicht'."),
        (["--capacity", "10", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        ([], "A programme import needs --capacity: the number of seats of each new date."),
        (["--capacity", "-1"], "The import options are not valid (capacity: from 0 to 100000)."),
        (["--capacity", "10", "--format", "ics", "--preset", "pretix"],
         "Unknown column layout 'pretix' for a programme; one of generic, ticketing, "
         "events_calendar."),
    ],
)  # fmt: skip
def test_cli_bad_options_fail_with_a_message(organisation, tmp_path, args, message) -> None:
    path = tmp_path / "kalender.ics"
    path.write_bytes(read("google_kalender.ics"))
    if "--org" not in args:
        args = ["--org", organisation.slug, *args]

    with pytest.raises(CommandError) as failed:
        command("programme", str(path), *args)

    assert message in str(failed.value)
    assert failed.value.returncode == 1
    assert not ProgrammeItem.objects.exists()


@pytest.mark.django_db
def test_cli_missing_and_unreadable_files(organisation, tmp_path) -> None:
    with pytest.raises(CommandError, match=r"There is no file .*fehlt\.ics\."):
        command("programme", str(tmp_path / "fehlt.ics"), "--org", organisation.slug,
                "--capacity", "10")  # fmt: skip
    letter = tmp_path / "brief.ics"
    letter.write_text("Sehr geehrte Damen und Herren\n", encoding="utf-8")
    with pytest.raises(CommandError) as failed:
        command("programme", str(letter), "--org", organisation.slug, "--capacity", "10")
    assert str(failed.value) == (
        "This is not an iCalendar file: it should begin with BEGIN:VCALENDAR, but its first "
        "line is “Sehr geehrte Damen und Herren”."
    )
    assert not ImportRun.objects.filter(status="done").exists()


def test_future_copies_keep_weekdays() -> None:
    moved = shift_of("google_kalender.ics")
    assert moved.days % 7 == 0
    assert b"BYDAY=SU" in future_copy("google_kalender.ics")
    # Windows-1252 survives the move.
    assert "Spielstätte".encode("cp1252") in ticketing_copy()
    assert timedelta(days=365) == import_ics.HORIZON


# --- PostgreSQL: the same calendar imported by several processes at once -----------------------

IMPORTER = """
import json, os, sys, time
import django
django.setup()
from io import StringIO
from django.core.management import call_command
from django.db import connection
connection.ensure_connection()
open(os.environ["READY"], "w").close()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.005)
out = StringIO()
call_command("publikum_import", "programme", os.environ["FILE"], "--org", os.environ["ORG"],
             "--capacity", "10", "--json", stdout=out)
print(out.getvalue())
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pg"])
def test_concurrent_imports_of_one_calendar_create_each_item_once(tmp_path) -> None:
    import os
    import subprocess
    import sys
    import time
    from urllib.parse import quote

    from django.db import connections

    from publikum.core.models import Organisation

    db = connections["pg"].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    organisation = Organisation.objects.using("pg").create(slug="gleichzeitig", name="Haus")
    calendar_file = tmp_path / "kalender.ics"
    calendar_file.write_bytes(future_copy("google_kalender.ics"))
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PUBLIKUM_TASK_QUEUE"}}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", IMPORTER],
            env=env
            | {
                "DJANGO_SETTINGS_MODULE": "publikum.settings",
                "PUBLIKUM_DATA_DIR": str(tmp_path),
                "DATABASE_URL": url,
                "READY": str(tmp_path / f"ready-{n}"),
                "GO": str(go),
                "FILE": str(calendar_file),
                "ORG": organisation.slug,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in range(3)):
        assert time.monotonic() < deadline, "the importers did not get ready"
        assert all(p.poll() is None for p in processes), processes[0].communicate()
        time.sleep(0.02)
    go.touch()
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        reports.append(json.loads(out))

    items = ProgrammeItem.objects.using("pg").filter(organisation=organisation)
    assert items.count() == 6
    assert items.values("external_id").distinct().count() == 6
    assert Occurrence.objects.using("pg").filter(organisation=organisation).count() == 21
    assert Venue.objects.using("pg").filter(organisation=organisation).count() == 5
    # Each item was created by one of the runs; the others found it or were told to retry.
    assert sum(r["items_created"] for r in reports) == 6
    for report in reports:
        for entry in report["rejected"]:
            # The command runs in the house language, German.
            assert entry["errors"] == [
                "ein anderer Import hat diesen Programmpunkt gleichzeitig geschrieben; "
                "importieren Sie erneut."
            ], entry
