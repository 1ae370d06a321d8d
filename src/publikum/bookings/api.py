"""REST endpoints of bookings: availability of a date, book, list, get, cancel.

Booking and cancelling through the API is a front-office action: a token with the role
front_desk or higher may do it (the box office's own till, a partner's ticket shop); every
token may read. Both go through the same services as the public booking form.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from ninja import HeaderEx, P, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import Field, StrictInt

from publikum.bookings import idempotency, selectors, services
from publikum.bookings.models import Booking, BookingLine, BookingSource
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.errors import DomainError, NotFound, ValidationFailed
from publikum.core.models import Role
from publikum.programme.models import Occurrence, PriceCategory

router = Router(tags=["bookings"])

WRITE_ERRORS: dict[int, type[Schema]] = {**ERRORS, 409: ErrorOut, 503: ErrorOut}
MAX_ID = 2**63 - 1  # the largest id a database column holds


# --- schemas -----------------------------------------------------------------------------------


class PriceCategoryOut(Schema):
    id: int
    name_de: str
    name_en: str
    price_eur: Decimal


class AvailabilityOut(Schema):
    occurrence_id: int
    item_id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    capacity: int
    sold: int
    held: int = Field(description="Seats held for waiting-list offers that have not expired.")
    free: int
    bookable: bool
    reason: str | None = Field(description="Why the date cannot be booked; null if it can.")
    price_categories: list[PriceCategoryOut]


class BookingContactIn(StrictSchema):
    email: str
    name: str
    language: Literal["de", "en"] | None = Field(
        default=None, description="Language of the mails; default: the organisation's."
    )


class BookingIn(StrictSchema):
    occurrence_id: int
    quantity: StrictInt | None = Field(
        default=None, description="Number of tickets in the first price category."
    )
    per_category: dict[int, StrictInt] | None = Field(
        default=None,
        description='Tickets per price category id, e.g. {"12": 2, "13": 1}; instead of quantity.',
    )
    contact: BookingContactIn
    consents: list[str] = Field(
        default=[],
        description="Purposes the person ticked (newsletter, offers, feedback); each starts "
        "a double opt-in by mail, none is granted by the booking itself.",
    )


class BookingLineOut(Schema):
    price_category_id: int | None
    name_de: str
    name_en: str
    unit_price_eur: Decimal
    quantity: int


class BookingOut(Schema):
    code: str
    status: str
    occurrence_id: int
    quantity: int
    total_eur: Decimal
    lines: list[BookingLineOut]
    contact_id: int | None
    name: str
    email: str
    language: str
    source: str
    created_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None

    @staticmethod
    def resolve_lines(obj: Booking) -> list[BookingLine]:
        return list(obj.lines.all())


class BookingFilters(Schema):
    occurrence_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    status: Literal["confirmed", "cancelled"] | None = None


# --- helpers -----------------------------------------------------------------------------------

# The service names the person's fields as the web form does; in the API they sit in
# "contact", and an integration wants the path it sent.
_CONTACT_FIELDS = {"name", "email", "language"}


def _contact_paths(exc: ValidationFailed) -> ValidationFailed:
    exc.fields = {
        (f"contact.{name}" if name in _CONTACT_FIELDS else name): messages
        for name, messages in exc.fields.items()
    }
    return exc


def _booking(request: HttpRequest, code: str) -> Booking:
    booking = selectors.booking_by_code(organisation=org_of(request), code=code)
    if booking is None:
        raise NotFound("There is no booking with this code.")
    return booking


def _with_lines(booking: Booking) -> Booking:
    """The booking as `GET /bookings/{code}` shows it: its lines loaded in one query."""
    prefetch_related_objects([booking], "lines")
    return booking


# --- endpoints ---------------------------------------------------------------------------------


@router.get(
    "/occurrences/{occurrence_id}/availability",
    response={200: AvailabilityOut, **ERRORS},
    summary="Free seats and prices of a date, and whether it can be booked",
)
def occurrence_availability(request: HttpRequest, occurrence_id: int) -> Any:
    occurrence = (
        Occurrence.objects.select_related("item")
        .filter(pk=occurrence_id, organisation=org_of(request))
        .first()
    )
    if occurrence is None:
        raise NotFound("There is no such date.")
    seats = selectors.seats_of(occurrence)
    reason = None
    try:
        services.check_bookable(occurrence)
    except DomainError as exc:
        reason = exc.message
    if reason is None and seats.free == 0:
        reason = "This date is sold out."
    categories: QuerySet[PriceCategory] = occurrence.item.price_categories.all()
    return {
        "occurrence_id": occurrence.pk,
        "item_id": occurrence.item_id,
        "starts_at": occurrence.starts_at,
        "ends_at": occurrence.ends_at,
        "status": occurrence.status,
        "capacity": seats.capacity,
        "sold": seats.sold,
        "held": seats.held,
        "free": seats.free,
        "bookable": reason is None,
        "reason": reason,
        "price_categories": list(categories),
    }


@router.post(
    "/bookings",
    response={201: BookingOut, **WRITE_ERRORS},
    summary="Book seats of a date (front desk or higher)",
    description=(
        "Give `quantity` (first price category) or `per_category`. Answers 409 `sold_out` "
        "with the number of seats left, 409 `not_bookable` for a cancelled, past or "
        "unbookable date, 503 `busy` when the date's lock was not granted in time (retry). "
        "Send an `Idempotency-Key` header (e.g. a UUID) to retry safely after a timeout: the "
        "same key with the same body returns the booking the first request made (header "
        "`Idempotent-Replayed: true`), never a second one."
    ),
)
def bookings_create(
    request: HttpRequest,
    payload: BookingIn,
    response: HttpResponse,
    idempotency_key: HeaderEx[
        str | None,
        P(alias="Idempotency-Key", description="Any unique string per booking, e.g. a UUID."),
    ] = None,
) -> Any:
    require_role(request, Role.FRONT_DESK)
    organisation = org_of(request)
    key = idempotency.check_key(idempotency_key)
    fingerprint = idempotency.fingerprint_of(payload.model_dump(mode="json")) if key else ""
    earlier = idempotency.booking_for_key(
        organisation=organisation, key=key, fingerprint=fingerprint
    )
    if earlier is not None:
        response["Idempotent-Replayed"] = "true"
        return Status(201, _with_lines(earlier))
    try:
        booking = services.booking_create(
            organisation=organisation,
            occurrence_id=payload.occurrence_id,
            name=payload.contact.name,
            email=payload.contact.email,
            language=payload.contact.language or organisation.language,
            quantity=payload.quantity,
            per_category=payload.per_category,
            consents=payload.consents,
            source=BookingSource.API,
            token=token_of(request),
            link_base=request.build_absolute_uri("/"),
            request_key=key,
            request_fingerprint=fingerprint,
        )
    except ValidationFailed as exc:
        raise _contact_paths(exc) from None
    return Status(201, _with_lines(booking))


@router.get(
    "/bookings",
    response={200: list[BookingOut], **ERRORS},
    summary="List bookings, newest first",
)
@paginate(LimitOffsetPagination)
def bookings_list(request: HttpRequest, filters: Query[BookingFilters]) -> Any:
    bookings = selectors.booking_list(
        organisation=org_of(request), occurrence_id=filters.occurrence_id
    )
    if filters.status:
        bookings = bookings.filter(status=filters.status)
    return bookings.prefetch_related("lines").order_by("-created_at", "-pk")


@router.get("/bookings/{code}", response={200: BookingOut, **ERRORS}, summary="A booking")
def bookings_get(request: HttpRequest, code: str) -> Any:
    return _booking(request, code)


@router.post(
    "/bookings/{code}/cancel",
    response={200: BookingOut, **WRITE_ERRORS},
    summary="Cancel a booking (front desk or higher); its seats are free again",
)
def bookings_cancel(request: HttpRequest, code: str) -> Any:
    booking = _booking(request, code)
    require_role(request, Role.FRONT_DESK)
    cancelled = services.booking_cancel(
        organisation=org_of(request), code=booking.code, via="api", token=token_of(request)
    )
    return _with_lines(cancelled)
