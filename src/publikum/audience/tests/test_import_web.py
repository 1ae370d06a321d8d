"""CSV import through the staff pages and the REST API, as staff and integrations use them."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from conftest import make_member, make_token
from publikum.audience.models import Contact, ImportRun, ImportStatus
from publikum.core.models import Role

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
EVENTIM = (FIXTURES / "eventim_kunden.csv").read_bytes()


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


def in_english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def stored_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "imports"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def text(response: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def selected(page: str, name: str) -> str:
    """The selected option of the select `name` in a page."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1))
    return option.group(1) if option else ""


# --- staff pages ----------------------------------------------------------------------------


def test_staff_upload_a_file_check_the_mapping_and_read_the_report(
    owner_client, organisation, data_dir, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    client = in_english(owner_client)
    imports = f"/o/{organisation.slug}/imports/"
    assert "Import a CSV file" in text(client.get(imports))

    response = client.post(
        imports + "new/",
        {"file": SimpleUploadedFile("kunden.csv", EVENTIM, "text/csv"), "kind": "contacts"},
    )

    assert response.status_code == 302
    run = ImportRun.objects.get()
    mapping_url = f"{imports}{run.pk}/mapping/"
    assert response["Location"] == mapping_url
    assert len(stored_files(data_dir)) == 1
    page = text(client.get(mapping_url))
    assert '<dd data-testid="encoding">Windows-1252</dd>' in page
    assert '<dd data-testid="delimiter">semicolon</dd>' in page
    for first_cells in ("<td>Jürgen</td><td>Müller</td>", "<td>Özlem</td><td>Schäfer</td>"):
        assert first_cells in page
    # The columns with the field guessed from their names preselected.
    assert selected(page, "col_1") == "first_name"  # Vorname
    assert selected(page, "col_3") == "email"  # E-Mail
    assert selected(page, "col_5") == ""  # Ort: no such field
    assert selected(page, "col_7") == "consent_newsletter"  # Newsletter

    choice = {f"col_{i}": selected(page, f"col_{i}") for i in range(8)}
    choice["col_4"] = ""  # staff decide not to import the postcode
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(mapping_url, {**choice, "consent_source": "Kasse 2025"})

    assert response.status_code == 302
    assert response["Location"] == f"{imports}{run.pk}/"
    report = text(client.get(response["Location"]))
    assert 'data-status="done">Done</strong>' in report
    assert '<span class="value" data-testid="created">2</span>' in report
    assert '<span class="value" data-testid="rejected-count">1</span>' in report
    assert (
        "<tr><td class=\"num\">4</td><td>birthday: '31.02.1990' is not a valid date</td></tr>"
        in report
    )
    assert "1 consent recorded with the source “Kasse 2025”." in report
    juergen = Contact.objects.get(email="juergen.mueller@example.org")
    assert (juergen.last_name, juergen.postcode) == ("Müller", "")
    assert stored_files(data_dir) == []
    listing = text(client.get(imports))
    assert "kunden.csv" in listing
    assert "Done" in listing


@pytest.mark.django_db(transaction=True)
def test_a_confirmed_import_runs_in_the_worker_and_the_page_shows_it_until_done(
    keep_signal_handlers, organisation, owner, data_dir
) -> None:
    client = in_english(Client())
    client.force_login(owner)
    imports = f"/o/{organisation.slug}/imports/"
    client.post(
        imports + "new/",
        {"file": SimpleUploadedFile("kunden.csv", EVENTIM), "kind": "contacts"},
    )
    run = ImportRun.objects.get()
    page = text(client.get(f"{imports}{run.pk}/mapping/"))
    choice = {f"col_{i}": selected(page, f"col_{i}") for i in range(8)}

    client.post(f"{imports}{run.pk}/mapping/", choice)

    waiting = text(client.get(f"{imports}{run.pk}/"))
    assert 'data-status="running">Running</strong>' in waiting
    assert "publikum/import-status" in waiting  # the page refreshes itself while it runs
    assert not Contact.objects.exists()

    call_command("worker", "--burst", "--no-tick", stdout=io.StringIO())

    done = text(client.get(f"{imports}{run.pk}/"))
    assert 'data-status="done">Done</strong>' in done
    assert "publikum/import-status" not in done
    assert Contact.objects.count() == 2
    assert stored_files(data_dir) == []


def test_the_mapping_page_refuses_a_mapping_without_a_usable_column(
    owner_client, organisation
) -> None:
    client = in_english(owner_client)
    client.post(
        f"/o/{organisation.slug}/imports/new/",
        {"file": SimpleUploadedFile("kunden.csv", EVENTIM), "kind": "contacts"},
    )
    run = ImportRun.objects.get()

    response = client.post(f"/o/{organisation.slug}/imports/{run.pk}/mapping/", {})

    assert response.status_code == 200
    assert "no usable column" in text(response)
    run.refresh_from_db()
    assert run.status == ImportStatus.PENDING


def test_cancelling_at_the_mapping_step_removes_the_file(
    owner_client, organisation, data_dir
) -> None:
    owner_client.post(
        f"/o/{organisation.slug}/imports/new/",
        {"file": SimpleUploadedFile("kunden.csv", EVENTIM), "kind": "contacts"},
    )
    run = ImportRun.objects.get()
    assert len(stored_files(data_dir)) == 1

    owner_client.post(f"/o/{organisation.slug}/imports/{run.pk}/mapping/", {"cancel": "1"})

    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert stored_files(data_dir) == []
    assert not Contact.objects.exists()


def test_an_upload_with_a_wrong_delimiter_is_refused_on_the_form(
    owner_client, organisation, data_dir
) -> None:
    response = in_english(owner_client).post(
        f"/o/{organisation.slug}/imports/new/",
        {
            "file": SimpleUploadedFile("pipes.csv", "Vorname|Nachname\nAnna|Weiß\n".encode()),
            "kind": "contacts",
        },
    )

    assert response.status_code == 422
    assert "The header has only one column" in text(response)
    assert not ImportRun.objects.exists()
    assert stored_files(data_dir) == []


def test_an_upload_over_the_limit_is_refused_by_its_announced_length_before_reading(
    owner_client, organisation, settings, data_dir
) -> None:
    settings.MAX_UPLOAD_BYTES = 1000
    body = b"email\n" + b"a@example.org\n" * 10

    # A small, valid body that announces a large one: refused on the length alone, unread.
    response = in_english(owner_client).post(
        f"/o/{organisation.slug}/imports/new/",
        {"file": SimpleUploadedFile("gross.csv", body), "kind": "contacts"},
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert "The file is larger than the limit of 0.0 MB for imports" in text(response)
    assert not ImportRun.objects.exists()
    assert stored_files(data_dir) == []


def test_an_upload_over_the_limit_is_stopped_while_it_is_received(
    owner_client, organisation, settings, data_dir
) -> None:
    settings.MAX_UPLOAD_BYTES = 1000
    body = b"email\n" + b"someone@example.org\n" * 100  # 2 KB: within the form's slack

    response = in_english(owner_client).post(
        f"/o/{organisation.slug}/imports/new/",
        {"file": SimpleUploadedFile("gross.csv", body), "kind": "contacts"},
    )

    assert response.status_code == 413
    assert "larger than the limit" in text(response)
    assert not ImportRun.objects.exists()
    assert stored_files(data_dir) == []


def test_the_upload_still_checks_the_csrf_token(owner, organisation) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = client.post(
        f"/o/{organisation.slug}/imports/new/",
        {"file": SimpleUploadedFile("kunden.csv", EVENTIM), "kind": "contacts"},
    )

    assert response.status_code == 403
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.FRONT_DESK])
def test_imports_need_the_editor_role(organisation, role) -> None:
    client = Client()
    client.force_login(make_member(organisation, role))

    for url in ("imports/", "imports/new/", "contacts/duplicates/"):
        assert client.get(f"/o/{organisation.slug}/{url}").status_code == 403


def test_an_import_of_another_organisation_is_not_found(
    organisation, other_organisation, owner_client
) -> None:
    theirs = ImportRun.objects.create(
        organisation=other_organisation, filename="geheim.csv", status=ImportStatus.DONE
    )

    for url in (f"imports/{theirs.pk}/", f"imports/{theirs.pk}/mapping/"):
        assert owner_client.get(f"/o/{organisation.slug}/{url}").status_code == 404
        assert owner_client.get(f"/o/{other_organisation.slug}/{url}").status_code == 404
    assert "geheim.csv" not in text(owner_client.get(f"/o/{organisation.slug}/imports/"))


# --- the REST API ---------------------------------------------------------------------------


def upload(client: Any, content: bytes = EVENTIM, **data: str) -> Any:
    return client.post(
        "/imports",
        files={"file": ("kunden.csv", content, "text/csv")},
        data={"kind": "contacts", **data},
    )


@pytest.mark.django_db(transaction=True)
def test_api_upload_runs_the_import_and_the_run_has_the_report(
    api, organisation, immediate_tasks, data_dir
) -> None:
    client = api(make_token(organisation, Role.EDITOR))

    response = upload(
        client,
        mapping=json.dumps({"PLZ": "", "Anrede": None}),
        consent_source="Kasse 2025",
        preset="eventim",
    )

    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] == "done"  # the immediate task backend ran the job at once
    report = client.get(f"/imports/{created['id']}").json()
    assert report["encoding"] == "cp1252"
    assert report["delimiter"] == ";"
    assert report["mapping"]["PLZ"] == ""
    assert report["mapping"]["Vorname"] == "first_name"
    assert (report["created_count"], report["rejected_count"]) == (2, 1)
    assert report["rejected"] == [
        {"row": 4, "errors": ["birthday: '31.02.1990' is not a valid date"]}
    ]
    assert report["consent_source"] == "Kasse 2025"
    juergen = Contact.objects.get(email="juergen.mueller@example.org")
    assert juergen.consents.get().source == "Kasse 2025"
    assert juergen.postcode == ""
    assert stored_files(data_dir) == []
    listed = client.get("/imports").json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]


@pytest.mark.django_db(transaction=True)
def test_api_import_of_another_organisation_is_404_and_viewers_may_not_upload(
    api, organisation, other_organisation, immediate_tasks
) -> None:
    own = upload(api(make_token(organisation, Role.EDITOR))).json()

    other = api(make_token(other_organisation, Role.OWNER)).get(f"/imports/{own['id']}")
    viewer = upload(api(make_token(organisation, Role.VIEWER)))

    assert other.status_code == 404
    assert "kunden.csv" not in other.text
    assert viewer.status_code == 403
    assert ImportRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("immediate_tasks")
@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ((b"a|b\n1|2\n", {}), ("unreadable_file", "The header has only one column")),
        ((EVENTIM, {"mapping": "{kaputt"}), ("validation_error", "not valid JSON")),
        ((EVENTIM, {"mapping": '{"PLZ": "shoe"}'}), ("validation_error", "not a field")),
        ((EVENTIM, {"kind": "tickets"}), ("validation_error", "kind")),
        ((EVENTIM, {"colour": "blue"}), ("validation_error", "colour: unknown field")),
    ],
)
def test_api_bad_uploads_are_clear_errors_and_leave_nothing_behind(
    api, organisation, data_dir, sent, expected
) -> None:
    content, data = sent
    code, message = expected
    response = upload(api(make_token(organisation, Role.EDITOR)), content, **data)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert message in error["message"]
    assert not Contact.objects.exists()
    assert stored_files(data_dir) == []
    assert not ImportRun.objects.exclude(status=ImportStatus.FAILED).exists()


@pytest.mark.django_db(transaction=True)
def test_api_upload_over_the_import_limit_is_413(
    api, organisation, settings, immediate_tasks, data_dir
) -> None:
    settings.IMPORT_MAX_BYTES = 100

    response = upload(api(make_token(organisation, Role.EDITOR)))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "imports are limited to 100 bytes" in response.json()["error"]["message"]
    assert not ImportRun.objects.exists()
    assert stored_files(data_dir) == []
