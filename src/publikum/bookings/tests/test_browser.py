"""In a real browser: a visitor books two tickets and sees the code; on the day, the front
desk types that code, sees the green confirmation, and the contact page shows the visit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from publikum.bookings.models import Booking
from publikum.bookings.tests.factories import make_date
from publikum.core.models import Role
from publikum.programme.models import Occurrence
from publikum.web.tests.test_browser import log_in_to_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visitor_books_two_tickets_and_the_front_desk_checks_the_code_in(
    page: Any, live_server: Any, organisation, member_factory
) -> None:
    occurrence = make_date(organisation, capacity=20, title_de="Abendführung im Kornspeicher")
    regular = occurrence.item.price_categories.first()
    base = live_server.url

    # The visitor books two tickets on the public page.
    page.goto(f"{base}/{organisation.slug}/programme/book/{occurrence.pk}/")
    expect(page.locator("h1")).to_have_text("Abendführung im Kornspeicher")
    expect(page.locator("[data-testid=free-seats]")).to_contain_text("20")
    page.fill(f"#id_qty_{regular.pk}", "2")
    page.fill("#id_name", "Greta Gast")
    page.fill("#id_email", "greta@example.org")
    page.locator("[data-testid=booking-form] button[type=submit]").click()

    booking = Booking.objects.get()
    code = page.locator("[data-testid=booking-code]")
    expect(code).to_have_text(booking.code)
    expect(page.locator(".ticket-qr svg")).to_be_visible()
    expect(page.locator("[data-testid=tickets]")).to_contain_text("2 × Regulär")
    assert booking.quantity == 2

    # The day has come: the date begins now.
    starts = timezone.now().replace(second=0, microsecond=0)
    Occurrence.objects.filter(pk=occurrence.pk).update(
        starts_at=starts, ends_at=starts + timedelta(hours=2)
    )

    # The front desk types the code the way a scanner does: the code, then Enter.
    desk = member_factory(organisation, Role.FRONT_DESK)
    log_in_to_dashboard(page, base, desk, organisation)
    page.goto(f"{base}/o/{organisation.slug}/bookings/check-in/")
    field = page.locator("#id_code")
    expect(field).to_be_focused()
    page.keyboard.type(booking.code.lower())
    page.keyboard.press("Enter")

    result = page.locator("[data-testid=check-in-result]")
    expect(result).to_have_class("check-in-result check-in-ok")
    expect(result).to_contain_text("Greta Gast")
    expect(result).to_contain_text("2")
    expect(result).to_contain_text("Abendführung im Kornspeicher")
    expect(page.locator("#id_code")).to_be_focused()  # ready for the next guest
    expect(page.locator("[data-testid=today]")).to_contain_text("2 / 2")

    # The visit is on the contact's timeline.
    booking.refresh_from_db()
    page.goto(f"{base}/o/{organisation.slug}/contacts/{booking.contact_id}/")
    first = page.locator("[data-testid=timeline] li").first
    expect(first).to_contain_text("Besuch")
    expect(first).to_contain_text("Abendführung im Kornspeicher")
