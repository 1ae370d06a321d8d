"""Idempotency keys of booking requests: a retried request gets its first booking back.

A client that sent `POST /api/v1/bookings` and timed out cannot know whether the booking
was made. It sends the request again with the same `Idempotency-Key` header and gets the
booking the first request made, never a second one (the semantics of the IETF draft
"The Idempotency-Key HTTP Header Field"). The key is written in the booking's own
transaction, while the date's row is locked (`bookings.services.booking_create`), so a key
exists exactly when its booking does; the unique constraint is the final guard against two
requests with one key for two different dates.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError
from django.utils.crypto import salted_hmac

from publikum.bookings.models import Booking, BookingRequestKey
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import Organisation

MAX_KEY_LENGTH = 200


class KeyInUse(Conflict):
    """Another request with the same key is being carried out right now."""

    code = "idempotency_key_in_use"


def check_key(key: str | None) -> str:
    """The key as sent, or "" for none; ValidationFailed for an unusable one."""
    if key is None:
        return ""
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " < ch < "\x7f" for ch in key):
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters "
            "without spaces (a UUID is a good choice).",
            fields={"Idempotency-Key": ["invalid"]},
        )
    return key


def fingerprint_of(body: Any) -> str:
    """A keyed hash of the request body: equal bodies, equal fingerprints. Keyed with the
    SECRET_KEY, so that the stored value does not reveal the address in the body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return salted_hmac("publikum.bookings.request-key", canonical, algorithm="sha256").hexdigest()


def booking_for_key(*, organisation: Organisation, key: str, fingerprint: str) -> Booking | None:
    """The booking an earlier request with this key made, or None. ValidationFailed when
    the key was used for a request with another body."""
    if not key:
        return None
    found = (
        BookingRequestKey.objects.filter(organisation=organisation, key=key)
        .select_related("booking")
        .first()
    )
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was already used for a different request; "
            "use a new key for a new booking.",
            fields={"Idempotency-Key": ["used for a different request"]},
        )
    return found.booking


def remember_key(
    *, organisation: Organisation, key: str, fingerprint: str, booking: Booking
) -> None:
    """Record the key of the request that made `booking` (inside the booking's transaction).
    KeyInUse if a concurrent request with the same key got there first: the whole booking
    is then rolled back, and the client's retry gets the other request's booking."""
    # No savepoint: on a duplicate the whole booking transaction is rolled back anyway.
    try:
        BookingRequestKey.objects.create(
            organisation=organisation, key=key, fingerprint=fingerprint, booking=booking
        )
    except IntegrityError as exc:
        raise KeyInUse(
            "Another request with this Idempotency-Key is being processed; "
            "retry it in a moment to get its result.",
            fields={"Idempotency-Key": ["in use"]},
        ) from exc
