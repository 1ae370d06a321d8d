"""The front desk: one input for typed and scanned codes, a clear green or red answer, and
the visit on the contact's timeline."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from publikum.audience.models import Interaction
from publikum.bookings.models import Booking
from publikum.bookings.services import booking_cancel
from publikum.bookings.tests.factories import book, make_date, text
from publikum.core.models import AuditEntry, Membership, Role
from publikum.programme.models import Occurrence, OccurrenceStatus

pytestmark = pytest.mark.django_db


def staff(member_factory: Any, organisation: Any, role: str) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(member_factory(organisation, role))
    return client


def happening_today(occurrence: Occurrence) -> Occurrence:
    """The date begins now: booked earlier, the guests arrive today."""
    starts = timezone.now().replace(second=0, microsecond=0)
    Occurrence.objects.filter(pk=occurrence.pk).update(
        starts_at=starts, ends_at=starts + timedelta(hours=2)
    )
    occurrence.refresh_from_db()
    return occurrence


def check_in(client: Client, organisation: Any, code: str) -> Any:
    return client.post(f"/o/{organisation.slug}/bookings/check-in/", {"code": code})


def test_front_desk_checks_in_a_typed_code_and_the_visit_reaches_the_timeline(
    organisation, member_factory
) -> None:
    occurrence = make_date(organisation, title_en="Night tour")
    booking = book(occurrence, quantity=3, name="Grete Gast", email="grete@example.org")
    happening_today(occurrence)
    desk = staff(member_factory, organisation, Role.FRONT_DESK)

    page = desk.get(f"/o/{organisation.slug}/bookings/check-in/")
    assert page.status_code == 200
    assert "autofocus" in page.content.decode()
    assert "0 / 3" in text(page)  # checked in / expected today

    # People type codes in any case and with spaces or dashes.
    typed = f" {booking.code[:4].lower()}-{booking.code[4:]} "
    answer = check_in(desk, organisation, typed)

    shown = text(answer)
    assert 'class="check-in-result check-in-ok"' in answer.content.decode()
    assert "Checked in" in shown
    assert "Grete Gast" in shown
    assert "3 tickets" in shown
    assert "Night tour" in shown
    assert "3 / 3" in shown
    booking.refresh_from_db()
    assert booking.checked_in_at is not None
    assert Membership.objects.get(user=booking.checked_in_by).role == Role.FRONT_DESK
    visit = Interaction.objects.get(contact=booking.contact, kind="visit")
    assert visit.quantity == 3
    assert AuditEntry.objects.filter(action="bookings.booking.checked_in").count() == 1

    owner = staff(member_factory, organisation, Role.OWNER)
    contact_page = text(owner.get(f"/o/{organisation.slug}/contacts/{booking.contact_id}/"))
    assert re.search(r"Visit Night tour .*×3", contact_page)


def test_a_second_scan_says_when_the_code_was_checked_in_and_writes_nothing(
    organisation, member_factory
) -> None:
    occurrence = make_date(organisation)
    booking = book(occurrence)
    happening_today(occurrence)
    desk = staff(member_factory, organisation, Role.FRONT_DESK)
    check_in(desk, organisation, booking.code)
    booking.refresh_from_db()
    first_time = timezone.localtime(booking.checked_in_at).strftime("%H:%M")

    again = check_in(desk, organisation, booking.code)

    assert 'class="check-in-result check-in-fail"' in again.content.decode()
    assert f"Already checked in at {first_time}." in text(again)
    assert Interaction.objects.filter(kind="visit").count() == 1


def test_unknown_foreign_cancelled_and_other_day_codes_get_a_clear_red_reason(
    organisation, other_organisation, member_factory
) -> None:
    today = make_date(organisation)
    cancelled = book(today)
    booking_cancel(organisation=organisation, code=cancelled.code, via="visitor")
    happening_today(today)
    later = make_date(organisation, starts_in=timedelta(days=3))
    next_week = book(later)
    foreign_date = make_date(other_organisation)
    foreign = book(foreign_date)
    happening_today(foreign_date)
    called_off = make_date(organisation)
    void = book(called_off)
    happening_today(called_off)
    Occurrence.objects.filter(pk=called_off.pk).update(status=OccurrenceStatus.CANCELLED)
    desk = staff(member_factory, organisation, Role.FRONT_DESK)

    date_cancelled = text(check_in(desk, organisation, void.code))
    unknown = text(check_in(desk, organisation, "ZZZZ2222"))
    other_house = text(check_in(desk, organisation, foreign.code))
    was_cancelled = text(check_in(desk, organisation, cancelled.code))
    other_day = text(check_in(desk, organisation, next_week.code))
    empty = text(check_in(desk, organisation, "   "))

    assert "Unknown code ZZZZ2222: there is no such booking." in unknown
    assert f"Unknown code {foreign.code}: there is no such booking." in other_house
    assert foreign.name not in other_house
    assert f"Booking {cancelled.code} was cancelled." in was_cancelled
    day = timezone.localtime(later.starts_at).strftime("%d.%m.%Y")
    assert f"Booking {next_week.code} is for {day}, not for today." in other_day
    assert "Please enter a booking code." in empty
    assert f"The date of booking {void.code} was cancelled." in date_cancelled
    assert not Booking.objects.filter(checked_in_at__isnull=False).exists()
    assert not Interaction.objects.filter(kind="visit").exists()


def test_check_in_needs_the_front_desk_role_or_more(organisation, member_factory) -> None:
    occurrence = make_date(organisation)
    booking = book(occurrence)
    happening_today(occurrence)

    viewer = staff(member_factory, organisation, Role.VIEWER)
    assert viewer.get(f"/o/{organisation.slug}/bookings/check-in/").status_code == 403
    assert check_in(viewer, organisation, booking.code).status_code == 403
    booking.refresh_from_db()
    assert booking.checked_in_at is None
    assert "Check-in" not in text(viewer.get(f"/o/{organisation.slug}/bookings/"))

    editor = staff(member_factory, organisation, Role.EDITOR)
    assert "check-in-ok" in check_in(editor, organisation, booking.code).content.decode()
