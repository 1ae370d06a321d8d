"""Signed links of bookings: the booking's own page and a waiting-list offer.

A booking link is `/<org>/bookings/<code>/<token>/`: the token is a signature (Django's
signing, HMAC-SHA256 over SECRET_KEY, under its own salt) of the organisation id and the
booking code, so a code alone opens nothing, and a token of one house or one booking is
worthless for another. It never expires (people open old mails) and stops working when the
person is erased (the booking no longer has an address).

An offer link is `/<org>/waitlist/<entry_id>/<token>/`: the signature binds organisation,
entry and the moment of the offer, so a link of an expired offer never revives.

All links are paths; `absolute()` puts the scheme and host in front for mails.
"""

from __future__ import annotations

from datetime import UTC

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from publikum.bookings.models import Booking, WaitlistEntry
from publikum.core.models import Organisation

BOOKING_SALT = "publikum.bookings.booking-link"
OFFER_SALT = "publikum.bookings.waitlist-offer"


def _signature(salt: str, value: str) -> str:
    return signing.Signer(salt=salt).signature(value)


def _matches(token: str, expected: str) -> bool:
    return bool(token) and len(token) < 200 and constant_time_compare(token, expected)


# --- the booking's own page ------------------------------------------------------------------


def booking_token(booking: Booking) -> str:
    return _signature(BOOKING_SALT, f"{booking.organisation_id}:{booking.code}")


def booking_token_valid(*, organisation: Organisation, code: str, token: str) -> bool:
    return _matches(token, _signature(BOOKING_SALT, f"{organisation.pk}:{code}"))


def _signed_booking_path(name: str, booking: Booking) -> str:
    kwargs = {"org": booking.organisation.slug, "code": booking.code}
    return reverse(name, kwargs={**kwargs, "token": booking_token(booking)})


def booking_path(booking: Booking) -> str:
    return _signed_booking_path("public_booking", booking)


def booking_cancel_path(booking: Booking) -> str:
    return _signed_booking_path("public_booking_cancel", booking)


def booking_confirmed_path(booking: Booking) -> str:
    return _signed_booking_path("public_booking_confirmed", booking)


# --- a waiting-list offer ----------------------------------------------------------------------


def _offer_value(organisation_id: int, entry_id: int, offered_at: str) -> str:
    return f"{organisation_id}:{entry_id}:{offered_at}"


def _offered_stamp(entry: WaitlistEntry) -> str:
    return entry.offered_at.astimezone(UTC).isoformat() if entry.offered_at else "-"


def offer_token(entry: WaitlistEntry) -> str:
    return _signature(
        OFFER_SALT, _offer_value(entry.organisation_id, entry.pk, _offered_stamp(entry))
    )


def offer_token_valid(*, entry: WaitlistEntry, token: str) -> bool:
    expected = _signature(
        OFFER_SALT, _offer_value(entry.organisation_id, entry.pk, _offered_stamp(entry))
    )
    return entry.offered_at is not None and _matches(token, expected)


def offer_path(entry: WaitlistEntry) -> str:
    return reverse(
        "public_waitlist_offer",
        kwargs={
            "org": entry.organisation.slug,
            "entry_id": entry.pk,
            "token": offer_token(entry),
        },
    )


# --- absolute links for mails --------------------------------------------------------------


def absolute(path: str, link_base: str = "") -> str:
    """`path` with scheme and host: the request's (`link_base`) or PUBLIKUM_PUBLIC_URL."""
    base = (link_base or settings.PUBLIC_URL or "").rstrip("/")
    return base + path
