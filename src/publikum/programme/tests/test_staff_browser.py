"""The programme pages in a real browser: an editor creates an item and a weekly series."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from publikum.core.models import Role
from publikum.programme import services
from publikum.programme.models import Occurrence, ProgrammeItem
from publikum.web.tests.test_browser import log_in_to_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_editor_creates_an_item_with_a_weekly_series_and_sees_its_dates(
    page: Any, live_server: Any, organisation, member_factory
) -> None:
    editor = member_factory(organisation, Role.EDITOR)
    services.theme_create(organisation=organisation, name_de="Stadtgeschichte")
    base = live_server.url
    slug = organisation.slug
    log_in_to_dashboard(page, base, editor, organisation)

    page.locator(f"nav.sidenav a[href='/o/{slug}/programme/']").click()
    page.locator(f"a[href='/o/{slug}/programme/new/']").click()
    page.select_option("#id_kind", "tour")
    page.fill("#id_title_de", "Sonntagsführung durch die Altstadt")
    page.fill("#id_title_en", "Sunday tour of the old town")
    page.locator("#id_themes input[value=stadtgeschichte]").check()
    page.locator("#id_target_groups input[value=families]").check()
    page.fill("#id_prices-0-name_de", "Regulär")
    page.fill("#id_prices-0-price_eur", "9,50")
    page.locator("main form button[type=submit]").click()

    item = ProgrammeItem.objects.get(organisation=organisation)
    expect(page).to_have_url(f"{base}/o/{slug}/programme/{item.pk}/")
    expect(page.locator("h1")).to_contain_text("Sonntagsführung durch die Altstadt")
    expect(page.locator("[data-testid=upcoming-dates]")).to_be_visible()

    page.locator(f"a[href='/o/{slug}/programme/{item.pk}/dates/add/']").first.click()
    zone = ZoneInfo(organisation.timezone)
    today = timezone.localtime(timezone.now(), zone).date()
    first = today + timedelta(days=7 + (6 - today.weekday()) % 7)  # a Sunday next week or after
    until = first + timedelta(weeks=3)
    series = page.locator("[data-testid=series-form]")
    series.locator("#id_series-first_start").fill(f"{first.isoformat()}T11:00")
    series.locator("#id_series-duration_minutes").fill("60")
    series.locator("input[name=series-freq][value=weekly]").check()
    series.locator("input[name=series-weekdays][value='6']").check()
    series.locator("#id_series-until").fill(until.isoformat())
    series.locator("#id_series-capacity").fill("20")
    series.locator("button[value=preview]").click()

    preview = page.locator("[data-testid=series-preview] li")
    expect(preview).to_have_count(4)
    expect(preview.first).to_contain_text(first.strftime("%d.%m.%Y") + " 11:00")
    assert not Occurrence.objects.exists()  # nothing is saved before the editor confirms

    page.locator("[data-testid=series-form] button[value=create]").click()
    expect(page).to_have_url(f"{base}/o/{slug}/programme/{item.pk}/")
    rows = page.locator("[data-testid=upcoming-dates] tbody tr")
    expect(rows).to_have_count(4)
    for week in range(4):
        day = first + timedelta(weeks=week)
        expect(rows.nth(week)).to_contain_text(day.strftime("%d.%m.%Y"))
        expect(rows.nth(week)).to_contain_text("11:00–12:00")
        expect(rows.nth(week)).to_contain_text("20")
    assert Occurrence.objects.filter(item=item).count() == 4
