"""Writes of bookings: book, cancel, check in, and the waiting list of a sold-out date.

How a date is never oversold (learned from pretix's quota handling): every write that
changes the seats of a date runs in one durable transaction that first locks the date's row
(`SELECT ... FOR UPDATE`), then counts the seats from the bookings themselves, then writes.
Two requests for the same date queue on the lock; requests for other dates do not wait.
A lock that is not granted within `BOOKINGS_LOCK_TIMEOUT_MS` is retried a bounded number
of times, then the visitor gets a clear "try again" answer (503), never a wrong one.

The web form, the API, the assistant and the front desk all book through `booking_create`.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from publikum.audience.models import Contact, InteractionKind, Purpose
from publikum.audience.services import contact_create, interaction_record, normalise_email
from publikum.bookings import idempotency
from publikum.bookings.models import (
    Booking,
    BookingLine,
    BookingSource,
    BookingStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from publikum.bookings.selectors import Seats, held_filter, normalise_code, seats_of
from publikum.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from publikum.core.models import ApiToken, Organisation, User
from publikum.core.services import audit_log
from publikum.programme.models import Occurrence, OccurrenceStatus, PriceCategory

logger = logging.getLogger(__name__)

# No 0/O and 1/I: a code is read aloud on the phone and typed at the front desk.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
LOCK_ATTEMPTS = 3
CODE_ATTEMPTS = 5
NO_PRICE = Decimal("0.00")

T = TypeVar("T")


class SoldOut(Conflict):
    code = "sold_out"


class DateNotBookable(Conflict):
    code = "not_bookable"


class Busy(DomainError):
    """The date's lock was not granted in time, even after retrying."""

    code = "busy"
    status = 503


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# --- the lock ------------------------------------------------------------------------------


def _date(organisation: Organisation, occurrence_id: int) -> Occurrence:
    """The date with its item, not locked: for checks that the locked part repeats or that
    do not depend on the seats."""
    occurrence = (
        Occurrence.objects.select_related("item")
        .filter(pk=occurrence_id, organisation=organisation)
        .first()
    )
    if occurrence is None:
        raise NotFound("There is no such date.")
    return occurrence


def _set_lock_timeout() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(settings.BOOKINGS_LOCK_TIMEOUT_MS)}")


def _locked_date(organisation: Organisation, occurrence_id: int) -> Occurrence:
    """The date, locked for the rest of the transaction (call inside `transaction.atomic`)."""
    _set_lock_timeout()
    queryset = Occurrence.objects.select_related("item", "item__venue")
    if settings.BOOKINGS_LOCK_DATES:
        queryset = queryset.select_for_update(of=("self",))
    occurrence = queryset.filter(pk=occurrence_id, organisation=organisation).first()
    if occurrence is None:
        raise NotFound("There is no such date.")
    return occurrence


def _lock_date(occurrence: Occurrence) -> None:
    """Lock the row of a date read earlier in this transaction (`_date`), as `_locked_date`
    does, and refresh what a booking decides on: status, capacity and start. One statement
    on the date's own row instead of reading it again with its item and venue."""
    _set_lock_timeout()
    queryset = Occurrence.objects.filter(pk=occurrence.pk)
    if settings.BOOKINGS_LOCK_DATES:
        queryset = queryset.select_for_update()
    row = queryset.values_list("status", "capacity", "starts_at").first()
    if row is None:
        raise NotFound("There is no such date.")
    occurrence.status, occurrence.capacity, occurrence.starts_at = row


# The recount of `seats_of` (confirmed bookings, offers that still hold seats) in one
# statement: it runs under the date's lock on every booking, where the ORM spent about ten
# times the CPU of the statement itself compiling two aggregates. Keep both in step.
_RECOUNT_SQL = (
    "SELECT"
    " (SELECT COALESCE(SUM(quantity), 0) FROM {bookings}"
    " WHERE occurrence_id = %s AND status = %s),"
    " (SELECT COALESCE(SUM(quantity), 0) FROM {entries}"
    " WHERE occurrence_id = %s AND status = %s AND offer_expires_at > %s AND id <> %s)"
)


def _seats_now(occurrence: Occurrence, *, exclude_entry_id: int | None = None) -> Seats:
    """`seats_of(occurrence, exclude_entry_id=...)` in one cheap statement. Call while
    holding the date's lock, after it was granted: a statement that started before would
    count from an older snapshot."""
    quote = connection.ops.quote_name
    sql = _RECOUNT_SQL.format(
        bookings=quote(Booking._meta.db_table), entries=quote(WaitlistEntry._meta.db_table)
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                occurrence.pk,
                BookingStatus.CONFIRMED.value,
                occurrence.pk,
                WaitlistStatus.OFFERED.value,
                now,
                exclude_entry_id or 0,
            ],
        )
        sold, held = cursor.fetchone()
    return Seats(capacity=occurrence.capacity, sold=int(sold), held=int(held))


def _with_lock_retry(write: Callable[[], T]) -> T:
    """Run `write` in a durable transaction; retry a bounded number of times when the lock
    of the date is not granted in time (PostgreSQL) or the database is busy (SQLite)."""
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic(durable=True):
                return write()
        except OperationalError as exc:
            if attempt == LOCK_ATTEMPTS:
                logger.warning("booking gave up after %s lock timeouts: %s", attempt, exc)
                raise Busy(
                    "Many people are booking this date right now. Please try again in a moment."
                ) from exc
            time.sleep(random.uniform(0.05, 0.2) * attempt)
    raise AssertionError("unreachable")


# --- booking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    category: PriceCategory | None
    quantity: int


def _check_person(name: str, email: str, language: str) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = ["required"]
    elif len(name) > 200:
        errors["name"] = ["at most 200 characters"]
    try:
        email = normalise_email(email)
        if not email:
            errors["email"] = ["required"]
    except ValidationFailed:
        errors["email"] = ["invalid e-mail"]
    if language not in {"de", "en"}:
        errors["language"] = ["must be 'de' or 'en'"]
    if errors:
        raise ValidationFailed(
            "Please check: " + ", ".join(f"{k} ({v[0]})" for k, v in errors.items()) + ".",
            fields=errors,
        )
    return name, email, language


def _check_quantity(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number.", fields={field: ["not a number"]})
    if value < 0:
        raise ValidationFailed(f"{field} cannot be negative.", fields={field: ["negative"]})
    return value


def _lines_for(
    occurrence: Occurrence, quantity: int | None, per_category: Mapping[int, int] | None
) -> list[Line]:
    """The lines of a booking: a total (first price category) or quantities per category."""
    # A plain query: `prefetch_related` costs more CPU for the same statement.
    categories = {c.pk: c for c in PriceCategory.objects.filter(item_id=occurrence.item_id)}
    if (quantity is None) == (per_category is None):
        raise ValidationFailed(
            "Give either a quantity or quantities per price category.",
            fields={"quantity": ["give quantity or per_category"]},
        )
    if per_category is None:
        total = _check_quantity(quantity, "quantity")
        first = next(iter(categories.values()), None)
        lines = [Line(first, total)] if total else []
    else:
        lines = []
        for key, value in per_category.items():
            count = _check_quantity(value, f"per_category.{key}")
            category = categories.get(int(key)) if str(key).isdigit() else None
            if category is None:
                raise ValidationFailed(
                    f"Price category {key} does not belong to this date.",
                    fields={"per_category": [f"unknown price category {key}"]},
                )
            if count:
                lines.append(Line(category, count))
    total = sum(line.quantity for line in lines)
    if total < 1:
        raise ValidationFailed(
            "Please book at least one ticket.", fields={"quantity": ["at least 1"]}
        )
    limit = settings.BOOKINGS_MAX_TICKETS
    if total > limit:
        raise ValidationFailed(
            f"At most {limit} tickets per booking; for groups, please contact us.",
            fields={"quantity": [f"at most {limit}"]},
        )
    return lines


def check_bookable(occurrence: Occurrence, *, now: datetime | None = None) -> None:
    """Raise DateNotBookable with the reason a visitor would need."""
    now = now or timezone.now()
    if occurrence.status == OccurrenceStatus.CANCELLED:
        raise DateNotBookable("This date has been cancelled.")
    if not occurrence.item.bookable or not occurrence.item.published:
        raise DateNotBookable("This date cannot be booked here.")
    if occurrence.starts_at <= now:
        raise DateNotBookable("This date has already begun or is over.")


def _sold_out(seats: Seats, wanted: int) -> SoldOut:
    if seats.free == 0:
        return SoldOut("This date is sold out. You can join the waiting list.")
    return SoldOut(
        f"Only {seats.free} seat{'s' if seats.free != 1 else ''} left; {wanted} were requested."
    )


def _contact_for(organisation: Organisation, name: str, email: str, language: str) -> Contact:
    """The person with this address; a new contact for a new address. A known contact's
    data is not changed: anyone can type any address into a booking form.

    `contact_create` is atomic itself and refuses a taken address (`Conflict`) before it
    writes, so a contact created meanwhile by another booking needs no savepoint here.
    """
    existing = (
        Contact.objects.filter(
            organisation=organisation, email__iexact=email, erased_at__isnull=True
        )
        .order_by("pk")
        .first()
    )
    if existing is not None:
        return existing
    first, _, last = name.rpartition(" ")
    if not first:
        first, last = last, ""
    try:
        return contact_create(
            organisation=organisation,
            email=email,
            first_name=first[:100],
            last_name=last[:100],
            language=language,
            source="booking",
        )
    except Conflict:
        return Contact.objects.get(
            organisation=organisation, email__iexact=email, erased_at__isnull=True
        )


def _check_consents(consents: list[str] | None) -> list[str]:
    consents = list(dict.fromkeys(consents or []))
    unknown = [c for c in consents if c not in Purpose.values]
    if unknown:
        raise ValidationFailed(
            f"Unknown consent purpose: {', '.join(unknown)}.",
            fields={"consents": [f"unknown purpose {u}" for u in unknown]},
        )
    return consents


def booking_create(
    *,
    organisation: Organisation,
    occurrence_id: int,
    name: str,
    email: str,
    language: str = "de",
    quantity: int | None = None,
    per_category: Mapping[int, int] | None = None,
    consents: list[str] | None = None,
    source: str = BookingSource.WEB,
    waitlist_entry_id: int | None = None,
    actor: User | None = None,
    token: ApiToken | None = None,
    link_base: str = "",
    request_key: str = "",
    request_fingerprint: str = "",
) -> Booking:
    """Book seats of a date, or raise: ValidationFailed (bad input), NotFound (no such date
    in this organisation), DateNotBookable, SoldOut (not enough free seats), Busy.

    `consents` are the purposes the person ticked; each starts a double opt-in (a mail with
    a confirmation link), it grants nothing by itself. `waitlist_entry_id` redeems an offer
    from the waiting list: the seats it holds count as free for this booking only.
    `request_key` (the API's Idempotency-Key) returns the booking an earlier request with
    the same key made instead of booking again (`bookings.idempotency`).
    """
    name, email, language = _check_person(name, email, language)
    consents = _check_consents(consents)
    if source not in BookingSource.values:
        raise ValidationFailed(f"Unknown source '{source}'.", fields={"source": ["unknown"]})

    def write() -> Booking:
        # What needs no lock comes first (prices, the booker's contact), so that the date's
        # lock is held only for the recount and the writes that depend on it: every other
        # booking of the date waits that long. A refusal rolls all of it back.
        occurrence = _date(organisation, occurrence_id)
        check_bookable(occurrence)
        lines = _lines_for(occurrence, quantity, per_category)
        wanted = sum(line.quantity for line in lines)
        total = sum(
            ((line.category.price_eur if line.category else Decimal(0)) * line.quantity)
            for line in lines
        )
        contact = _contact_for(organisation, name, email, language)
        # The timeline entry needs only the code, drawn now: written before the lock, its
        # six statements (two of them savepoints) do not hold up the date's queue.
        code = new_code()
        interaction_record(
            contact=contact,
            kind=InteractionKind.BOOKING,
            occurrence=occurrence,
            quantity=wanted,
            amount_eur=total,
            summary=code,
            data={"booking": code, "source": source},
        )

        _lock_date(occurrence)
        earlier = idempotency.booking_for_key(
            organisation=organisation, key=request_key, fingerprint=request_fingerprint
        )
        if earlier is not None:
            raise _Replayed(earlier)  # rolls back the timeline entry written for nothing
        check_bookable(occurrence)  # again: the date may have been cancelled meanwhile
        entry = None
        if waitlist_entry_id is not None:
            entry = _redeemable_offer(occurrence, waitlist_entry_id, wanted)
        seats = _seats_now(occurrence, exclude_entry_id=entry.pk if entry else None)
        if wanted > seats.free:
            raise _sold_out(seats, wanted)
        if settings.BOOKINGS_RACE_PAUSE_SECONDS:  # only the control test sets it
            time.sleep(settings.BOOKINGS_RACE_PAUSE_SECONDS)
        booking = _insert_booking(
            code=code,
            organisation=organisation,
            occurrence=occurrence,
            contact=contact,
            name=name,
            email=email,
            language=language,
            quantity=wanted,
            total_eur=Decimal(total),
            source=source,
        )
        if request_key:
            idempotency.remember_key(
                organisation=organisation,
                key=request_key,
                fingerprint=request_fingerprint,
                booking=booking,
            )
        _remember_lines(
            booking,
            BookingLine.objects.bulk_create(
                [
                    BookingLine(
                        booking=booking,
                        price_category=line.category,
                        name_de=line.category.name_de if line.category else "Ticket",
                        name_en=line.category.name_en if line.category else "Ticket",
                        unit_price_eur=line.category.price_eur if line.category else NO_PRICE,
                        quantity=line.quantity,
                    )
                    for line in lines
                ]
            ),
        )
        if entry is not None:
            entry.status = WaitlistStatus.BOOKED
            entry.booking = booking
            entry.save(update_fields=["status", "booking", "updated_at"])
        if wanted == seats.free and occurrence.status == OccurrenceStatus.SCHEDULED:
            occurrence.status = OccurrenceStatus.SOLD_OUT
            occurrence.save(update_fields=["status", "updated_at"])
        audit_log(
            organisation,
            "bookings.booking.created",
            actor=actor,
            token=token,
            obj=booking,
            data={"occurrence_id": occurrence.pk, "quantity": wanted, "source": source},
        )
        _after_commit_mails(booking.pk, contact.pk, consents, language, link_base)
        from publikum.journeys import triggers as journey_triggers  # acts after commit

        journey_triggers.booking_made(booking)
        return booking

    for _ in range(CODE_ATTEMPTS):
        try:
            return _with_lock_retry(write)
        except _CodeTaken:
            continue
        except _Replayed as replayed:
            return replayed.booking
    raise Conflict("Could not allocate a booking code; please try again.")


class _CodeTaken(Exception):
    """The fresh booking code belongs to another booking already."""


class _Replayed(Exception):
    """An earlier request with the same Idempotency-Key made this booking: roll back what
    this one wrote before it got the lock, answer with that booking."""

    def __init__(self, booking: Booking) -> None:
        super().__init__(booking.code)
        self.booking = booking


def _insert_booking(*, code: str, **fields: Any) -> Booking:
    """Insert with a fresh code. Without a savepoint (two statements on every booking): a
    collision, about one in 10^12 per pair of codes, aborts the transaction, and
    `booking_create` runs it again from the start with a new code."""
    try:
        return Booking.objects.create(code=code, **fields)
    except IntegrityError as exc:
        raise _CodeTaken from exc


def _remember_lines(booking: Booking, lines: list[BookingLine]) -> None:
    """Keep the lines just written on the booking as `prefetch_related("lines")` would,
    so that showing the booking (the API's answer) does not read them back."""
    queryset = booking.lines.all()
    queryset._result_cache = lines
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    booking._prefetched_objects_cache = {"lines": queryset}  # type: ignore[attr-defined]


def _after_commit_mails(
    booking_id: int, contact_id: int, consents: list[str], language: str, link_base: str
) -> None:
    from publikum.bookings import tasks

    transaction.on_commit(
        lambda: tasks.send_booking_confirmation.enqueue(booking_id=booking_id, link_base=link_base)
    )
    if consents:
        transaction.on_commit(
            lambda: tasks.request_subscription.enqueue(
                contact_id=contact_id, purposes=consents, language=language, link_base=link_base
            )
        )


# --- cancellation --------------------------------------------------------------------------


def booking_cancel(
    *,
    organisation: Organisation,
    code: str,
    via: str,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Booking:
    """Cancel a confirmed booking; its seats are free again and the waiting list is offered
    them. `via` says who cancelled ("visitor", "staff", "api"). NotFound for a code of
    another organisation; Conflict if it is already cancelled or the date is over."""
    normalised = normalise_code(code)
    found = Booking.objects.filter(organisation=organisation, code=normalised).first()
    if found is None:
        raise NotFound("There is no booking with this code.")

    def write() -> Booking:
        occurrence = _locked_date(organisation, found.occurrence_id)
        booking = Booking.objects.select_for_update().get(pk=found.pk)
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict("This booking is already cancelled.")
        if occurrence.ends_at <= timezone.now():
            raise Conflict("This date is over; the booking can no longer be cancelled.")
        if booking.checked_in_at is not None:
            raise Conflict("This booking has been checked in; it can no longer be cancelled.")
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at", "updated_at"])
        if occurrence.status == OccurrenceStatus.SOLD_OUT:
            occurrence.status = OccurrenceStatus.SCHEDULED
            occurrence.save(update_fields=["status", "updated_at"])
        if booking.contact_id is not None:
            interaction_record(
                contact=booking.contact,  # type: ignore[arg-type]
                kind=InteractionKind.BOOKING_CANCELLED,
                occurrence=occurrence,
                quantity=booking.quantity,
                summary=booking.code,
                data={"booking": booking.code, "via": via},
            )
        audit_log(
            organisation,
            "bookings.booking.cancelled",
            actor=actor,
            token=token,
            obj=booking,
            data={"occurrence_id": occurrence.pk, "quantity": booking.quantity, "via": via},
        )
        _after_commit_offer(occurrence.pk)
        _after_commit_cancellation_mail(booking.pk)
        return booking

    return _with_lock_retry(write)


def _after_commit_cancellation_mail(booking_id: int) -> None:
    from publikum.bookings import tasks

    transaction.on_commit(lambda: tasks.send_booking_cancellation.enqueue(booking_id=booking_id))


def _after_commit_offer(occurrence_id: int) -> None:
    from publikum.bookings import tasks

    transaction.on_commit(lambda: tasks.offer_waitlist_seats.enqueue(occurrence_id=occurrence_id))


# --- check-in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckIn:
    booking: Booking
    already: bool


def booking_check_in(
    *, organisation: Organisation, code: str, actor: User | None = None, now: datetime | None = None
) -> CheckIn:
    """Mark a booking as arrived and write a visit into the contact's timeline.

    Allowed on the day of the date (in the organisation's time zone). A second scan of
    the same code says when it was first checked in and writes nothing.
    """
    now = now or timezone.now()
    normalised = normalise_code(code)
    if not normalised:
        raise ValidationFailed("Please enter a booking code.", fields={"code": ["required"]})
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("occurrence", "occurrence__item")
            .filter(organisation=organisation, code=normalised)
            .first()
        )
        if booking is None:
            raise NotFound(f"There is no booking with the code {normalised}.")
        if booking.status == BookingStatus.CANCELLED:
            raise Conflict(f"Booking {booking.code} was cancelled.")
        if booking.checked_in_at is not None:
            return CheckIn(booking=booking, already=True)
        if booking.occurrence.status == OccurrenceStatus.CANCELLED:
            raise Conflict(f"The date of booking {booking.code} was cancelled.")
        zone = ZoneInfo(organisation.timezone or settings.TIME_ZONE)
        day = timezone.localtime(booking.occurrence.starts_at, zone).date()
        if day != timezone.localtime(now, zone).date():
            raise Conflict(
                f"Booking {booking.code} is for {day:%d.%m.%Y}, not for today.",
                fields={"code": ["another day"]},
            )
        booking.checked_in_at = now
        booking.checked_in_by = actor
        booking.save(update_fields=["checked_in_at", "checked_in_by", "updated_at"])
        if booking.contact_id is not None:
            interaction_record(
                contact=booking.contact,  # type: ignore[arg-type]
                kind=InteractionKind.VISIT,
                occurred_at=now,
                occurrence=booking.occurrence,
                quantity=booking.quantity,
                summary=booking.code,
                data={"booking": booking.code, "checked_in": True},
            )
            from publikum.journeys import triggers as journey_triggers  # acts after commit

            journey_triggers.checked_in(booking)
        audit_log(organisation, "bookings.booking.checked_in", actor=actor, obj=booking)
    return CheckIn(booking=booking, already=False)


# --- waiting list ----------------------------------------------------------------------------


def waitlist_join(
    *,
    organisation: Organisation,
    occurrence_id: int,
    name: str,
    email: str,
    language: str = "de",
    quantity: int = 1,
) -> WaitlistEntry:
    """Put a person on the waiting list of a date that has fewer free seats than wanted."""
    name, email, language = _check_person(name, email, language)
    quantity = _check_quantity(quantity, "quantity")
    if quantity < 1 or quantity > settings.BOOKINGS_MAX_TICKETS:
        raise ValidationFailed(
            f"Between 1 and {settings.BOOKINGS_MAX_TICKETS} tickets, please.",
            fields={"quantity": ["out of range"]},
        )

    def write() -> WaitlistEntry:
        occurrence = _locked_date(organisation, occurrence_id)
        check_bookable(occurrence)
        if seats_of(occurrence).free >= quantity:
            raise Conflict(
                "There are enough free seats: please book directly.",
                fields={"quantity": ["seats available"]},
            )
        already = WaitlistEntry.objects.filter(
            occurrence=occurrence,
            email__iexact=email,
            status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED],
        ).first()
        if already is not None:
            return already
        contact = _contact_for(organisation, name, email, language)
        entry = WaitlistEntry.objects.create(
            organisation=organisation,
            occurrence=occurrence,
            contact=contact,
            name=name,
            email=email,
            language=language,
            quantity=quantity,
        )
        audit_log(
            organisation,
            "bookings.waitlist.joined",
            obj=entry,
            data={"occurrence_id": occurrence.pk, "quantity": quantity},
        )
        return entry

    return _with_lock_retry(write)


def _redeemable_offer(occurrence: Occurrence, entry_id: int, wanted: int) -> WaitlistEntry:
    entry = (
        WaitlistEntry.objects.select_for_update().filter(pk=entry_id, occurrence=occurrence).first()
    )
    if entry is None:
        raise NotFound("There is no such waiting-list offer.")
    if entry.status == WaitlistStatus.BOOKED:
        raise Conflict("This offer has already been used for a booking.")
    if entry.status != WaitlistStatus.OFFERED or not entry.offer_expires_at:
        raise Conflict("This offer is no longer valid.")
    if entry.offer_expires_at <= timezone.now():
        raise Conflict("This offer has expired. The seats went to the next person waiting.")
    if wanted > entry.quantity:
        raise ValidationFailed(
            f"The offer is for {entry.quantity} ticket(s).",
            fields={"quantity": [f"at most {entry.quantity}"]},
        )
    return entry


def waitlist_offer_seats(*, occurrence_id: int, now: datetime | None = None) -> list[WaitlistEntry]:
    """Offer free seats of a date to the people waiting, first come first served; expire
    offers that ran out first. Returns the entries offered now; their mails go out after
    the commit. Safe to run twice: a second run finds no free seats to offer."""
    now = now or timezone.now()
    occurrence_org = (
        Occurrence.objects.filter(pk=occurrence_id).select_related("organisation").first()
    )
    if occurrence_org is None:
        return []
    organisation = occurrence_org.organisation
    hours = settings.BOOKINGS_WAITLIST_OFFER_HOURS

    def write() -> list[WaitlistEntry]:
        occurrence = _locked_date(organisation, occurrence_id)
        WaitlistEntry.objects.filter(
            occurrence=occurrence, status=WaitlistStatus.OFFERED, offer_expires_at__lte=now
        ).update(status=WaitlistStatus.EXPIRED, updated_at=now)
        if occurrence.status == OccurrenceStatus.CANCELLED or occurrence.starts_at <= now:
            return []
        free = seats_of(occurrence).free
        offered: list[WaitlistEntry] = []
        expires = min(now + timedelta(hours=hours), occurrence.starts_at)
        for entry in WaitlistEntry.objects.filter(
            occurrence=occurrence, status=WaitlistStatus.WAITING
        ).order_by("created_at", "pk"):
            if free <= 0:
                break
            if entry.quantity > free:
                continue  # a smaller request further down may still fit
            entry.status = WaitlistStatus.OFFERED
            entry.offered_at = now
            entry.offer_expires_at = expires
            entry.save(update_fields=["status", "offered_at", "offer_expires_at", "updated_at"])
            free -= entry.quantity
            offered.append(entry)
        if offered:
            from publikum.bookings import tasks

            ids = [e.pk for e in offered]
            transaction.on_commit(
                lambda: [tasks.send_waitlist_offer.enqueue(entry_id=i) for i in ids]  # type: ignore[func-returns-value]
            )
            audit_log(
                organisation,
                "bookings.waitlist.offered",
                obj=occurrence,
                data={"entries": ids},
            )
        return offered

    return _with_lock_retry(write)


def occurrences_with_expired_offers(now: datetime | None = None) -> list[int]:
    """Dates where an offer ran out while seats are still held by it."""
    now = now or timezone.now()
    return list(
        WaitlistEntry.objects.filter(status=WaitlistStatus.OFFERED, offer_expires_at__lte=now)
        .values_list("occurrence_id", flat=True)
        .distinct()
    )


def waitlist_withdraw(
    *, organisation: Organisation, entry_id: int, actor: User | None = None
) -> WaitlistEntry:
    """Take a person off the waiting list; seats their offer held go to the next person."""
    with transaction.atomic():
        entry = (
            WaitlistEntry.objects.select_for_update()
            .filter(pk=entry_id, organisation=organisation)
            .first()
        )
        if entry is None:
            raise NotFound("There is no such waiting-list entry.")
        if entry.status in {WaitlistStatus.WAITING, WaitlistStatus.OFFERED}:
            was_offered = entry.status == WaitlistStatus.OFFERED
            entry.status = WaitlistStatus.WITHDRAWN
            entry.save(update_fields=["status", "updated_at"])
            audit_log(organisation, "bookings.waitlist.withdrawn", actor=actor, obj=entry)
            if was_offered:
                _after_commit_offer(entry.occurrence_id)
    return entry


__all__ = [
    "Busy",
    "CheckIn",
    "DateNotBookable",
    "SoldOut",
    "booking_cancel",
    "booking_check_in",
    "booking_create",
    "check_bookable",
    "held_filter",
    "waitlist_join",
    "waitlist_offer_seats",
    "waitlist_withdraw",
]
