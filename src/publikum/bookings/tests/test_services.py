"""The booking service as every channel uses it: capacity, cancellation, erasure, consents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from publikum.audience.models import Consent, Contact, Interaction, SubscriptionRequest
from publikum.audience.privacy import contact_erase
from publikum.bookings import links
from publikum.bookings.models import Booking, BookingStatus, WaitlistEntry
from publikum.bookings.selectors import seats_of
from publikum.bookings.services import (
    DateNotBookable,
    SoldOut,
    booking_cancel,
    booking_create,
    waitlist_join,
)
from publikum.bookings.tests.factories import book, immediate_tasks, make_date
from publikum.core.errors import Conflict, NotFound, ValidationFailed
from publikum.core.models import AuditEntry
from publikum.programme.models import OccurrenceStatus

pytestmark = pytest.mark.django_db

__all__ = ["immediate_tasks"]


def test_a_date_sells_exactly_its_capacity_then_says_sold_out(organisation) -> None:
    occurrence = make_date(organisation, capacity=3)

    book(occurrence, quantity=2)
    with pytest.raises(SoldOut, match="Only 1 seat left; 2 were requested"):
        book(occurrence, quantity=2)
    book(occurrence, quantity=1)
    with pytest.raises(SoldOut, match="sold out"):
        book(occurrence, quantity=1)

    occurrence.refresh_from_db()
    assert occurrence.status == OccurrenceStatus.SOLD_OUT
    assert seats_of(occurrence).sold == 3
    assert Booking.objects.filter(occurrence=occurrence).count() == 2


def test_a_booking_per_category_copies_names_and_prices_and_sums_the_total(organisation) -> None:
    occurrence = make_date(organisation)
    regular, reduced = occurrence.item.price_categories.all()

    booking = booking_create(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="  Ada   Lovelace ",
        email="Ada@Example.org",
        language="en",
        per_category={regular.pk: 2, reduced.pk: 1},
    )

    assert booking.name == "Ada Lovelace"
    assert booking.quantity == 3
    assert booking.total_eur == Decimal("32.00")
    assert [(li.name_en, li.quantity, li.unit_price_eur) for li in booking.lines.all()] == [
        ("Regular", 2, Decimal("12.00")),
        ("Reduced", 1, Decimal("8.00")),
    ]
    contact = Contact.objects.get(organisation=organisation, email__iexact="ada@example.org")
    assert booking.contact == contact
    assert Interaction.objects.filter(
        contact=contact, kind="booking", summary=booking.code
    ).exists()
    assert AuditEntry.objects.filter(
        action="bookings.booking.created", object_id=str(booking.pk)
    ).exists()


def test_bad_input_is_refused_and_nothing_is_written(organisation, other_organisation) -> None:
    occurrence = make_date(organisation)
    foreign = make_date(other_organisation)
    category = foreign.item.price_categories.first()

    with pytest.raises(ValidationFailed) as no_tickets:
        book(occurrence, quantity=0)
    assert no_tickets.value.fields == {"quantity": ["at least 1"]}
    with pytest.raises(ValidationFailed, match="does not belong"):
        booking_create(
            organisation=organisation,
            occurrence_id=occurrence.pk,
            name="Ada",
            email="ada@example.org",
            per_category={category.pk: 1},
        )
    with pytest.raises(ValidationFailed) as bad_email:
        book(occurrence, email="not an address")
    assert "email" in bad_email.value.fields
    with pytest.raises(NotFound):
        booking_create(
            organisation=organisation,
            occurrence_id=foreign.pk,
            name="Ada",
            email="ada@example.org",
            quantity=1,
        )

    assert not Booking.objects.exists()
    assert not Contact.objects.filter(organisation=organisation).exists()


def test_cancelled_and_past_dates_cannot_be_booked(organisation) -> None:
    cancelled = make_date(organisation)
    cancelled.status = OccurrenceStatus.CANCELLED
    cancelled.save()
    unpublished = make_date(organisation, published=False)

    with pytest.raises(DateNotBookable, match="cancelled"):
        book(cancelled)
    with pytest.raises(DateNotBookable, match="cannot be booked here"):
        book(unpublished)
    assert not Booking.objects.exists()


def test_ticked_purposes_start_a_double_opt_in_and_grant_nothing(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation)

    with django_capture_on_commit_callbacks(execute=True):
        booking = book(occurrence, consents=["newsletter", "feedback"], link_base="http://x.test/")

    request = SubscriptionRequest.objects.get(contact=booking.contact)
    assert sorted(request.purposes) == ["feedback", "newsletter"]
    assert not Consent.objects.filter(contact=booking.contact, granted=True).exists()
    subjects = sorted(m.subject for m in mail.outbox)
    assert len(subjects) == 2  # the booking confirmation and the opt-in link
    assert any(booking.code in s for s in subjects)


def test_cancelling_frees_the_seats_and_holds_them_for_the_first_person_waiting(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation, capacity=2)
    first = book(occurrence, quantity=2)
    anna = waitlist_join(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="Anna Wartend",
        email="anna@example.org",
        quantity=2,
    )
    ben = waitlist_join(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="Ben Wartend",
        email="ben@example.org",
        quantity=1,
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(organisation=organisation, code=first.code, via="visitor")

    anna.refresh_from_db()
    ben.refresh_from_db()
    assert anna.status == "offered"
    assert ben.status == "waiting"
    seats = seats_of(occurrence)
    assert (seats.sold, seats.held, seats.free) == (0, 2, 0)
    # Nobody else can take the held seats meanwhile.
    with pytest.raises(SoldOut):
        book(occurrence, quantity=1)
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == ["anna@example.org", first.email]  # offer + cancellation


def test_an_expired_offer_frees_its_seats_for_the_next_person(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    from publikum.bookings.tasks import expire_waitlist_offers

    occurrence = make_date(organisation, capacity=1)
    first = book(occurrence)
    anna = waitlist_join(
        organisation=organisation, occurrence_id=occurrence.pk, name="Anna", email="a@example.org"
    )
    ben = waitlist_join(
        organisation=organisation, occurrence_id=occurrence.pk, name="Ben", email="b@example.org"
    )
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(organisation=organisation, code=first.code, via="staff")
    anna.refresh_from_db()
    assert anna.status == "offered"

    # The offer's time runs out (as if a day had passed); the periodic job notices.
    WaitlistEntry.objects.filter(pk=anna.pk).update(
        offer_expires_at=anna.offered_at - (anna.offer_expires_at - anna.offered_at)
    )
    with django_capture_on_commit_callbacks(execute=True):
        expire_waitlist_offers.call()

    anna.refresh_from_db()
    ben.refresh_from_db()
    assert anna.status == "expired"
    assert ben.status == "offered"
    with pytest.raises(Conflict, match="no longer valid"):
        book(occurrence, email=anna.email, name=anna.name, waitlist_entry_id=anna.pk)
    assert not links.offer_token_valid(entry=ben, token=links.offer_token(anna))


def test_an_offer_is_redeemed_once_and_only_for_its_seats(organisation) -> None:
    from publikum.bookings.services import waitlist_offer_seats

    occurrence = make_date(organisation, capacity=3)
    first = book(occurrence, quantity=3)
    entry = waitlist_join(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="Clara",
        email="clara@example.org",
        quantity=2,
    )
    booking_cancel(organisation=organisation, code=first.code, via="visitor")
    [offered] = waitlist_offer_seats(occurrence_id=occurrence.pk)
    assert offered.pk == entry.pk
    assert seats_of(occurrence).free == 1  # 3 free, 2 held for Clara

    with pytest.raises(ValidationFailed, match="offer is for 2"):
        book(occurrence, quantity=3, email=entry.email, waitlist_entry_id=entry.pk)
    booking = book(
        occurrence, quantity=2, email=entry.email, source="waitlist", waitlist_entry_id=entry.pk
    )
    entry.refresh_from_db()
    assert entry.status == "booked"
    assert entry.booking == booking
    assert seats_of(occurrence).free == 1
    with pytest.raises(Conflict, match="already been used"):
        book(occurrence, quantity=1, email=entry.email, waitlist_entry_id=entry.pk)
    other = make_date(organisation)
    with pytest.raises(NotFound):
        book(other, quantity=1, email=entry.email, waitlist_entry_id=entry.pk)


def test_joining_the_waiting_list_needs_a_date_without_enough_seats(organisation) -> None:
    occurrence = make_date(organisation, capacity=2)
    with pytest.raises(Conflict, match="enough free seats"):
        waitlist_join(
            organisation=organisation, occurrence_id=occurrence.pk, name="A", email="a@example.org"
        )
    book(occurrence, quantity=1)
    entry = waitlist_join(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="A",
        email="a@example.org",
        quantity=2,
    )
    again = waitlist_join(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="A",
        email="A@example.org",
        quantity=2,
    )
    assert again.pk == entry.pk


def test_cancelling_twice_or_after_check_in_is_refused(organisation) -> None:
    from publikum.bookings.services import booking_check_in

    occurrence = make_date(organisation)
    booking = book(occurrence)
    booking_cancel(organisation=organisation, code=booking.code.lower(), via="visitor")
    with pytest.raises(Conflict, match="already cancelled"):
        booking_cancel(organisation=organisation, code=booking.code, via="visitor")

    other = book(occurrence)
    booking_check_in(organisation=organisation, code=other.code, now=occurrence.starts_at)
    with pytest.raises(Conflict, match="checked in"):
        booking_cancel(organisation=organisation, code=other.code, via="staff")
    other.refresh_from_db()
    assert other.status == BookingStatus.CONFIRMED


def test_erasing_a_contact_blanks_names_and_addresses_of_bookings_and_waiting_lists(
    organisation,
) -> None:
    full = make_date(organisation, capacity=2)
    booking = book(full, quantity=2, name="Erika Muster", email="erika@example.org")
    entry = waitlist_join(
        organisation=organisation,
        occurrence_id=full.pk,
        name="Erika Muster",
        email="erika@example.org",
    )
    token = links.booking_token(booking)
    assert links.booking_token_valid(organisation=organisation, code=booking.code, token=token)

    contact_erase(contact=booking.contact)

    booking.refresh_from_db()
    entry.refresh_from_db()
    assert (booking.name, booking.email) == ("", "")
    assert (entry.name, entry.email) == ("", "")
    # Seats and figures stay right.
    assert booking.status == BookingStatus.CONFIRMED
    assert seats_of(full).sold == 2
    assert not Booking.objects.filter(email__icontains="erika").exists()
    assert not Booking.objects.filter(name__icontains="Erika").exists()
    # The booking's own page no longer opens.
    page = Client().get(f"/{organisation.slug}/bookings/{booking.code}/{token}/")
    assert page.status_code == 404


def test_check_in_is_for_the_day_of_the_date_once_and_only_for_this_house(
    organisation, other_organisation
) -> None:
    from datetime import timedelta

    from publikum.bookings.services import booking_check_in
    from publikum.bookings.tests.factories import local_start

    occurrence = make_date(organisation, starts_at=local_start(organisation, days=2, hour=19))
    booking = book(occurrence, quantity=2)
    morning = occurrence.starts_at - timedelta(hours=9)  # 10:00 on the same day
    foreign = book(make_date(other_organisation))

    with pytest.raises(Conflict, match="not for today"):
        booking_check_in(
            organisation=organisation, code=booking.code, now=morning - timedelta(days=1)
        )
    with pytest.raises(NotFound):
        booking_check_in(organisation=organisation, code=foreign.code, now=morning)
    with pytest.raises(ValidationFailed):
        booking_check_in(organisation=organisation, code=" - ", now=morning)
    first = booking_check_in(organisation=organisation, code=booking.code, now=morning)
    second = booking_check_in(
        organisation=organisation, code=booking.code, now=morning + timedelta(minutes=5)
    )

    assert (first.already, second.already) == (False, True)
    assert second.booking.checked_in_at == morning
    visits = Interaction.objects.filter(contact=booking.contact, kind="visit")
    assert [(v.occurred_at, v.quantity) for v in visits] == [(morning, 2)]
    foreign.refresh_from_db()
    assert foreign.checked_in_at is None
