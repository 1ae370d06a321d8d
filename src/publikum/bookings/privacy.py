"""What bookings keep about a person, for the export and the erasure of one contact."""

from __future__ import annotations

from typing import Any

from publikum.audience.models import Contact
from publikum.audience.privacy import register_personal_data
from publikum.bookings.models import Booking, WaitlistEntry


def export_bookings(contact: Contact) -> dict[str, Any]:
    bookings = Booking.objects.filter(contact=contact).select_related("occurrence__item")
    entries = WaitlistEntry.objects.filter(contact=contact).select_related("occurrence__item")
    return {
        "bookings": [
            {
                "code": b.code,
                "event": b.occurrence.item.title_de,
                "starts_at": b.occurrence.starts_at.isoformat(),
                "name": b.name,
                "email": b.email,
                "language": b.language,
                "quantity": b.quantity,
                "total_eur": str(b.total_eur),
                "status": b.status,
                "source": b.source,
                "created_at": b.created_at.isoformat(),
                "cancelled_at": b.cancelled_at.isoformat() if b.cancelled_at else None,
                "checked_in_at": b.checked_in_at.isoformat() if b.checked_in_at else None,
                "lines": [
                    {
                        "category": line.name_de,
                        "quantity": line.quantity,
                        "unit_price_eur": str(line.unit_price_eur),
                    }
                    for line in b.lines.all()
                ],
            }
            for b in bookings
        ],
        "waiting_list": [
            {
                "event": e.occurrence.item.title_de,
                "starts_at": e.occurrence.starts_at.isoformat(),
                "name": e.name,
                "email": e.email,
                "quantity": e.quantity,
                "status": e.status,
                "created_at": e.created_at.isoformat(),
            }
            for e in entries
        ],
    }


def erase_bookings(contact: Contact) -> None:
    """Names and addresses go; the bookings stay, so that seats and figures stay right."""
    Booking.objects.filter(contact=contact).update(name="", email="")
    WaitlistEntry.objects.filter(contact=contact).update(name="", email="")
    if contact.email:
        # Bookings made with the address before the contact existed under it.
        Booking.objects.filter(
            organisation_id=contact.organisation_id, email__iexact=contact.email
        ).update(name="", email="")
        WaitlistEntry.objects.filter(
            organisation_id=contact.organisation_id, email__iexact=contact.email
        ).update(name="", email="")


register_personal_data("bookings", export=export_bookings, erase=erase_bookings)
