"""Reads of bookings: seats of a date, bookings of an organisation, one booking by its code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from publikum.bookings.models import Booking, BookingStatus, WaitlistEntry, WaitlistStatus
from publikum.core.models import Organisation
from publikum.programme.models import Occurrence


@dataclass(frozen=True)
class Seats:
    """Seats of one date: capacity, sold, held for waiting-list offers, and free."""

    capacity: int
    sold: int
    held: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.sold - self.held)


def held_filter(now: datetime | None = None) -> Q:
    """Waiting-list offers that still hold their seats."""
    return Q(status=WaitlistStatus.OFFERED, offer_expires_at__gt=now or timezone.now())


def seats_of(occurrence: Occurrence, *, exclude_entry_id: int | None = None) -> Seats:
    """Seats of one date, counted from the bookings (call while holding the date's lock
    when the answer decides a write). `exclude_entry_id`: the offer being redeemed."""
    sold = (
        Booking.objects.filter(occurrence=occurrence, status=BookingStatus.CONFIRMED).aggregate(
            n=Sum("quantity")
        )["n"]
        or 0
    )
    held_qs = WaitlistEntry.objects.filter(held_filter(), occurrence=occurrence)
    if exclude_entry_id is not None:
        held_qs = held_qs.exclude(pk=exclude_entry_id)
    held = held_qs.aggregate(n=Sum("quantity"))["n"] or 0
    return Seats(capacity=occurrence.capacity, sold=sold, held=held)


def with_seats(queryset: QuerySet[Occurrence]) -> QuerySet[Occurrence]:
    """Annotate `seats_sold` and `seats_held` on each date, in one query."""
    sold = (
        Booking.objects.filter(occurrence=OuterRef("pk"), status=BookingStatus.CONFIRMED)
        .order_by()
        .values("occurrence")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    held = (
        WaitlistEntry.objects.filter(held_filter(), occurrence=OuterRef("pk"))
        .order_by()
        .values("occurrence")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return queryset.annotate(
        seats_sold=Coalesce(Subquery(sold, output_field=IntegerField()), Value(0)),
        seats_held=Coalesce(Subquery(held, output_field=IntegerField()), Value(0)),
    )


def free_seats(occurrence: Occurrence) -> int:
    """Free seats of a date annotated by `with_seats`."""
    sold = getattr(occurrence, "seats_sold", 0)
    held = getattr(occurrence, "seats_held", 0)
    return max(0, occurrence.capacity - sold - held)


def booking_list(
    *, organisation: Organisation, occurrence_id: int | None = None, query: str = ""
) -> QuerySet[Booking]:
    qs = Booking.objects.filter(organisation=organisation).select_related(
        "occurrence", "occurrence__item"
    )
    if occurrence_id is not None:
        qs = qs.filter(occurrence_id=occurrence_id)
    query = query.strip()
    if query:
        qs = qs.filter(
            Q(code__iexact=query.upper()) | Q(name__icontains=query) | Q(email__iexact=query)
        )
    return qs


def booking_by_code(*, organisation: Organisation, code: str) -> Booking | None:
    """The booking with this code in this organisation; None for any other code."""
    code = normalise_code(code)
    if not code:
        return None
    return (
        Booking.objects.filter(organisation=organisation, code=code)
        .select_related("occurrence", "occurrence__item", "occurrence__item__venue", "contact")
        .prefetch_related("lines")
        .first()
    )


def normalise_code(code: str) -> str:
    """What people type or a scanner sends: any case, with spaces or dashes."""
    return "".join(ch for ch in (code or "").upper() if ch.isascii() and ch.isalnum())[:12]


def waitlist_of(occurrence: Occurrence) -> QuerySet[WaitlistEntry]:
    return WaitlistEntry.objects.filter(occurrence=occurrence).order_by("created_at", "pk")


def booking_counts(*, organisation: Organisation) -> dict[str, int]:
    return Booking.objects.filter(organisation=organisation).aggregate(
        confirmed=Count("pk", filter=Q(status=BookingStatus.CONFIRMED)),
        cancelled=Count("pk", filter=Q(status=BookingStatus.CANCELLED)),
        checked_in=Count("pk", filter=Q(checked_in_at__isnull=False)),
    )
