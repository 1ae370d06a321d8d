"""The import in a real browser (headless Chromium): upload, mapping, and a report that
appears by itself when the background job is done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from publikum.audience import importing
from publikum.audience.models import Contact, ImportRun
from publikum.core.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "a-long-test-password"  # the default of make_user in the root conftest.py


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()


def test_staff_import_a_file_and_watch_the_report_arrive(
    page: Page,
    live_server: Any,
    organisation,
    member_factory,
) -> None:
    editor = member_factory(organisation, Role.EDITOR)
    base = f"{live_server.url}/o/{organisation.slug}/imports/"
    log_in(page, live_server.url, editor.email)

    page.goto(base + "new/")
    page.set_input_files("#id_file", str(FIXTURES / "eventim_kunden.csv"))
    page.select_option("#id_kind", "contacts")
    page.locator("form[data-testid=upload-form] button[type=submit]").click()

    run = ImportRun.objects.get()
    expect(page).to_have_url(f"{base}{run.pk}/mapping/")
    expect(page.get_by_test_id("encoding")).to_have_text("Windows-1252")
    expect(page.get_by_test_id("preview").locator("tbody tr")).to_have_count(3)
    expect(page.locator("#id_col_1")).to_have_value("first_name")
    page.select_option("#id_col_4", "")  # not the postcode
    page.fill("#id_consent_source", "Kasse 2025")
    page.locator("form[data-testid=mapping-form] button.primary").click()

    expect(page).to_have_url(f"{base}{run.pk}/")
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-status", "running")

    # The worker runs the job; the open page notices by itself.
    importing.import_run_job.call(run.pk, organisation_id=organisation.pk)

    expect(status).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("created")).to_have_text("2")
    expect(page.get_by_test_id("rejected").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("rejected").locator("tbody td").first).to_have_text("4")
    assert Contact.objects.get(email="oezlem@example.org").postcode == ""
