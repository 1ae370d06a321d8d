"""The demo's bookings follow the rules of the booking service and give every page data."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db.models import Count, Q, Sum
from django.utils import timezone

from publikum.audience.models import Interaction, InteractionKind
from publikum.bookings.models import Booking, BookingStatus, WaitlistEntry
from publikum.bookings.services import CODE_ALPHABET
from publikum.core.demo import build_demo
from publikum.core.models import Organisation
from publikum.programme.models import Occurrence, OccurrenceStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> Organisation:
    return build_demo(contacts=500)


def test_demo_bookings_never_exceed_capacity_and_full_dates_are_sold_out(demo) -> None:
    dates = Occurrence.objects.filter(organisation=demo).annotate(
        sold=Sum("bookings__quantity", filter=Q(bookings__status=BookingStatus.CONFIRMED))
    )
    booked = [d for d in dates if d.sold]
    assert len(booked) >= 20
    for date in booked:
        assert date.sold <= date.capacity, f"{date} is oversold"
        assert (date.sold == date.capacity) == (date.status == OccurrenceStatus.SOLD_OUT)
    upcoming = [d for d in dates if d.starts_at > timezone.now() and d.item.bookable]
    assert [d for d in upcoming if d.status == OccurrenceStatus.SOLD_OUT]
    nearly_full = [d for d in upcoming if d.sold and 0 < d.capacity - d.sold <= 3]
    assert nearly_full
    waiting = WaitlistEntry.objects.filter(organisation=demo, status="waiting")
    assert waiting.exists()
    assert all(e.occurrence.status == OccurrenceStatus.SOLD_OUT for e in waiting)
    assert not mail.outbox


def test_every_demo_booking_is_on_the_timeline_and_codes_are_readable(demo) -> None:
    bookings = Booking.objects.filter(organisation=demo)
    codes = list(bookings.values_list("code", flat=True))
    assert len(codes) == len(set(codes))
    assert all(len(c) == 8 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not bookings.filter(Q(email="") | Q(name="") | Q(contact__isnull=True)).exists()
    for booking in bookings.annotate(n=Count("lines")):
        assert booking.n >= 1
        lines = list(booking.lines.all())
        assert sum(li.quantity for li in lines) == booking.quantity
        assert sum(li.unit_price_eur * li.quantity for li in lines) == booking.total_eur

    entries = Interaction.objects.filter(
        organisation=demo, kind=InteractionKind.BOOKING, occurrence__starts_at__gt=timezone.now()
    )
    by_code = dict(entries.values_list("summary", "contact_id"))
    assert entries.count() == bookings.filter(occurrence__starts_at__gt=timezone.now()).count()
    for code, contact_id in bookings.values_list("code", "contact_id"):
        if code in by_code:
            assert by_code[code] == contact_id


def test_the_demo_has_guests_for_today_for_the_check_in_page(demo) -> None:
    zone = ZoneInfo(demo.timezone)
    today = timezone.localtime(timezone.now(), zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    todays = Booking.objects.filter(
        organisation=demo,
        status=BookingStatus.CONFIRMED,
        occurrence__starts_at__gte=start,
        occurrence__starts_at__lt=start + timedelta(days=1),
    )
    assert todays.count() >= 3
    for booking in todays.filter(checked_in_at__isnull=False):
        assert Interaction.objects.filter(
            contact_id=booking.contact_id, kind=InteractionKind.VISIT, summary=booking.code
        ).exists()
