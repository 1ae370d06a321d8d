"""Mails of bookings. Filled in by the public booking flow (confirmation, waiting list)."""

from __future__ import annotations

from publikum.bookings.models import Booking, WaitlistEntry


def send_confirmation(booking: Booking, *, link_base: str = "") -> None:
    raise NotImplementedError


def send_waitlist_offer(entry: WaitlistEntry) -> None:
    raise NotImplementedError
