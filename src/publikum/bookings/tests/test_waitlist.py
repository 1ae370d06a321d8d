"""The waiting list as visitors meet it: the offer mail, its link, booking the held seats,
and the clear pages for offers that expired, were used or were never ours."""

from __future__ import annotations

import re
from typing import Any

import pytest

from publikum.bookings import links
from publikum.bookings.models import Booking, WaitlistEntry
from publikum.bookings.selectors import seats_of
from publikum.bookings.services import booking_cancel, waitlist_join
from publikum.bookings.tests.factories import book, immediate_tasks, make_date, text, visitor

pytestmark = pytest.mark.django_db

__all__ = ["immediate_tasks"]

OFFER_LINK = re.compile(r"https?://[\w.:-]+(/[\w-]+/waitlist/\d+/[^\s\"<>]+)")


def waiting(occurrence: Any, name: str, email: str, quantity: int = 1) -> WaitlistEntry:
    return waitlist_join(
        organisation=occurrence.organisation,
        occurrence_id=occurrence.pk,
        name=name,
        email=email,
        language="en",
        quantity=quantity,
    )


def free_up(occurrence: Any, booking: Booking, capture: Any) -> None:
    with capture(execute=True):
        booking_cancel(organisation=occurrence.organisation, code=booking.code, via="visitor")


def offer_form(occurrence: Any, regular: int, reduced: int = 0) -> dict[str, Any]:
    first, second = occurrence.item.price_categories.all()
    return {"action": "book", f"qty_{first.pk}": regular, f"qty_{second.pk}": reduced}


def test_the_offer_mail_links_to_a_page_that_books_the_held_seats(
    smtp_server, organisation, immediate_tasks, django_capture_on_commit_callbacks, settings
) -> None:
    settings.PUBLIC_URL = "https://tickets.example.org"
    occurrence = make_date(organisation, capacity=2)
    first = book(occurrence, quantity=2)
    entry = waiting(occurrence, "Wanda Wartend", "wanda@example.org", quantity=2)
    free_up(occurrence, first, django_capture_on_commit_callbacks)

    [offer] = [m for m in smtp_server.messages if m.recipients == ["wanda@example.org"]]
    assert offer.message["X-Publikum-Idempotency-Key"] == f"waitlist-offer-{entry.pk}"
    assert offer.message["X-Publikum-Organisation"] == organisation.slug
    assert "We hold the seats for you until" in offer.text
    assert "https://tickets.example.org/" in offer.text
    [path] = OFFER_LINK.findall(offer.text)
    client = visitor("en")
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "2 seats are held for you until" in text(page)
    assert "Wanda Wartend (wanda@example.org)" in text(page)

    with django_capture_on_commit_callbacks(execute=True):
        booked = client.post(path, offer_form(occurrence, regular=1, reduced=1))

    booking = Booking.objects.get(source="waitlist")
    assert booked.status_code == 302
    assert booked.headers["Location"] == links.booking_confirmed_path(booking)
    assert (booking.name, booking.email, booking.quantity) == (
        "Wanda Wartend",
        "wanda@example.org",
        2,
    )
    entry.refresh_from_db()
    assert entry.status == "booked"
    assert seats_of(occurrence).free == 0
    confirmation = smtp_server.messages[-1]
    assert confirmation.recipients == ["wanda@example.org"]
    assert booking.code in confirmation.subject

    used = client.get(path)
    assert "already been used" in text(used)
    assert client.post(path, offer_form(occurrence, regular=1)).status_code == 409
    assert Booking.objects.filter(source="waitlist").count() == 1


def test_an_expired_offer_link_says_so_and_books_nothing(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation, capacity=1)
    first = book(occurrence)
    entry = waiting(occurrence, "Anna", "anna@example.org")
    free_up(occurrence, first, django_capture_on_commit_callbacks)
    entry.refresh_from_db()
    path = links.offer_path(entry)
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_expires_at=entry.offered_at)

    page = visitor("en").get(path)
    posted = visitor("en").post(path, offer_form(occurrence, regular=1))

    assert "This offer has expired" in text(page)
    assert 'data-testid="offer-form"' not in page.content.decode()
    assert posted.status_code == 410
    assert not Booking.objects.filter(source="waitlist").exists()


def test_forged_and_foreign_offer_links_are_not_found(
    organisation, other_organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation, capacity=1)
    first = book(occurrence)
    entry = waiting(occurrence, "Anna", "anna@example.org")
    free_up(occurrence, first, django_capture_on_commit_callbacks)
    entry.refresh_from_db()
    token = links.offer_token(entry)
    foreign = make_date(other_organisation)

    forged = visitor("en").get(f"/{organisation.slug}/waitlist/{entry.pk}/{token[:-3]}abc/")
    other_house = visitor("en").get(f"/{other_organisation.slug}/waitlist/{entry.pk}/{token}/")
    unknown = visitor("en").get(f"/{organisation.slug}/waitlist/{entry.pk + 99}/{token}/")
    posted = visitor("en").post(
        f"/{organisation.slug}/waitlist/{entry.pk}/x{token}/", offer_form(occurrence, 1)
    )

    for response in (forged, other_house, unknown, posted):
        assert response.status_code == 404
        assert "This link is not valid" in text(response)
    assert not Booking.objects.filter(source="waitlist").exists()
    assert foreign.pk  # the other house exists and still learns nothing


def test_releasing_an_offer_passes_the_seats_to_the_next_person(
    smtp_server, organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation, capacity=1)
    first = book(occurrence)
    anna = waiting(occurrence, "Anna", "anna@example.org")
    ben = waiting(occurrence, "Ben", "ben@example.org")
    free_up(occurrence, first, django_capture_on_commit_callbacks)
    anna.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        released = visitor("en").post(links.offer_path(anna), {"action": "release"})

    assert released.status_code == 302
    anna.refresh_from_db()
    ben.refresh_from_db()
    assert (anna.status, ben.status) == ("withdrawn", "offered")
    assert "no longer on the waiting list" in text(visitor("en").get(links.offer_path(anna)))
    assert smtp_server.messages[-1].recipients == ["ben@example.org"]
