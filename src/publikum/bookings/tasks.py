"""Background jobs of bookings: confirmation mails, waiting-list offers, expired offers."""

from __future__ import annotations

from datetime import timedelta

from publikum.core.jobs import job, periodic


@job()
def send_booking_confirmation(*, booking_id: int, link_base: str = "") -> bool:
    """Mail the confirmation of a booking (code, QR code, calendar file, cancel link)."""
    from publikum.bookings import mails
    from publikum.bookings.models import Booking

    booking = Booking.objects.filter(pk=booking_id).select_related("organisation").first()
    if booking is None:
        return False
    mails.send_confirmation(booking, link_base=link_base)
    return True


@job()
def send_booking_cancellation(*, booking_id: int) -> bool:
    """Confirm a cancellation to the booker; the calendar file takes the date out again."""
    from publikum.bookings import mails
    from publikum.bookings.models import Booking, BookingStatus

    booking = Booking.objects.filter(pk=booking_id, status=BookingStatus.CANCELLED).first()
    if booking is None:
        return False
    mails.send_cancellation(booking)
    return True


@job()
def notify_date_cancelled(*, occurrence_id: int) -> int:
    """The house cancelled a date: one mail job per confirmed booking of it.

    Call after the date's status is `cancelled` (the programme does, on commit). Safe to run
    twice: each booking is told once (see `send_date_cancelled`).
    """
    from publikum.bookings.models import Booking, BookingStatus
    from publikum.programme.models import Occurrence, OccurrenceStatus

    if not Occurrence.objects.filter(pk=occurrence_id, status=OccurrenceStatus.CANCELLED).exists():
        return 0
    ids = list(
        Booking.objects.filter(occurrence_id=occurrence_id, status=BookingStatus.CONFIRMED)
        .exclude(email="")
        .values_list("pk", flat=True)
    )
    for booking_id in ids:
        send_date_cancelled.enqueue(booking_id=booking_id)
    return len(ids)


DATE_CANCELLED_NOTICE = "bookings.booking.date_cancelled_notice"


@job()
def send_date_cancelled(*, booking_id: int) -> bool:
    """Tell one booking holder that the date was cancelled, once (the audit log remembers)."""
    from django.db import transaction

    from publikum.bookings import mails
    from publikum.bookings.models import Booking
    from publikum.core.models import AuditEntry
    from publikum.core.services import audit_log

    booking = Booking.objects.filter(pk=booking_id).select_related("organisation").first()
    if booking is None:
        return False
    told = AuditEntry.objects.filter(
        organisation=booking.organisation,
        action=DATE_CANCELLED_NOTICE,
        object_type="bookings.booking",
        object_id=str(booking.pk),
    )
    if told.exists():
        return False
    mails.send_date_cancelled(booking)
    with transaction.atomic():
        audit_log(
            booking.organisation,
            DATE_CANCELLED_NOTICE,
            obj=booking,
            data={"occurrence_id": booking.occurrence_id},
        )
    return True


@job()
def request_subscription(
    *, contact_id: int, purposes: list[str], language: str, link_base: str = ""
) -> bool:
    """Start the double opt-in for what a booker ticked: a mail with a confirmation link."""
    from publikum.audience.consent import subscription_create
    from publikum.audience.models import Contact

    contact = Contact.objects.filter(pk=contact_id, erased_at__isnull=True).first()
    if contact is None or not contact.email:
        return False
    subscription_create(
        organisation=contact.organisation,
        email=contact.email,
        purposes=purposes,
        language=contact.language,
        first_name=contact.first_name,
        shown_in=language,
        link_base=link_base,
    )
    return True


@job()
def offer_waitlist_seats(*, occurrence_id: int) -> int:
    from publikum.bookings.services import waitlist_offer_seats

    return len(waitlist_offer_seats(occurrence_id=occurrence_id))


@job()
def send_waitlist_offer(*, entry_id: int) -> bool:
    from publikum.bookings import mails
    from publikum.bookings.models import WaitlistEntry, WaitlistStatus

    entry = WaitlistEntry.objects.filter(pk=entry_id, status=WaitlistStatus.OFFERED).first()
    if entry is None:
        return False
    mails.send_waitlist_offer(entry)
    return True


@periodic("bookings.waitlist_expiry", every=timedelta(minutes=5))
@job(queue_name="periodic")
def expire_waitlist_offers() -> int:
    """Offers that ran out free their seats for the next people waiting."""
    from publikum.bookings.services import occurrences_with_expired_offers

    ids = occurrences_with_expired_offers()
    for occurrence_id in ids:
        offer_waitlist_seats.enqueue(occurrence_id=occurrence_id)
    return len(ids)
