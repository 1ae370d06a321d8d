"""Booking mails over a real SMTP server: confirmation with QR code and calendar file, the
cancel link in it, the cancellation, and the notice of a date the house cancelled."""

from __future__ import annotations

import io
import re
from email.message import EmailMessage
from typing import Any

import pytest
from django.utils import translation
from icalendar import Calendar
from PIL import Image

from publikum.bookings.models import Booking, BookingStatus
from publikum.bookings.presentation import when_text
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

LINK = re.compile(r"https?://[\w.:-]+(/[\w-]+/bookings/[^\s\"<>]+)")


def parts(message: EmailMessage) -> list[EmailMessage]:
    return [p for p in message.walk() if not p.is_multipart()]  # type: ignore[misc]


def part_of(message: EmailMessage, content_type: str) -> EmailMessage:
    [found] = [p for p in parts(message) if p.get_content_type() == content_type]
    return found


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def calendar_of(message: EmailMessage) -> Calendar:
    ics = part_of(message, "text/calendar")
    assert ics.get_filename().endswith(".ics")
    return Calendar.from_ical(ics.get_payload(decode=True))


def book_on_the_page(
    occurrence: Any, capture: Any, page_language: str = "en", mail_language: str = "en"
) -> Any:
    first = occurrence.item.price_categories.first()
    with capture(execute=True):
        return visitor(page_language).post(
            f"/{occurrence.organisation.slug}/programme/book/{occurrence.pk}/",
            {
                "action": "book",
                f"qty_{first.pk}": 2,
                "name": "Ada Lovelace",
                "email": "ada@example.org",
                "language": mail_language,
                "website": "",
            },
        )


def test_the_confirmation_arrives_with_code_qr_image_calendar_file_and_cancel_link(
    smtp_server, organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(
        organisation, starts_at=local_start(organisation, days=6, hour=18, minute=30)
    )
    response = book_on_the_page(occurrence, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    booking = Booking.objects.get()

    [received] = smtp_server.messages
    message = received.message
    assert received.recipients == ["ada@example.org"]
    assert message["From"].addresses[0].display_name == organisation.name
    assert message["X-Publikum-Organisation"] == organisation.slug
    assert message["X-Publikum-Idempotency-Key"] == f"booking-confirmation-{booking.pk}"
    assert booking.code in received.subject
    body = received.text
    assert "Hello Ada Lovelace," in body
    assert booking.code in body
    assert "18:30–20:30" in body
    assert "Great Hall 1, Kornmarkt 1, 12345 Beispielstadt" in body
    assert "Entrance by the river, second floor." in body
    assert "Wheelchair accessible, Induction loop" in body
    assert "2 × Regular (12.00 €): 24.00 €" in body
    assert "Total: 24.00 €" in body

    # The QR code: a PNG shown inline through its Content-ID, and offered as a file.
    png = part_of(message, "image/png")
    image = Image.open(io.BytesIO(png.get_payload(decode=True)))
    assert image.format == "PNG"
    # A full QR code (21, 25, 29, ... modules and a quiet zone of 4), not a Micro QR code
    # (at most 17 modules), which door scanners and phones do not read.
    modules = image.size[0] // 8 - 8
    assert modules >= 21
    assert (modules - 21) % 4 == 0
    content_id = str(png["Content-ID"]).strip().strip("<>")
    assert f'src="cid:{content_id}"' in html_of(message)
    assert png.get_filename() == f"booking-{booking.code}.png"
    assert message.get_content_type() == "multipart/mixed"

    calendar = calendar_of(message)
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"booking-{booking.code}@{organisation.slug}"
    start = event.decoded("DTSTART")
    assert start == occurrence.starts_at
    assert str(start.tzinfo) == "Europe/Berlin"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert (start.hour, start.minute) == (18, 30)
    assert "Kornmarkt 1" in str(event["LOCATION"])
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]

    # The cancel link in the mail works: it asks first, then cancels.
    [cancel_path] = [p for p in LINK.findall(body) if p.endswith("/cancel/")]
    client = visitor("en")
    assert "Do you really want to cancel" in text(client.get(cancel_path))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(cancel_path).status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED

    cancellation = smtp_server.messages[1]
    assert cancellation.recipients == ["ada@example.org"]
    assert "cancelled" in cancellation.subject
    assert cancellation.message["X-Publikum-Idempotency-Key"] == (
        f"booking-cancellation-{booking.pk}"
    )
    removal = calendar_of(cancellation.message)
    assert str(removal["METHOD"]) == "CANCEL"
    [cancelled_event] = removal.walk("VEVENT")
    assert str(cancelled_event["UID"]) == f"booking-{booking.code}@{organisation.slug}"
    assert str(cancelled_event["STATUS"]) == "CANCELLED"


def test_the_confirmation_is_written_in_the_language_of_the_booker(
    smtp_server, organisation, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    occurrence = make_date(organisation, starts_at=local_start(organisation, days=3, hour=11))
    # The page is shown in English; the person chose German mails.
    book_on_the_page(occurrence, django_capture_on_commit_callbacks, "en", mail_language="de")

    [received] = smtp_server.messages
    with translation.override("de"):
        german_date = when_text(occurrence, organisation)
    assert german_date in received.text
    assert occurrence.item.title_de in received.subject
    assert '<html lang="de">' in html_of(received.message)
    assert "2 × Regulär" in received.text


def test_a_cancelled_date_is_announced_once_to_the_holders_of_confirmed_bookings(
    smtp_server, organisation, immediate_tasks
) -> None:
    from publikum.bookings.services import booking_cancel
    from publikum.bookings.tasks import notify_date_cancelled

    occurrence = make_date(organisation)
    kept = [book(occurrence, email="eins@example.org"), book(occurrence, email="zwei@example.org")]
    gone = book(occurrence, email="drei@example.org")
    booking_cancel(organisation=organisation, code=gone.code, via="visitor")
    assert notify_date_cancelled.call(occurrence_id=occurrence.pk) == 0  # not cancelled yet
    smtp_server.messages.clear()

    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.save()
    assert notify_date_cancelled.call(occurrence_id=occurrence.pk) == 2
    notify_date_cancelled.call(occurrence_id=occurrence.pk)  # a retry tells nobody twice

    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        "eins@example.org",
        "zwei@example.org",
    ]
    for received in smtp_server.messages:
        # The bookings were made in German (the default language of the booking form).
        assert received.subject.strip().startswith("Abgesagt:")
        assert "damit hinfällig" in received.text
        assert str(calendar_of(received.message)["METHOD"]) == "CANCEL"
    assert AuditEntry.objects.filter(
        action="bookings.booking.date_cancelled_notice"
    ).count() == len(kept)
