"""The contacts pages in a real browser: search, the contact page with its timeline, editing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from publikum.audience.models import Contact
from publikum.audience.services import contact_create, interaction_record
from publikum.core.models import Role
from publikum.web.tests.test_browser import log_in_to_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_find_a_contact_read_the_timeline_and_edit_the_contact(
    page: Any, live_server: Any, organisation, member_factory
) -> None:
    editor = member_factory(organisation, Role.EDITOR)
    clara = contact_create(
        organisation=organisation,
        first_name="Clara",
        last_name="Schumann",
        email="clara@example.org",
        postcode="04109",
    )
    contact_create(
        organisation=organisation, first_name="Robert", last_name="Blum", email="robert@example.org"
    )
    interaction_record(
        contact=clara,
        kind="visit",
        summary="Sonntagsführung",
        occurred_at=timezone.now() - timedelta(days=3),
    )
    interaction_record(
        contact=clara,
        kind="booking",
        summary="Zwei Karten Konzert",
        occurred_at=timezone.now() - timedelta(days=10),
    )
    base = live_server.url
    log_in_to_dashboard(page, base, editor, organisation)

    page.goto(f"{base}/o/{organisation.slug}/contacts/")
    page.fill("#id_q", "schumann")
    page.locator("form[role=search] button[type=submit]").click()
    rows = page.locator("[data-testid=contacts] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Clara Schumann")

    rows.first.get_by_role("link").click()
    expect(page).to_have_url(f"{base}/o/{organisation.slug}/contacts/{clara.pk}/")
    timeline = page.locator("[data-testid=timeline] li")
    expect(timeline).to_have_count(2)
    # Newest first.
    expect(timeline.nth(0)).to_contain_text("Sonntagsführung")
    expect(timeline.nth(1)).to_contain_text("Zwei Karten Konzert")

    page.goto(f"{base}/o/{organisation.slug}/contacts/{clara.pk}/edit/")
    page.fill("#id_postcode", "04103")
    page.fill("#id_email", "not-an-address")
    page.locator("main form button[type=submit]").click()
    # Bad input: the form comes back with the error, nothing is saved.
    expect(page.locator("main form .errorlist").first).to_be_visible()
    clara.refresh_from_db()
    assert clara.postcode == "04109"

    page.fill("#id_email", "clara.schumann@example.org")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(f"{base}/o/{organisation.slug}/contacts/{clara.pk}/")
    clara.refresh_from_db()
    assert (clara.postcode, clara.email) == ("04103", "clara.schumann@example.org")
    assert Contact.objects.filter(organisation=organisation).count() == 2


def test_staff_page_through_a_long_contact_list_and_back(
    page: Any, live_server: Any, organisation, member_factory
) -> None:
    viewer = member_factory(organisation, Role.VIEWER)
    for n in range(55):
        contact_create(organisation=organisation, first_name="Gast", last_name=f"Besucher{n:02d}")
    base = live_server.url
    log_in_to_dashboard(page, base, viewer, organisation)

    page.goto(f"{base}/o/{organisation.slug}/contacts/")
    rows = page.locator("[data-testid=contacts] tbody tr")
    expect(page.get_by_test_id("result-count")).to_contain_text("55")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Besucher00")

    page.locator("nav.pagination a[rel=next]").click()
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("Besucher50")
    expect(page.locator("nav.pagination a[rel=next]")).to_have_count(0)

    page.locator("nav.pagination a[rel=prev]").click()
    expect(rows).to_have_count(50)
    expect(rows.last).to_contain_text("Besucher49")
