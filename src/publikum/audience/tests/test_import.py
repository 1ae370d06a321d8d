"""CSV import: encodings, delimiters, mapping, row checks, consent, batches, the job."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone, translation

from publikum.audience import importing
from publikum.audience.importing import UnreadableFile, import_file
from publikum.audience.models import (
    Consent,
    Contact,
    ImportRun,
    ImportStatus,
    Interaction,
)
from publikum.audience.services import consent_set, contact_create
from publikum.core.errors import ValidationFailed
from publikum.core.models import AuditEntry, FailedJob
from publikum.programme.models import ProgrammeItem, Theme

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"

UMLAUTS = (
    "Vorname;Nachname;E-Mail;PLZ\n"
    "Jürgen;Müller;juergen@example.org;80331\n"
    "Anna;Weiß;anna@example.org;50667\n"
    "Özlem;Schäfer;oezlem@example.org;20095\n"
)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture(autouse=True)
def in_english() -> Iterator[None]:
    with translation.override("en"):
        yield


def write(tmp_path: Path, text: str, name: str = "import.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def names(organisation) -> list[tuple[str, str]]:
    return sorted(
        Contact.objects.filter(organisation=organisation).values_list("first_name", "last_name")
    )


# --- encodings and delimiters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16"),  # Python writes a byte order mark
    ],
)
def test_the_encoding_is_detected_and_umlauts_arrive_intact(
    organisation, tmp_path, encoding, detected
) -> None:
    path = write(tmp_path, UMLAUTS, encoding=encoding)

    run = import_file(organisation=organisation, path=path, kind="contacts")

    assert run.encoding == detected
    assert run.status == ImportStatus.DONE
    assert names(organisation) == [("Anna", "Weiß"), ("Jürgen", "Müller"), ("Özlem", "Schäfer")]


def test_encoding_labels_say_which_encoding_people_would_call_it(tmp_path) -> None:
    assert importing.encoding_label("cp1252") == "Windows-1252"
    assert importing.encoding_label("utf-8-sig") == "UTF-8 with BOM"
    path = write(tmp_path, UMLAUTS, encoding="utf-16-le")  # no byte order mark
    assert importing.detect_encoding(path) == "utf-16-le"


def test_a_binary_file_is_refused_with_a_clear_message(organisation, tmp_path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2000))

    with pytest.raises(UnreadableFile, match="not a CSV text file"):
        import_file(organisation=organisation, path=path, kind="contacts")
    assert not ImportRun.objects.exists()


def test_a_spreadsheet_is_refused_with_the_advice_to_save_as_csv(organisation, tmp_path) -> None:
    path = tmp_path / "kunden.csv"
    path.write_bytes(b"PK\x03\x04" + b"\x14\x00" * 100)

    with pytest.raises(UnreadableFile, match="Save it as CSV"):
        import_file(organisation=organisation, path=path, kind="contacts")


def test_a_wrong_delimiter_is_named_in_the_error(organisation, tmp_path) -> None:
    path = write(tmp_path, "Vorname|Nachname|E-Mail\nAnna|Weiß|anna@example.org\n")

    with pytest.raises(UnreadableFile) as caught:
        import_file(organisation=organisation, path=path, kind="contacts")

    message = caught.value.message
    assert "only one column" in message
    assert "comma, a semicolon or a tab" in message
    assert "'|'" in message
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("delimiter", "name"), [(",", ","), (";", ";"), ("\t", "\t")])
def test_comma_semicolon_and_tab_are_recognised(organisation, tmp_path, delimiter, name) -> None:
    text = delimiter.join(["E-Mail", "Vorname", "Betrag"]) + "\n"
    text += delimiter.join(["a@example.org", "Anna", '"12,50"']) + "\n"
    path = write(tmp_path, text)

    run = import_file(organisation=organisation, path=path, kind="contacts")

    assert run.delimiter == name
    assert Contact.objects.get().first_name == "Anna"


def test_a_single_column_of_email_addresses_is_fine(organisation, tmp_path) -> None:
    path = write(tmp_path, "email\na@example.org\nb@example.org\n")

    run = import_file(organisation=organisation, path=path, kind="contacts")

    assert run.created_count == 2


# --- rows: checked one by one ---------------------------------------------------------------

MIXED = (
    "E-Mail,Vorname,Nachname,PLZ,Geburtsdatum,Sprache,Interessen\n"  # row 1
    "gut@example.org,Gut,Erste,10115,01.02.1980,de,fotografie\n"  # 2
    "kaputt-at-example.org,Falsch,Mail,10115,,de,\n"  # 3
    "datum@example.org,Falsch,Datum,10115,1980-13-01,de,\n"  # 4
    "\n"  # 5: blank lines are skipped but keep the numbering
    "sprache@example.org,Falsche,Sprache,10115,,fr,\n"  # 6
    "thema@example.org,Unbekanntes,Thema,10115,,en,fotografie;tiefsee\n"  # 7
    "plz@example.org,Lange,PLZ,12345678901,,de,\n"  # 8
    "zelle@example.org,Zu,Viele,10115,,de,,extra\n"  # 9
    ",,,10115,,,\n"  # 10
    '"zeilen@example.org","Mehr-\nzeilig",Gut,10115,31.12.1999,EN,\n'  # 11
    "GUT@example.org,,Erste-Neu,,,,\n"  # 12: same person as row 2
)


@pytest.fixture
def themes(organisation) -> None:
    Theme.objects.create(
        organisation=organisation, slug="fotografie", name_de="Fotografie", name_en="Photography"
    )


def test_bad_rows_are_reported_with_number_and_reason_and_good_rows_kept(
    organisation, tmp_path, themes
) -> None:
    run = import_file(organisation=organisation, path=write(tmp_path, MIXED), kind="contacts")

    assert run.status == ImportStatus.DONE
    reasons = {item["row"]: " ".join(item["errors"]) for item in run.rejected}
    assert list(reasons) == [3, 4, 6, 7, 8, 9, 10]
    assert "email: 'kaputt-at-example.org' is not a valid e-mail address" in reasons[3]
    assert "birthday: '1980-13-01' is not a valid date" in reasons[4]
    assert "language: 'fr' is not a supported language" in reasons[6]
    assert "interests: unknown theme 'tiefsee'" in reasons[7]
    assert "postcode: longer than 10 characters" in reasons[8]
    assert "the row has 8 cells; the header has 7 columns" in reasons[9]
    assert "no e-mail address, name or phone number" in reasons[10]
    assert (run.total_rows, run.created_count, run.updated_count, run.rejected_count) == (
        10,
        2,
        1,
        7,
    )
    kept = {c.email: c for c in Contact.objects.filter(organisation=organisation)}
    assert set(kept) == {"gut@example.org", "zeilen@example.org"}
    first = kept["gut@example.org"]
    assert (first.first_name, first.last_name) == ("Gut", "Erste-Neu")
    assert first.birthday.isoformat() == "1980-02-01"
    assert [t.slug for t in first.interests.all()] == ["fotografie"]
    second = kept["zeilen@example.org"]
    assert (second.first_name, second.language) == ("Mehr-\nzeilig", "en")


def test_an_existing_contact_is_updated_by_its_email_and_empty_cells_keep_values(
    organisation, tmp_path
) -> None:
    existing = contact_create(
        organisation=organisation,
        email="Anna.Weiss@Example.org",
        first_name="Anna",
        phone="030 111",
        tags=["Abo"],
    )
    path = write(
        tmp_path, "email;first_name;phone;postcode;tags\nanna.weiss@example.org;;;10115;Presse\n"
    )

    run = import_file(organisation=organisation, path=path, kind="contacts")

    assert (run.created_count, run.updated_count) == (0, 1)
    existing.refresh_from_db()
    assert (existing.first_name, existing.phone, existing.postcode) == ("Anna", "030 111", "10115")
    assert existing.tags == ["Abo", "Presse"]
    assert Contact.objects.count() == 1


def test_rows_are_written_in_batches_and_match_across_batches(
    organisation, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(importing, "BATCH_SIZE", 3)
    lines = ["email,last_name"] + [f"p{i}@example.org,Person {i}" for i in range(10)]
    lines += ["P2@example.org,Person Zwei", "p9@example.org,Person Neun"]
    path = write(tmp_path, "\n".join(lines) + "\n")

    run = import_file(organisation=organisation, path=path, kind="contacts")

    assert (run.total_rows, run.created_count, run.updated_count) == (12, 10, 2)
    assert Contact.objects.count() == 10
    assert Contact.objects.get(email="p2@example.org").last_name == "Person Zwei"


def test_a_dry_run_counts_everything_and_keeps_nothing(organisation, tmp_path, themes) -> None:
    run = import_file(
        organisation=organisation, path=write(tmp_path, MIXED), kind="contacts", dry_run=True
    )

    assert run.pk is None
    assert (run.created_count, run.rejected_count) == (2, 7)
    assert not Contact.objects.exists()
    assert not ImportRun.objects.exists()
    assert not AuditEntry.objects.filter(action="audience.import.finished").exists()


# --- consent --------------------------------------------------------------------------------

CONSENT = (
    "email,first_name,newsletter,consent_offers,consent_date\n"
    "ja@example.org,Ja,ja,nein,01.03.2025\n"
    "nein@example.org,Nein,nein,,\n"
    "vielleicht@example.org,Vielleicht,vielleicht,,\n"
)


def test_consent_columns_are_ignored_without_a_source_and_the_report_says_so(
    organisation, tmp_path
) -> None:
    path = write(tmp_path, CONSENT)

    run = import_file(organisation=organisation, path=path, kind="contacts")

    assert not Consent.objects.exists()
    notes = " ".join(importing.report_notes(run))
    assert "Consent columns were ignored because no consent source was given" in notes
    assert "newsletter, consent_offers, consent_date" in notes
    # A value that is neither yes nor no is still an error of the row.
    assert [r["row"] for r in run.rejected] == [4]


def test_consent_is_imported_with_its_source(organisation, tmp_path) -> None:
    path = write(tmp_path, CONSENT)

    run = import_file(
        organisation=organisation, path=path, kind="contacts", consent_source="Kasse 2025"
    )

    consent = Consent.objects.get()
    assert (consent.contact.email, consent.channel, consent.purpose) == (
        "ja@example.org",
        "email",
        "newsletter",
    )
    assert consent.granted
    assert consent.source == "Kasse 2025"
    assert consent.granted_at.date().isoformat() == "2025-03-01"
    assert run.consent_source == "Kasse 2025"
    assert not any("Consent columns" in n for n in importing.report_notes(run))
    audit = AuditEntry.objects.get(action="audience.import.finished")
    assert audit.data["consents_granted"] == 1
    assert "ja@example.org" not in str(audit.data)


def test_a_later_withdrawal_is_not_overruled_by_an_older_consent_in_a_file(
    organisation, tmp_path
) -> None:
    contact = contact_create(organisation=organisation, email="ja@example.org")
    consent_set(
        contact=contact,
        channel="email",
        purpose="newsletter",
        granted=False,
        source="preference centre",
        at=datetime(2025, 6, 1, tzinfo=UTC),
    )

    run = import_file(
        organisation=organisation,
        path=write(tmp_path, CONSENT),
        kind="contacts",
        consent_source="Kasse 2025",
    )

    consent = Consent.objects.get(contact=contact)
    assert not consent.granted
    assert consent.source == "preference centre"
    assert importing.finished_figures(run)["consents_kept_withdrawn"] == 1


# --- presets and mapping --------------------------------------------------------------------


def test_the_eventim_preset_reads_a_windows_1252_export(organisation) -> None:
    run = import_file(
        organisation=organisation,
        path=FIXTURES / "eventim_kunden.csv",
        kind="contacts",
        preset="eventim",
        consent_source="Eventim-Export 2025",
    )

    assert run.encoding == "cp1252"
    assert run.delimiter == ";"
    assert importing.run_columns(run) == {
        "Anrede": "",
        "Vorname": "first_name",
        "Nachname": "last_name",
        "E-Mail": "email",
        "PLZ": "postcode",
        "Ort": "",
        "Geburtsdatum": "birthday",
        "Newsletter": "consent_newsletter",
    }
    juergen = Contact.objects.get(email="juergen.mueller@example.org")
    assert (juergen.first_name, juergen.last_name, juergen.postcode) == (
        "Jürgen",
        "Müller",
        "80331",
    )
    assert juergen.birthday.isoformat() == "1961-07-03"
    assert juergen.consents.get().source == "Eventim-Export 2025"
    assert not Contact.objects.get(email="oezlem@example.org").consents.exists()
    assert run.rejected == [{"row": 4, "errors": ["birthday: '31.02.1990' is not a valid date"]}]


def test_the_pretix_preset_imports_bookings_and_contacts(organisation) -> None:
    item = ProgrammeItem.objects.create(
        organisation=organisation, slug="faust", kind="performance", title_de="Faust"
    )
    contacts = import_file(
        organisation=organisation,
        path=FIXTURES / "pretix_orders.csv",
        kind="contacts",
        preset="pretix",
    )
    assert contacts.created_count == 2
    tom = Contact.objects.get(email="tom.becker@example.org")
    assert (tom.first_name, tom.last_name, tom.language) == ("Tom", "Becker", "en")

    bookings = import_file(
        organisation=organisation,
        path=FIXTURES / "pretix_orders.csv",
        kind="interactions",
        preset="pretix",
    )

    assert bookings.created_count == 2
    assert [r["row"] for r in bookings.rejected] == [4]
    lena = Interaction.objects.get(contact__email="lena.vogel@example.org")
    assert (lena.kind, lena.item, lena.quantity, lena.amount_eur) == (
        "booking",
        item,
        2,
        Decimal("48.00"),
    )
    assert lena.data["reference"] == "ABC12"
    assert lena.occurred_at.astimezone(importing.zoneinfo.ZoneInfo("Europe/Berlin")).hour == 19


def test_the_civicrm_preset_reads_people_and_organisations(organisation) -> None:
    import_file(
        organisation=organisation,
        path=FIXTURES / "civicrm_contacts.csv",
        kind="contacts",
        preset="civicrm",
    )

    grete = Contact.objects.get(email="grete@example.org")
    assert (grete.kind, grete.postcode, grete.language) == ("person", "04109", "de")
    assert grete.tags == ["Abo", "Freundeskreis"]
    school = Contact.objects.get(email="info@schule.example")
    assert (school.kind, school.organisation_name, school.language) == (
        "organisation",
        "Thomasschule",
        "en",
    )


def test_an_explicit_mapping_assigns_columns_the_guess_does_not_know(
    organisation, tmp_path
) -> None:
    path = write(tmp_path, "Mail-Adr;Zuname;Wohnort-PLZ\nrosa@example.org;Luxemburg;10178\n")

    with pytest.raises(ValidationFailed, match="no usable column"):
        import_file(organisation=organisation, path=path, kind="contacts")

    import_file(
        organisation=organisation,
        path=path,
        kind="contacts",
        mapping=importing.parse_map_options(
            ["Mail-Adr=email", "Zuname=last_name", "Wohnort-PLZ=postcode"]
        ),
    )

    rosa = Contact.objects.get()
    assert (rosa.email, rosa.last_name, rosa.postcode) == ("rosa@example.org", "Luxemburg", "10178")


def test_an_explicit_mapping_wins_over_the_guess_and_can_ignore_a_column(
    organisation, tmp_path
) -> None:
    path = write(tmp_path, "E-Mail,Name,Notiz\nkurt@example.org,Kurt Weill,privat\n")

    run = import_file(
        organisation=organisation,
        path=path,
        kind="contacts",
        mapping={"Notiz": "", "Name": "last_name"},
    )

    kurt = Contact.objects.get()
    assert (kurt.first_name, kurt.last_name, kurt.notes) == ("", "Kurt Weill", "")
    assert importing.run_columns(run)["Notiz"] == ""


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Telefax": "phone"}, "The file has no column 'Telefax'"),
        ({"E-Mail": "shoe_size"}, "'shoe_size' is not a field of contacts"),
        ({"E-Mail": "email", "Name": "email"}, "'email' is assigned to both"),
    ],
)
def test_a_wrong_explicit_mapping_says_what_is_wrong(
    organisation, tmp_path, mapping, message
) -> None:
    path = write(tmp_path, "E-Mail,Name\nkurt@example.org,Kurt Weill\n")

    with pytest.raises(ValidationFailed, match=message):
        import_file(organisation=organisation, path=path, kind="contacts", mapping=mapping)
    assert not Contact.objects.exists()


def test_the_guess_understands_german_and_english_column_names() -> None:
    header = ["E-Mail-Adresse", "Vorname", "Surname", "Postleitzahl", "Geburtstag", "Firma"]

    assert importing.guess_mapping(header, kind="contacts") == {
        "E-Mail-Adresse": "email",
        "Vorname": "first_name",
        "Surname": "last_name",
        "Postleitzahl": "postcode",
        "Geburtstag": "birthday",
        "Firma": "organisation_name",
    }


# --- interactions ---------------------------------------------------------------------------


def test_visits_are_imported_for_known_contacts_and_not_twice(organisation, tmp_path) -> None:
    contact_create(organisation=organisation, email="anna@example.org")
    ProgrammeItem.objects.create(
        organisation=organisation, slug="nachtfuehrung", kind="tour", title_de="Nachtführung"
    )
    text = (
        "Datum;E-Mail;Veranstaltung;Anzahl;Betrag;Art\n"
        "14.03.2025;anna@example.org;nachtfuehrung;2;12,50;Besuch\n"
        "2025-03-20 18:00;ANNA@example.org;;1;1.234,00;Buchung\n"
        "21.03.2025;fremd@example.org;;1;0;\n"
        "22.03.2025;anna@example.org;gibtsnicht;-1;zwölf;Party\n"
        ";anna@example.org;;;;\n"
    )
    path = write(tmp_path, text)

    first = import_file(organisation=organisation, path=path, kind="interactions")

    assert (first.created_count, first.rejected_count) == (2, 3)
    reasons = {r["row"]: " ".join(r["errors"]) for r in first.rejected}
    assert "no contact has this e-mail address" in reasons[4]
    assert "item: unknown programme item 'gibtsnicht'" in reasons[5]
    assert "quantity: '-1' is not a whole number" in reasons[5]
    assert "amount: 'zwölf' is not an amount" in reasons[5]
    assert "interaction_kind: 'Party' is neither visit nor booking" in reasons[5]
    assert "date: missing" in reasons[6]
    visit, booking = Interaction.objects.order_by("occurred_at")
    assert (visit.kind, visit.quantity, visit.amount_eur, visit.item.slug) == (
        "visit",
        2,
        Decimal("12.50"),
        "nachtfuehrung",
    )
    assert (booking.kind, booking.amount_eur) == ("booking", Decimal("1234.00"))

    again = import_file(organisation=organisation, path=path, kind="interactions")

    assert (again.created_count, again.updated_count) == (0, 2)
    assert Interaction.objects.count() == 2
    assert "2 rows had been imported before and were skipped." in importing.report_notes(again)


def test_interactions_need_email_and_date_columns(organisation, tmp_path) -> None:
    path = write(tmp_path, "E-Mail;Betrag\nanna@example.org;3\n")

    with pytest.raises(ValidationFailed, match="interactions need the contact's e-mail"):
        import_file(organisation=organisation, path=path, kind="interactions")


# --- uploads and the background job -------------------------------------------------------------


class Upload:
    """What Django hands a view for an uploaded file, reduced to what the service reads."""

    def __init__(self, name: str, content: bytes) -> None:
        self.name = name
        self.size = len(content)
        self.content = content

    def chunks(self):
        yield self.content


@pytest.fixture
def immediate_tasks(settings) -> None:
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "mail", "periodic"],
        }
    }


def test_an_upload_waits_for_its_mapping_then_the_job_imports_it_and_removes_the_file(
    organisation, owner, data_dir, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    run = importing.import_upload(
        organisation=organisation,
        upload=Upload("kunden.csv", UMLAUTS.encode("cp1252")),  # type: ignore[arg-type]
        kind="contacts",
        actor=owner,
    )
    stored = importing.stored_path(run)
    assert stored is not None
    assert stored.parent == data_dir / "imports" / str(organisation.pk)
    assert stored.is_file()
    assert run.status == ImportStatus.PENDING
    assert not Contact.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        importing.import_start(run=run, mapping={"PLZ": ""}, actor=owner)

    run.refresh_from_db()
    assert run.status == ImportStatus.DONE
    assert run.created_count == 3
    assert not stored.exists()
    assert Contact.objects.get(email="anna@example.org").postcode == ""
    # Safe to run twice: a finished run is left alone.
    assert importing.import_run_job.call(run.pk, organisation_id=organisation.pk) == "skipped"
    assert Contact.objects.count() == 3


def test_an_upload_over_the_import_limit_is_refused_before_it_is_stored(
    organisation, settings, data_dir
) -> None:
    settings.IMPORT_MAX_BYTES = 100

    with pytest.raises(importing.UploadTooLarge, match="imports are limited to 100 bytes"):
        importing.import_upload(
            organisation=organisation,
            upload=Upload("gross.csv", UMLAUTS.encode() * 10),  # type: ignore[arg-type]
            kind="contacts",
        )
    assert not ImportRun.objects.exists()
    assert not (data_dir / "imports").exists()


def test_an_unreadable_upload_is_removed_again(organisation, data_dir) -> None:
    with pytest.raises(UnreadableFile, match="only one column"):
        importing.import_upload(
            organisation=organisation,
            upload=Upload("pipes.csv", b"a|b|c\n1|2|3\n"),  # type: ignore[arg-type]
            kind="contacts",
        )
    assert not ImportRun.objects.exists()
    assert list((data_dir / "imports" / str(organisation.pk)).iterdir()) == []


def test_a_broken_csv_fails_before_anything_is_written(organisation, tmp_path) -> None:
    good = "".join(f"p{i}@example.org,Person\n" for i in range(5))
    path = write(tmp_path, "email,last_name\n" + good + 'x@example.org,"' + "x" * 200_000 + "\n")

    with pytest.raises(UnreadableFile, match="Row 7 is not valid CSV"):
        import_file(organisation=organisation, path=path, kind="contacts")
    assert not Contact.objects.exists()


def test_a_job_that_breaks_marks_the_run_failed_and_is_recorded_for_staff(
    organisation, owner, data_dir, monkeypatch
) -> None:
    run = importing.import_upload(
        organisation=organisation,
        upload=Upload("kunden.csv", UMLAUTS.encode()),  # type: ignore[arg-type]
        kind="contacts",
        actor=owner,
    )
    importing.import_start(run=run, actor=owner)  # the job is not run: no commit in this test

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importing, "_write_contacts", broken)
    with pytest.raises(RuntimeError):
        importing.import_run_job.call(run.pk, organisation_id=organisation.pk)

    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert "internal error (RuntimeError)" in run.error
    assert importing.stored_path(run) is None
    assert list((data_dir / "imports" / str(organisation.pk)).iterdir()) == []
    assert FailedJob.objects.get(organisation=organisation).task_path.endswith("import_run_job")


def test_uploads_never_confirmed_are_removed_after_a_day(organisation, data_dir) -> None:
    old = importing.import_upload(
        organisation=organisation,
        upload=Upload("alt.csv", UMLAUTS.encode()),  # type: ignore[arg-type]
        kind="contacts",
    )
    old_file = importing.stored_path(old)
    ImportRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))

    importing.import_upload(
        organisation=organisation,
        upload=Upload("neu.csv", UMLAUTS.encode()),  # type: ignore[arg-type]
        kind="contacts",
    )

    old.refresh_from_db()
    assert old.status == ImportStatus.FAILED
    assert old_file is not None
    assert not old_file.exists()
    assert ImportRun.objects.filter(status=ImportStatus.PENDING).count() == 1


def test_a_repeated_import_is_recognised_even_when_the_row_key_looks_like_a_number(
    organisation, tmp_path, monkeypatch
) -> None:
    # Hex digests such as "3e0282..." read as JSON are floats; they must still match.
    monkeypatch.setattr(importing.InteractionRow, "key", lambda self: f"{self.row}e5")
    contact_create(organisation=organisation, email="anna@example.org")
    path = write(tmp_path, "date,email\n01.03.2025,anna@example.org\n02.03.2025,anna@example.org\n")

    import_file(organisation=organisation, path=path, kind="interactions")
    again = import_file(organisation=organisation, path=path, kind="interactions")

    assert (again.created_count, again.updated_count) == (0, 2)
    assert Interaction.objects.count() == 2
