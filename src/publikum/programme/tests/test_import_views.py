"""The programme import through the staff pages: upload, mapping or review, report, roles."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import make_member
from publikum.audience.models import ImportRun, ImportStatus
from publikum.core.models import AuditEntry, Role
from publikum.programme.models import Occurrence, ProgrammeItem, Venue
from publikum.programme.tests.import_files import future_copy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def immediate_tasks(settings) -> None:
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "mail", "periodic"],
        }
    }


def staff(organisation, role: str) -> Client:
    client = Client()
    client.force_login(make_member(organisation, role))
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def editor(organisation) -> Client:
    return staff(organisation, Role.EDITOR)


def text(response: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def figure(page: str, name: str) -> int:
    found = re.search(rf'data-testid="{name}">(\d+)<', page)
    assert found, f"no figure {name}"
    return int(found.group(1))


def selected(page: str, name: str) -> str:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1))
    return option.group(1) if option else ""


def stored_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "imports"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def upload(client: Client, organisation, name: str, data: bytes, **fields: Any) -> Any:
    form = {"default_kind": "talk", "capacity": "30", **fields}
    return client.post(
        f"/o/{organisation.slug}/programme/import/",
        {"file": SimpleUploadedFile(name, data), **form},
    )


def test_an_editor_imports_a_calendar_and_reads_the_report(
    editor, organisation, data_dir, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    base = f"/o/{organisation.slug}/programme/import/"
    assert "Import the programme" in text(editor.get(base))

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(editor, organisation, "kalender.ics", future_copy("google_kalender.ics"))

    run = ImportRun.objects.get(kind="programme")
    assert response.status_code == 302
    assert response["Location"] == f"{base}{run.pk}/"
    page = text(editor.get(response["Location"]))
    assert 'data-status="done">Done</strong>' in page
    assert figure(page, "total") == 8
    assert figure(page, "items-created") == 6
    assert figure(page, "dates-created") == 21
    assert figure(page, "rejected-count") == 0
    assert "Dates imported as cancelled: 2. New venues: 5. New themes: 2." in page
    assert '<td data-testid="format">iCalendar</td>' in page
    assert ProgrammeItem.objects.filter(organisation=organisation).count() == 6
    assert stored_files(data_dir) == []
    listing = text(editor.get(base))
    assert "kalender.ics" in listing
    assert AuditEntry.objects.filter(action="programme.import.finished", object_id=str(run.pk))


def test_a_csv_file_is_mapped_checked_and_then_imported(
    editor, organisation, data_dir, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    base = f"/o/{organisation.slug}/programme/import/"
    data = future_copy("ticketing_export.csv", encoding="cp1252")

    response = upload(editor, organisation, "export.csv", data)

    run = ImportRun.objects.get(kind="programme")
    mapping_url = f"{base}{run.pk}/mapping/"
    assert response["Location"] == mapping_url
    page = text(editor.get(mapping_url))
    assert '<dd data-testid="encoding">Windows-1252</dd>' in page
    assert '<dd data-testid="delimiter">semicolon</dd>' in page
    assert "<td>Kammerkonzert: Schubert im Spiegelsaal</td><td>Ensemble Dreisam</td>" in page
    assert selected(page, "col_0") == "title_de"  # Veranstaltung
    assert selected(page, "col_3") == "start_date"  # Datum
    assert selected(page, "col_6") == "venue"  # Spielstätte
    assert selected(page, "col_7") == "capacity"  # Kontingent
    choice = {f"col_{i}": selected(page, f"col_{i}") for i in range(13)}
    choice["col_1"] = ""  # the subtitle is not wanted

    checked = editor.post(mapping_url, {**choice, "check": "1"})

    assert checked.status_code == 200
    report = text(checked)
    assert "Dry run: this is what the import would do. Nothing has been saved yet." in report
    assert figure(report, "dates-created") == 8
    assert (
        "<td>Row 6</td><td>Orgelkonzert im Münster</td><td>end 18:00 is before start 19:30</td>"
        in report
    )
    assert not ProgrammeItem.objects.exists()
    run.refresh_from_db()
    assert run.status == ImportStatus.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        started = editor.post(mapping_url, {**choice, "start": "1"})

    assert started["Location"] == f"{base}{run.pk}/"
    done = text(editor.get(started["Location"]))
    assert 'data-status="done">Done</strong>' in done
    assert figure(done, "dates-created") == 8
    assert figure(done, "rejected-count") == 3
    assert (
        "<td>Row 9</td><td>Lesung: Die Flößer</td><td>start: '31.02.2027' is not a valid date: "
        "there is no such day</td>" in done
    )
    assert "Columns not imported: Untertitel." in done
    assert not ProgrammeItem.objects.exclude(summary_de="").exists()
    assert stored_files(data_dir) == []


def test_a_calendar_uploaded_as_dry_run_waits_on_its_review_page(
    editor, organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    base = f"/o/{organisation.slug}/programme/import/"
    response = upload(
        editor, organisation, "kalender.ics", future_copy("google_kalender.ics"), dry_run="on"
    )

    run = ImportRun.objects.get(kind="programme")
    assert response["Location"] == f"{base}{run.pk}/mapping/"
    review = text(editor.get(response["Location"]))
    assert "Check the calendar" in review
    assert "Nothing has been saved yet." in review
    assert figure(review, "items-created") == 6
    assert not ProgrammeItem.objects.exists()
    assert not Venue.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        editor.post(response["Location"], {"start": "1"})

    run.refresh_from_db()
    assert run.status == ImportStatus.DONE
    assert Occurrence.objects.filter(organisation=organisation).count() == 21


def test_a_file_that_cannot_be_read_is_refused_on_the_form(editor, organisation, data_dir) -> None:
    response = upload(editor, organisation, "programm.ics", b"<html><body>Programm</body></html>")

    assert response.status_code == 422
    assert (
        "This is a web page (HTML), not an iCalendar file. Download the calendar's .ics export, "
        "not the page that links to it." in text(response)
    )
    assert not ImportRun.objects.exists()
    assert stored_files(data_dir) == []

    csv_as_ics = upload(
        editor, organisation, "export.csv", b"Titel;Datum\nKonzert;01.03.2027\n", file_format="ics"
    )
    assert csv_as_ics.status_code == 422
    assert "If it is a CSV file, choose the format CSV." in text(csv_as_ics)


def test_the_form_needs_a_capacity(editor, organisation) -> None:
    response = upload(editor, organisation, "kalender.ics", b"BEGIN:VCALENDAR", capacity="")

    assert response.status_code == 422
    assert "This field is required." in text(response)
    assert not ImportRun.objects.exists()


def test_an_upload_over_the_limit_is_refused(editor, organisation, settings, data_dir) -> None:
    settings.MAX_UPLOAD_BYTES = 1000

    response = upload(editor, organisation, "gross.ics", b"BEGIN:VCALENDAR\r\n" + b"X" * 3000)

    assert response.status_code == 413
    assert "The file is larger than the limit of 0.0 MB for imports." in text(response)
    assert not ImportRun.objects.exists()
    assert stored_files(data_dir) == []


def test_a_mapping_without_title_or_start_is_refused(editor, organisation) -> None:
    upload(
        editor, organisation, "export.csv", future_copy("ticketing_export.csv", encoding="cp1252")
    )
    run = ImportRun.objects.get()

    response = editor.post(
        f"/o/{organisation.slug}/programme/import/{run.pk}/mapping/", {"start": "1"}
    )

    assert response.status_code == 422
    assert (
        "The column mapping cannot be used: no column is assigned to Title (German) and Start "
        "date (may include the time)" in text(response)
    )
    run.refresh_from_db()
    assert run.status == ImportStatus.PENDING
    assert not ProgrammeItem.objects.exists()


def test_cancelling_a_waiting_import_removes_its_file(editor, organisation, data_dir) -> None:
    upload(
        editor, organisation, "export.csv", future_copy("ticketing_export.csv", encoding="cp1252")
    )
    run = ImportRun.objects.get()
    assert len(stored_files(data_dir)) == 1

    response = editor.post(
        f"/o/{organisation.slug}/programme/import/{run.pk}/mapping/", {"cancel": "1"}
    )

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert stored_files(data_dir) == []


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.VIEWER, 403), (Role.FRONT_DESK, 403), (Role.EDITOR, 200), (Role.MANAGER, 200),
     (Role.OWNER, 200)],
)  # fmt: skip
def test_editors_and_above_may_import(organisation, role, status) -> None:
    client = staff(organisation, role)
    base = f"/o/{organisation.slug}/programme/import/"

    assert client.get(base).status_code == status
    posted = upload(client, organisation, "kalender.ics", future_copy("google_kalender.ics"))
    assert posted.status_code == (403 if status == 403 else 302)
    assert ImportRun.objects.filter(kind="programme").exists() is (status == 200)


def test_the_upload_still_checks_the_csrf_token(organisation) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_member(organisation, Role.EDITOR))

    response = upload(client, organisation, "kalender.ics", future_copy("google_kalender.ics"))

    assert response.status_code == 403
    assert not ImportRun.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(organisation) -> None:
    response = Client().get(f"/o/{organisation.slug}/programme/import/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_contacts_import_opens_on_its_own_page(editor, organisation) -> None:
    run = ImportRun.objects.create(organisation=organisation, filename="kunden.csv", status="done")

    response = editor.get(f"/o/{organisation.slug}/programme/import/{run.pk}/")

    assert response.status_code == 302
    assert response["Location"] == f"/o/{organisation.slug}/imports/{run.pk}/"


def test_another_organisations_import_is_not_found(organisation, other_organisation) -> None:
    theirs = ImportRun.objects.create(
        organisation=other_organisation, kind="programme", filename="geheim.ics", status="done"
    )
    client = staff(organisation, Role.OWNER)

    for url in (
        f"/o/{organisation.slug}/programme/import/{theirs.pk}/",
        f"/o/{organisation.slug}/programme/import/{theirs.pk}/mapping/",
    ):
        assert client.get(url).status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_a_csv_file_is_checked_then_imported_and_the_report_arrives(
    page, live_server, organisation, tmp_path
) -> None:
    from playwright.sync_api import expect

    from publikum.programme.importing import programme_import_job

    editor = make_member(organisation, Role.EDITOR)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", editor.email)
    page.fill("#id_password", "a-long-test-password")  # make_user's default
    page.locator("main form button[type=submit]").click()
    export = tmp_path / "export.csv"
    export.write_bytes(future_copy("ticketing_export.csv", encoding="cp1252"))
    base = f"{live_server.url}/o/{organisation.slug}/programme/import/"

    page.goto(base)
    page.set_input_files("#id_file", str(export))
    page.fill("#id_capacity", "30")
    page.select_option("#id_preset", "ticketing")
    page.locator("form[data-testid=upload-form] button[type=submit]").click()

    run = ImportRun.objects.get(kind="programme")
    expect(page).to_have_url(f"{base}{run.pk}/mapping/")
    expect(page.get_by_test_id("encoding")).to_have_text("Windows-1252")
    expect(page.locator("#id_col_6")).to_have_value("venue")
    page.locator("button[name=check]").click()
    check = page.get_by_test_id("check")
    expect(check.get_by_test_id("dates-created")).to_have_text("8")
    expect(check.get_by_test_id("rejected").locator("tbody tr")).to_have_count(3)
    assert not ProgrammeItem.objects.exists()

    page.locator("button[name=start]").click()
    expect(page).to_have_url(f"{base}{run.pk}/")
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-status", "running")
    programme_import_job.call(run.pk, organisation_id=organisation.pk)  # the worker's part
    expect(status).to_have_attribute("data-status", "done")  # the page notices by itself
    expect(page.get_by_test_id("dates-created")).to_have_text("8")
    assert ProgrammeItem.objects.filter(organisation=organisation).count() == 6
