"""Mails of bookings: confirmation, cancellation, waiting-list offer, a cancelled date.

All of them are transactional: they carry what the person needs for a booking they made or
a place on a waiting list they asked for, so they go out without marketing consent (see
docs/bookings.md). Each is rendered in the booker's language, as plain text and HTML, comes
from the organisation's name, carries the organisation header that the mail sink files it
under, and an idempotency key so that a receiving system can drop a repeated send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.mime.image import MIMEImage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext
from icalendar import Calendar, Event, vCalAddress, vText

from publikum.bookings import links
from publikum.bookings.models import Booking, WaitlistEntry
from publikum.bookings.presentation import (
    accessibility_labels,
    local,
    money,
    qr_png,
    ticket_lines,
    time_text,
    venue_address,
    when_text,
)
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import Organisation
from publikum.programme.models import Occurrence

logger = logging.getLogger("publikum.bookings.mails")

IDEMPOTENCY_HEADER = "X-Publikum-Idempotency-Key"
PRODID = "-//Publikum//Bookings//EN"


class RelatedMail(EmailMultiAlternatives):
    """Text and HTML alternatives plus images the HTML shows inline (`cid:` references).

    MIME structure: mixed[related[alternative[text, html], image...], attachment...], the
    one that mail programs show the image inside the HTML and the files as attachments.
    """

    def __init__(self, *args: Any, inline_images: list[MIMEImage] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.inline_images = inline_images or []

    def _create_alternatives(self, msg: Any) -> Any:
        # Django's own step that wraps text and HTML (not in django-stubs).
        alternatives = super()._create_alternatives(msg)  # type: ignore[misc]
        if not self.inline_images:
            return alternatives
        related = SafeMIMEMultipart(_subtype="related", encoding=self.encoding)
        related.attach(alternatives)
        for image in self.inline_images:
            related.attach(image)
        return related


def _sender(organisation: Organisation) -> str:
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((organisation.name, address))


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes | str
    mimetype: str


def _send(
    *,
    organisation: Organisation,
    to: str,
    template: str,
    context: dict[str, Any],
    key: str,
    attachments: list[Attachment] | None = None,
    inline_images: list[MIMEImage] | None = None,
) -> None:
    """Render `bookings/email/<template>{_subject.txt,.txt,.html}` and send (active language)."""
    context = {"organisation": organisation, **context}
    subject = " ".join(render_to_string(f"bookings/email/{template}_subject.txt", context).split())
    text = render_to_string(f"bookings/email/{template}.txt", context)
    html = render_to_string(f"bookings/email/{template}.html", context)
    message = RelatedMail(
        subject,
        text,
        _sender(organisation),
        [to],
        reply_to=[organisation.reply_to_email] if organisation.reply_to_email else None,
        headers={
            ORG_HEADER: organisation.slug,
            "Auto-Submitted": "auto-generated",
            IDEMPOTENCY_HEADER: key,
        },
        inline_images=inline_images,
    )
    message.attach_alternative(html, "text/html")
    for attachment in attachments or []:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    message.send()


# --- the calendar file --------------------------------------------------------------------


def calendar_file(booking: Booking, *, link: str = "", cancelled: bool = False) -> bytes:
    """One VEVENT for the booked date, with the house's time zone (TZID and VTIMEZONE).

    METHOD:PUBLISH adds it to a calendar; the cancellation sends the same UID with
    METHOD:CANCEL and a higher SEQUENCE, which calendar programs use to remove it.
    """
    organisation = booking.organisation
    occurrence = booking.occurrence
    item = occurrence.item
    language = booking.language
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"booking-{booking.code}@{organisation.slug}")
    event.add("dtstamp", timezone.now())
    event.add("sequence", 1 if cancelled else 0)
    event.add("dtstart", local(occurrence.starts_at, organisation))
    event.add("dtend", local(max(occurrence.ends_at, occurrence.starts_at), organisation))
    event.add("summary", item.title(language))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    venue = item.venue
    if venue is not None:
        address = venue_address(venue)
        event.add("location", ", ".join(p for p in (venue.name(language), address) if p))
        if venue.latitude is not None and venue.longitude is not None:
            event.add("geo", (float(venue.latitude), float(venue.longitude)))
    with translation.override(language):
        lines = [f"{line.quantity} × {line.name}" for line in ticket_lines(booking, language)]
        description = [
            f"{gettext('Booking code')}: {booking.code}",
            *lines,
        ]
    if link:
        description.append(link)
        event.add("url", link)
    event.add("description", "\n".join(description))
    organizer = vCalAddress(f"mailto:{parseaddr(settings.DEFAULT_FROM_EMAIL)[1]}")
    organizer.params["cn"] = vText(organisation.name)
    event.add("organizer", organizer)
    calendar.add_component(event)
    starts = local(occurrence.starts_at, organisation).date()
    calendar.add_missing_timezones(
        first_date=starts - timedelta(days=366), last_date=starts + timedelta(days=366)
    )
    return calendar.to_ical()


def _qr_image(booking: Booking) -> tuple[MIMEImage, str]:
    content_id = make_msgid(domain=f"{booking.organisation.slug}.publikum")
    image = MIMEImage(qr_png(booking.code), "png")
    image.add_header("Content-ID", content_id)
    filename = f"booking-{booking.code}.png"
    # Inline in the HTML, and a named file that text-only mail programs offer to open.
    image.add_header("Content-Disposition", "inline", filename=filename)
    return image, content_id.strip("<>")


def _booking_context(booking: Booking, link_base: str) -> dict[str, Any]:
    """What every mail about a booking shows (call inside the booker's language)."""
    organisation = booking.organisation
    occurrence = booking.occurrence
    item = occurrence.item
    venue = item.venue
    language = booking.language
    return {
        "booking": booking,
        "name": booking.name,
        "code": booking.code,
        "title": item.title(language),
        "when": when_text(occurrence, organisation),
        "venue_name": venue.name(language) if venue else "",
        "venue_address": venue_address(venue),
        "directions": venue.directions(language) if venue else "",
        "accessibility": accessibility_labels(list(item.accessibility or [])),
        "lines": ticket_lines(booking, language),
        "total": money(booking.total_eur),
        "paid": booking.total_eur > 0,
        "booking_link": links.absolute(links.booking_path(booking), link_base),
        "cancel_link": links.absolute(links.booking_cancel_path(booking), link_base),
    }


def _load(booking: Booking) -> Booking:
    return (
        Booking.objects.select_related(
            "organisation", "occurrence", "occurrence__item", "occurrence__item__venue"
        )
        .prefetch_related("lines")
        .get(pk=booking.pk)
    )


# --- the mails -----------------------------------------------------------------------------


def send_confirmation(booking: Booking, *, link_base: str = "") -> None:
    """The booking confirmation: code, QR code, date, venue, tickets, calendar file."""
    booking = _load(booking)
    if not booking.email:
        return  # erased meanwhile
    with translation.override(booking.language):
        context = _booking_context(booking, link_base)
        image, content_id = _qr_image(booking)
        context["qr_cid"] = content_id
        ics = calendar_file(booking, link=context["booking_link"])
        _send(
            organisation=booking.organisation,
            to=booking.email,
            template="confirmation",
            context=context,
            key=f"booking-confirmation-{booking.pk}",
            attachments=[Attachment(f"booking-{booking.code}.ics", ics, "text/calendar")],
            inline_images=[image],
        )


def send_cancellation(booking: Booking, *, link_base: str = "") -> None:
    """Confirms a cancellation (by the visitor or by staff); the calendar file removes it."""
    _send_cancelled(booking, "cancellation", link_base)


def send_date_cancelled(booking: Booking, *, link_base: str = "") -> None:
    """The house cancelled the date itself; the booking holder hears it first."""
    _send_cancelled(booking, "date_cancelled", link_base)


def _send_cancelled(booking: Booking, template: str, link_base: str) -> None:
    """A mail that takes the date out of the person's calendar again (METHOD:CANCEL)."""
    booking = _load(booking)
    if not booking.email:
        return
    with translation.override(booking.language):
        context = _booking_context(booking, link_base)
        ics = calendar_file(booking, cancelled=True)
        _send(
            organisation=booking.organisation,
            to=booking.email,
            template=template,
            context=context,
            key=f"booking-{template.replace('_', '-')}-{booking.pk}",
            attachments=[Attachment(f"booking-{booking.code}.ics", ics, "text/calendar")],
        )


def send_waitlist_offer(entry: WaitlistEntry, *, link_base: str = "") -> None:
    """Seats are free and held for this person until the offer runs out."""
    entry = WaitlistEntry.objects.select_related(
        "organisation", "occurrence", "occurrence__item", "occurrence__item__venue"
    ).get(pk=entry.pk)
    if not entry.email or entry.offer_expires_at is None:
        return
    organisation = entry.organisation
    occurrence: Occurrence = entry.occurrence
    item = occurrence.item
    language = entry.language
    with translation.override(language):
        context = {
            "name": entry.name,
            "quantity": entry.quantity,
            "title": item.title(language),
            "when": when_text(occurrence, organisation),
            "venue_name": item.venue.name(language) if item.venue else "",
            "venue_address": venue_address(item.venue),
            "held_until": time_text(entry.offer_expires_at, organisation),
            "offer_link": links.absolute(links.offer_path(entry), link_base),
        }
        _send(
            organisation=organisation,
            to=entry.email,
            template="waitlist_offer",
            context=context,
            # An entry is offered seats once; an expired offer is not renewed.
            key=f"waitlist-offer-{entry.pk}",
        )
