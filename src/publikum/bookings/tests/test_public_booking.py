"""The public booking page: book, see the code, errors next to the form, the booking link."""

from __future__ import annotations

import re
from typing import Any

import pytest

from publikum.audience.models import Consent, SubscriptionRequest
from publikum.bookings import links
from publikum.bookings.models import Booking, BookingStatus, WaitlistEntry
from publikum.bookings.tests.factories import (
    book,
    immediate_tasks,
    local_start,
    make_date,
    text,
    visitor,
)
from publikum.core.models import AuditEntry
from publikum.programme.models import OccurrenceStatus

pytestmark = pytest.mark.django_db

__all__ = ["immediate_tasks"]


def book_url(occurrence: Any) -> str:
    return f"/{occurrence.organisation.slug}/programme/book/{occurrence.pk}/"


def form_data(occurrence: Any, regular: int = 2, reduced: int = 0, **extra: Any) -> dict[str, Any]:
    first, second = occurrence.item.price_categories.all()
    return {
        "action": "book",
        f"qty_{first.pk}": regular,
        f"qty_{second.pk}": reduced,
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "language": "en",
        "website": "",
        **extra,
    }


def test_the_page_shows_the_date_in_the_house_time_zone_the_venue_and_free_seats(
    organisation,
) -> None:
    occurrence = make_date(
        organisation, capacity=12, starts_at=local_start(organisation, days=4, hour=18, minute=30)
    )
    book(occurrence, quantity=5)

    page = visitor("en").get(book_url(occurrence))

    assert page.status_code == 200
    shown = text(page)
    assert occurrence.item.title_en in shown
    assert "18:30–20:30" in shown
    assert "Great Hall" in shown
    assert "Kornmarkt 1, 12345 Beispielstadt" in shown
    assert "Wheelchair accessible" in shown
    assert "7 seats free" in shown
    assert "Regular (12.00 €)" in shown
    assert "Newsletter: news about our programme" in shown
    assert "grants nothing yet" in shown
    html = page.content.decode()
    assert 'type="checkbox"' in html
    assert " checked" not in html  # no consent box is ticked in advance
    assert re.search(r'<option value="en" selected>', html)
    german = visitor("de").get(book_url(occurrence)).content.decode()
    assert re.search(r'<option value="de" selected>', german)


def test_a_visitor_books_and_sees_the_code_with_its_qr_code(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation)
    client = visitor("en")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(book_url(occurrence), form_data(occurrence, regular=2, reduced=1))

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response.headers["Location"] == links.booking_confirmed_path(booking)
    assert (booking.quantity, booking.total_eur, booking.source) == (3, 32, "web")
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    shown = text(page)
    assert booking.code in shown
    assert "2 × Regular" in shown
    assert "1 × Reduced" in shown
    assert "32.00 €" in shown
    assert "ada@example.org" in shown
    assert "<svg" in page.content.decode()
    assert links.booking_path(booking) in page.content.decode()
    own = client.get(links.booking_path(booking))
    assert own.status_code == 200
    assert booking.code in text(own)
    assert "Cancel booking" in text(own)


def test_missing_tickets_and_bad_input_are_shown_next_to_the_fields_with_the_input_kept(
    organisation,
) -> None:
    occurrence = make_date(organisation)

    none = visitor().post(book_url(occurrence), form_data(occurrence, regular=0))
    bad = visitor().post(
        book_url(occurrence), form_data(occurrence, email="ada(at)example", name="")
    )
    too_many = visitor().post(book_url(occurrence), form_data(occurrence, regular=-1))

    assert none.status_code == 400
    assert "Please choose at least one ticket." in text(none)
    assert 'value="Ada Lovelace"' in none.content.decode()
    assert bad.status_code == 400
    assert 'id="email-errors"' in bad.content.decode()
    assert 'id="name-errors"' in bad.content.decode()
    assert 'value="ada(at)example"' in bad.content.decode()
    assert too_many.status_code == 400
    assert not Booking.objects.exists()


def test_seats_sold_meanwhile_give_a_clear_answer_and_the_waiting_list(organisation) -> None:
    occurrence = make_date(organisation, capacity=3)
    client = visitor("en")
    assert "3 seats free" in text(client.get(book_url(occurrence)))
    book(occurrence, quantity=2)  # someone else was quicker

    too_few = client.post(book_url(occurrence), form_data(occurrence, regular=2))

    assert too_few.status_code == 409
    shown = text(too_few)
    assert "Only 1 seat is left; you asked for 2." in shown
    assert "Join the waiting list" in shown
    assert 'value="Ada Lovelace"' in too_few.content.decode()
    book(occurrence, quantity=1)
    sold_out = client.get(book_url(occurrence))
    assert "Sold out" in text(sold_out)
    assert 'data-testid="booking-form"' not in sold_out.content.decode()
    assert "Join the waiting list" in text(sold_out)


def test_a_sold_out_date_takes_names_for_its_waiting_list(organisation) -> None:
    occurrence = make_date(organisation, capacity=1)
    book(occurrence)
    client = visitor("en")

    response = client.post(
        book_url(occurrence),
        {
            "action": "waitlist",
            "name": "Wanda Wartend",
            "email": "wanda@example.org",
            "language": "en",
            "quantity": 2,
            "website": "",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == book_url(occurrence) + "waiting-list/"
    assert "You are on the waiting list" in text(client.get(response.headers["Location"]))
    entry = WaitlistEntry.objects.get()
    assert (entry.name, entry.email, entry.quantity, entry.status) == (
        "Wanda Wartend",
        "wanda@example.org",
        2,
        "waiting",
    )


def test_a_cancelled_date_explains_itself_and_books_nothing(organisation) -> None:
    occurrence = make_date(organisation)
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.save()

    page = visitor("en").get(book_url(occurrence))
    posted = visitor("en").post(book_url(occurrence), form_data(occurrence))

    assert "This date has been cancelled." in text(page)
    assert 'data-testid="booking-form"' not in page.content.decode()
    assert posted.status_code == 409
    assert not Booking.objects.exists()


def test_unknown_dates_drafts_and_other_houses_dates_are_not_found(
    organisation, other_organisation
) -> None:
    foreign = make_date(other_organisation)
    draft = make_date(organisation, published=False)

    assert visitor().get(f"/{organisation.slug}/programme/book/{foreign.pk}/").status_code == 404
    assert visitor().get(book_url(draft)).status_code == 404
    assert visitor().get(f"/{organisation.slug}/programme/book/999999/").status_code == 404


def test_ticked_purposes_send_an_opt_in_link_and_grant_nothing(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation)
    with django_capture_on_commit_callbacks(execute=True):
        visitor("en").post(
            book_url(occurrence), form_data(occurrence, consents=["newsletter", "offers"])
        )

    booking = Booking.objects.get()
    request = SubscriptionRequest.objects.get(contact=booking.contact)
    assert sorted(request.purposes) == ["newsletter", "offers"]
    assert not Consent.objects.filter(contact=booking.contact).exists()


def test_a_robot_filling_the_honeypot_books_nothing(organisation) -> None:
    occurrence = make_date(organisation)
    response = visitor().post(book_url(occurrence), form_data(occurrence, website="http://spam"))
    assert response.status_code == 302
    assert not Booking.objects.exists()


def test_booking_is_rate_limited(organisation) -> None:
    occurrence = make_date(organisation)
    client = visitor()
    answers = [
        client.post(book_url(occurrence), form_data(occurrence, regular=0)).status_code
        for _ in range(11)
    ]
    assert answers[:10] == [400] * 10
    assert answers[10] == 429


def test_forged_foreign_and_erased_links_show_a_clear_not_found_page(
    organisation, other_organisation
) -> None:
    occurrence = make_date(organisation)
    booking = book(occurrence)
    token = links.booking_token(booking)
    foreign_booking = book(make_date(other_organisation))
    foreign_token = links.booking_token(foreign_booking)
    base = f"/{organisation.slug}/bookings"

    forged = visitor("en").get(f"{base}/{booking.code}/{token[:-2]}xx/")
    swapped = visitor("en").get(f"{base}/{booking.code}/{foreign_token}/")
    foreign = visitor("en").get(f"{base}/{foreign_booking.code}/{foreign_token}/")
    garbage = visitor("en").get(f"{base}/{booking.code}/{'x' * 500}/")

    for response in (forged, swapped, foreign, garbage):
        assert response.status_code == 404
        assert "This link is not valid" in text(response)
        assert booking.name not in text(response)
    assert visitor().get(f"{base}/{booking.code}/{token}/").status_code == 200
    Booking.objects.filter(pk=booking.pk).update(name="", email="")  # erased
    assert visitor().get(f"{base}/{booking.code}/{token}/").status_code == 404


def test_the_visitor_cancels_through_the_booking_page_after_confirming(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation, capacity=2)
    booking = book(occurrence, quantity=2)
    client = visitor("en")
    cancel_path = links.booking_cancel_path(booking)

    question = client.get(cancel_path)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED  # opening the link cancels nothing
    assert "Do you really want to cancel" in text(question)

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(cancel_path)

    assert done.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    page = client.get(done.headers["Location"])
    assert "Your booking has been cancelled." in text(page)
    assert "Cancel booking" not in text(page).replace("Cancel booking ·", "")
    entry = AuditEntry.objects.get(action="bookings.booking.cancelled")
    assert entry.data["via"] == "visitor"
    again = client.post(cancel_path)
    assert again.status_code == 409
    assert "already cancelled" in text(again)
