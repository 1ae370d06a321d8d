"""Staff pages of bookings: the list of a date with seats and waiting list, the door list,
one booking with its cancel button, and who may do what."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from publikum.bookings.models import Booking, BookingStatus, WaitlistEntry
from publikum.bookings.services import booking_cancel, waitlist_join, waitlist_offer_seats
from publikum.bookings.tests.factories import book, make_date, text
from publikum.core.models import AuditEntry, Role

pytestmark = pytest.mark.django_db


def staff(member_factory: Any, organisation: Any, role: str) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(member_factory(organisation, role))
    return client


@pytest.fixture
def busy_date(organisation: Any) -> Any:
    """Six seats: five sold, one held for an offer, two people waiting, one cancelled."""
    occurrence = make_date(organisation, capacity=6, title_en="Concert in the hall")
    book(occurrence, quantity=2, name="Anton Ahorn", email="anton@example.org")
    leaving = book(occurrence, quantity=1, name="Lea Leaving", email="lea@example.org")
    book(occurrence, quantity=2, name="Berta Birke", email="berta@example.org")
    book(occurrence, quantity=1, name="=HYPERLINK(1)", email="formula@example.org")
    for name, email in (
        ("Wilma Warte", "wilma@example.org"),
        ("Walter Warte", "walter@example.org"),
    ):
        waitlist_join(
            organisation=organisation,
            occurrence_id=occurrence.pk,
            name=name,
            email=email,
            quantity=1,
        )
    booking_cancel(organisation=organisation, code=leaving.code, via="visitor")
    waitlist_offer_seats(occurrence_id=occurrence.pk)
    return occurrence


def test_the_list_of_a_date_shows_seats_sold_held_and_its_waiting_list(
    organisation, member_factory, busy_date
) -> None:
    viewer = staff(member_factory, organisation, Role.VIEWER)

    page = viewer.get(f"/o/{organisation.slug}/bookings/?occurrence={busy_date.pk}")

    assert page.status_code == 200
    shown = text(page)
    assert "5 / 6 seats sold / capacity" in shown
    assert "1 held for waiting-list offers" in shown
    assert "0 free" in shown
    assert "Wilma Warte" in shown
    assert "Offered" in shown
    assert "Walter Warte" in shown
    assert "Waiting" in shown
    assert "Anton Ahorn" in shown
    assert "Lea Leaving" in shown
    assert "4 bookings" in shown  # the cancelled one is listed too
    assert "Withdraw" not in shown  # a viewer changes nothing
    assert "Door list (CSV)" in shown


def test_search_and_status_filter(organisation, member_factory, busy_date) -> None:
    viewer = staff(member_factory, organisation, Role.VIEWER)
    anton = Booking.objects.get(name="Anton Ahorn")
    url = f"/o/{organisation.slug}/bookings/"

    by_code = text(viewer.get(url, {"q": anton.code.lower()}))
    by_name = text(viewer.get(url, {"q": "birke"}))
    by_email = text(viewer.get(url, {"q": "LEA@example.org"}))
    cancelled = text(viewer.get(url, {"status": "cancelled"}))

    assert "1 booking" in by_code
    assert "Anton Ahorn" in by_code
    assert "1 booking" in by_name
    assert "Berta Birke" in by_name
    assert "1 booking" in by_email
    assert "Lea Leaving" in by_email
    assert "1 booking" in cancelled
    assert "Lea Leaving" in cancelled


def test_the_door_list_is_a_csv_of_confirmed_bookings_by_name_and_is_audited(
    organisation, member_factory, busy_date
) -> None:
    viewer = staff(member_factory, organisation, Role.VIEWER)

    response = viewer.get(
        f"/o/{organisation.slug}/bookings/door-list.csv?occurrence={busy_date.pk}"
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["name"] for r in rows] == ["'=HYPERLINK(1)", "Anton Ahorn", "Berta Birke"]
    assert rows[1]["quantity"] == "2"
    assert rows[1]["tickets"] == "2 x Regulär"
    assert rows[1]["total_eur"] == "24.00"
    entry = AuditEntry.objects.get(action="bookings.door_list.exported")
    assert entry.data == {"occurrence_id": busy_date.pk, "bookings": 3}

    without_date = viewer.get(f"/o/{organisation.slug}/bookings/door-list.csv")
    assert without_date.status_code == 302


def test_an_editor_cancels_after_confirming_and_a_viewer_or_front_desk_cannot(
    organisation, member_factory
) -> None:
    occurrence = make_date(organisation)
    booking = book(occurrence, quantity=2, name="Clara Cancel", email="clara@example.org")
    detail = f"/o/{organisation.slug}/bookings/{booking.code}/"
    cancel = f"{detail}cancel/"

    viewer = staff(member_factory, organisation, Role.VIEWER)
    desk = staff(member_factory, organisation, Role.FRONT_DESK)
    page = text(viewer.get(detail))
    assert "Clara Cancel" in page
    assert "Cancel booking" not in page
    assert viewer.post(cancel).status_code == 403
    assert desk.post(cancel).status_code == 403
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED

    editor = staff(member_factory, organisation, Role.EDITOR)
    assert "Cancel booking" in text(editor.get(detail))
    assert "cannot be undone" in text(editor.get(cancel))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    done = editor.post(cancel, follow=True)
    assert f"Booking {booking.code} has been cancelled" in text(done)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    entry = AuditEntry.objects.get(action="bookings.booking.cancelled")
    assert entry.data["via"] == "staff"
    assert entry.actor_user is not None
    again = editor.post(cancel, follow=True)
    assert "This booking is already cancelled." in text(again)


def test_the_booking_page_links_to_the_contact_and_shows_its_history(
    organisation, member_factory
) -> None:
    occurrence = make_date(organisation)
    booking = book(occurrence, name="Dora Detail", email="dora@example.org")
    viewer = staff(member_factory, organisation, Role.VIEWER)

    page = viewer.get(f"/o/{organisation.slug}/bookings/{booking.code.lower()}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/o/{organisation.slug}/contacts/{booking.contact_id}/"' in html
    assert "bookings.booking.created" in text(page)
    assert "<svg" in html
    assert viewer.get(f"/o/{organisation.slug}/bookings/NOSUCH23/").status_code == 404


def test_an_editor_takes_someone_off_the_waiting_list(
    organisation, member_factory, busy_date
) -> None:
    wilma = WaitlistEntry.objects.get(name="Wilma Warte")
    url = f"/o/{organisation.slug}/bookings/waitlist/{wilma.pk}/withdraw/"
    viewer = staff(member_factory, organisation, Role.VIEWER)
    assert viewer.post(url).status_code == 403

    editor = staff(member_factory, organisation, Role.EDITOR)
    list_page = text(editor.get(f"/o/{organisation.slug}/bookings/?occurrence={busy_date.pk}"))
    assert "Withdraw" in list_page
    assert editor.get(url).status_code == 405
    response = editor.post(url)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"?occurrence={busy_date.pk}")
    wilma.refresh_from_db()
    assert wilma.status == "withdrawn"
    entry = AuditEntry.objects.get(action="bookings.waitlist.withdrawn")
    assert entry.actor_user is not None


def test_the_navigation_offers_bookings_to_all_and_check_in_from_the_front_desk_up(
    organisation, member_factory
) -> None:
    viewer = text(staff(member_factory, organisation, Role.VIEWER).get(f"/o/{organisation.slug}/"))
    desk = text(
        staff(member_factory, organisation, Role.FRONT_DESK).get(f"/o/{organisation.slug}/")
    )
    assert "Bookings" in viewer
    assert "Check-in" not in viewer
    assert "Bookings" in desk
    assert "Check-in" in desk
