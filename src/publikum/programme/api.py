"""REST endpoints of the programme: events (programme items) with their dates.

Every token may read; writing needs the role editor or higher. The endpoints call the same
services as the staff pages (`programme.services`), so the checks and audit entries are
the same. Times without an offset are read as the organisation's local time; answers give
times with the offset of the organisation's time zone.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import ConfigDict, Field, StrictInt

from publikum.bookings.selectors import free_seats, with_seats
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.errors import ValidationFailed
from publikum.core.models import Role
from publikum.programme import services, staff_selectors
from publikum.programme.models import Occurrence, ProgrammeItem
from publikum.programme.recurrence import MAX_DATES_PER_RULE, RecurrenceRule
from publikum.programme.services import zone_of

router = Router(tags=["events"])

WRITE_ERRORS: dict[int, type[Schema]] = {**ERRORS, 409: ErrorOut}

Kind = Literal["exhibition", "performance", "concert", "tour", "workshop", "talk"]
TargetGroupCode = Literal["children", "families", "seniors", "schools", "groups", "adults"]
FeatureCode = Literal["wheelchair", "induction_loop", "sign_language", "easy_language"]


# --- schemas: out ------------------------------------------------------------------------------


def _local(value: datetime, context: Any) -> datetime:
    request = (context or {}).get("request")
    organisation = getattr(request, "organisation", None)
    return value.astimezone(zone_of(organisation)) if organisation is not None else value


class PriceCategoryOut(Schema):
    id: int
    name_de: str
    name_en: str
    price_eur: Decimal = Field(examples=["12.50"])


class VenueOut(Schema):
    id: int
    name_de: str
    name_en: str
    street: str
    postcode: str
    city: str
    country: str


class DateOut(Schema):
    id: int
    starts_at: datetime = Field(examples=["2027-03-07T11:00:00+01:00"])
    ends_at: datetime
    capacity: int
    status: Literal["scheduled", "sold_out", "cancelled"]
    sold: int = Field(description="Seats in confirmed bookings.")
    held: int = Field(description="Seats held for waiting-list offers that have not expired.")
    free: int = Field(description="Seats that can still be booked.")

    @staticmethod
    def resolve_starts_at(obj: Occurrence, context: Any) -> datetime:
        return _local(obj.starts_at, context)

    @staticmethod
    def resolve_ends_at(obj: Occurrence, context: Any) -> datetime:
        return _local(obj.ends_at, context)

    @staticmethod
    def resolve_sold(obj: Occurrence) -> int:
        return int(getattr(obj, "seats_sold", 0))

    @staticmethod
    def resolve_held(obj: Occurrence) -> int:
        return int(getattr(obj, "seats_held", 0))

    @staticmethod
    def resolve_free(obj: Occurrence) -> int:
        return free_seats(obj)


class EventSummaryOut(Schema):
    id: int
    slug: str
    kind: Kind
    title_de: str
    title_en: str
    summary_de: str
    summary_en: str
    themes: list[str] = Field(description="Slugs of the event's themes.")
    venue_id: int | None
    bookable: bool
    published: bool
    next_start: datetime | None = Field(
        description="Start of the next date that is not cancelled; null if there is none."
    )
    upcoming_dates: int = Field(description="Number of upcoming dates that are not cancelled.")

    @staticmethod
    def resolve_themes(obj: ProgrammeItem) -> list[str]:
        return [t.slug for t in obj.themes.all()]

    @staticmethod
    def resolve_next_start(obj: ProgrammeItem, context: Any) -> datetime | None:
        value = getattr(obj, "next_start", None)
        return _local(value, context) if value else None

    @staticmethod
    def resolve_upcoming_dates(obj: ProgrammeItem) -> int:
        return int(getattr(obj, "upcoming_count", 0))


class EventOut(Schema):
    id: int
    slug: str
    kind: Kind
    title_de: str
    title_en: str
    summary_de: str
    summary_en: str
    description_de: str
    description_en: str
    themes: list[str] = Field(description="Slugs of the event's themes.")
    target_groups: list[str]
    accessibility: list[str]
    venue: VenueOut | None
    bookable: bool
    published: bool
    image_url: str | None = Field(description="Absolute address of the image, if it has one.")
    image_alt_de: str
    image_alt_en: str
    price_categories: list[PriceCategoryOut]
    dates: list[DateOut] = Field(description="All dates, in time order, with their seats.")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_themes(obj: ProgrammeItem) -> list[str]:
        return [t.slug for t in obj.themes.all()]

    @staticmethod
    def resolve_price_categories(obj: ProgrammeItem) -> list[Any]:
        return list(obj.price_categories.all())

    @staticmethod
    def resolve_dates(obj: ProgrammeItem) -> list[Occurrence]:
        return list(staff_selectors.dates_of(obj))

    @staticmethod
    def resolve_image_url(obj: ProgrammeItem, context: Any) -> str | None:
        if not obj.image:
            return None
        request = (context or {}).get("request")
        url = obj.image.url
        return request.build_absolute_uri(url) if request is not None else url


# --- schemas: in -------------------------------------------------------------------------------


class PriceCategoryIn(StrictSchema):
    name_de: str = Field(max_length=100, examples=["Regulär"])
    name_en: str = Field(default="", max_length=100, examples=["Regular"])
    price_eur: Decimal = Field(ge=0, max_digits=8, decimal_places=2, examples=["12.50"])


class DateIn(StrictSchema):
    starts_at: datetime = Field(
        description="Start; without an offset it is read as the organisation's local time.",
        examples=["2027-03-07T11:00:00+01:00"],
    )
    ends_at: datetime = Field(
        description="End; not before the start.", examples=["2027-03-07T12:30:00+01:00"]
    )
    capacity: StrictInt = Field(ge=0, description="Seats that can be booked.", examples=[25])


EVENT_EXAMPLE: dict[str, Any] = {
    "kind": "tour",
    "title_de": "Führung durch die Altstadt",
    "title_en": "Old town tour",
    "summary_de": "Eine Stunde durch acht Jahrhunderte Stadtgeschichte.",
    "themes": ["stadtgeschichte"],
    "target_groups": ["adults", "seniors"],
    "accessibility": ["wheelchair"],
    "venue_id": 1,
    "price_categories": [
        {"name_de": "Regulär", "name_en": "Regular", "price_eur": "12.00"},
        {"name_de": "Ermäßigt", "name_en": "Reduced", "price_eur": "8.00"},
    ],
    "dates": [
        {
            "starts_at": "2027-03-07T11:00:00+01:00",
            "ends_at": "2027-03-07T12:00:00+01:00",
            "capacity": 25,
        }
    ],
}


class EventIn(StrictSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [EVENT_EXAMPLE]},  # type: ignore[list-item]
    )

    kind: Kind = Field(default="performance", description="What kind of event this is.")
    title_de: str = Field(max_length=200, description="German title (required).")
    title_en: str = Field(default="", max_length=200)
    summary_de: str = Field(default="", max_length=2000)
    summary_en: str = Field(default="", max_length=2000)
    description_de: str = ""
    description_en: str = ""
    slug: str | None = Field(
        default=None,
        max_length=120,
        description="Part of the public address; made from the German title when omitted.",
    )
    themes: list[str] = Field(default=[], description="Theme slugs of the organisation.")
    target_groups: list[TargetGroupCode] = []
    accessibility: list[FeatureCode] = []
    venue_id: int | None = Field(default=None, description="A venue of the organisation.")
    bookable: bool = Field(default=True, description="Whether its dates are booked here.")
    published: bool = Field(default=True, description="false: a draft only staff see.")
    price_categories: list[PriceCategoryIn] = Field(
        default=[], description="Prices; names unique. None: admission is free."
    )
    dates: list[DateIn] = Field(
        default=[],
        max_length=MAX_DATES_PER_RULE,
        description="Dates created with the event, in the same transaction.",
    )


class EventPatch(StrictSchema):
    """Only the fields sent change; `price_categories` replaces the whole list."""

    kind: Kind | None = None
    title_de: str | None = Field(default=None, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    summary_de: str | None = Field(default=None, max_length=2000)
    summary_en: str | None = Field(default=None, max_length=2000)
    description_de: str | None = None
    description_en: str | None = None
    slug: str | None = Field(default=None, max_length=120)
    themes: list[str] | None = None
    target_groups: list[TargetGroupCode] | None = None
    accessibility: list[FeatureCode] | None = None
    venue_id: int | None = None
    bookable: bool | None = None
    published: bool | None = None
    image_alt_de: str | None = Field(default=None, max_length=300)
    image_alt_en: str | None = Field(default=None, max_length=300)
    price_categories: list[PriceCategoryIn] | None = Field(
        default=None, description="Replaces the whole price list; a name that stays keeps its id."
    )


class RecurrenceIn(StrictSchema):
    first_start: datetime = Field(
        description="Start of the first date; local time of the organisation without an offset.",
        examples=["2027-03-07T11:00:00"],
    )
    duration_minutes: StrictInt = Field(ge=0, le=60 * 24 * 31, examples=[90])
    freq: Literal["daily", "weekly", "monthly"] = Field(examples=["weekly"])
    interval: StrictInt = Field(default=1, ge=1, le=52, description="Every n days/weeks/months.")
    weekdays: list[StrictInt] = Field(
        default=[],
        description="Weekly rules: 0 = Monday … 6 = Sunday; empty: the first date's weekday.",
        examples=[[6]],
    )
    until: date | None = Field(
        default=None, description="Last day (inclusive, local time).", examples=["2027-06-27"]
    )
    count: StrictInt | None = Field(default=None, ge=1, le=MAX_DATES_PER_RULE)
    capacity: StrictInt = Field(ge=0, examples=[25])


class DatesIn(StrictSchema):
    """Either `dates` (one or more single dates) or `recurrence` (a series)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recurrence": {
                        "first_start": "2027-03-07T11:00:00",
                        "duration_minutes": 90,
                        "freq": "weekly",
                        "weekdays": [6],
                        "until": "2027-06-27",
                        "capacity": 25,
                    }
                }
            ]
        },
    )

    dates: list[DateIn] = Field(default=[], max_length=MAX_DATES_PER_RULE)
    recurrence: RecurrenceIn | None = Field(
        default=None,
        description=(
            "Expanded in the organisation's time zone: every Sunday at 11:00 stays 11:00 "
            f"across daylight saving time. At most {MAX_DATES_PER_RULE} dates."
        ),
    )


class OccurrencePatch(StrictSchema):
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: StrictInt | None = Field(
        default=None, ge=0, description="Never below the seats sold (409 otherwise)."
    )


class EventFilters(Schema):
    kind: Kind | None = None
    theme: str | None = Field(default=None, description="A theme slug.")
    from_: date | None = Field(
        default=None,
        alias="from",
        description="Events with a date on or after this day (organisation's local time).",
    )
    to: date | None = Field(
        default=None, description="Events with a date on or before this day (inclusive)."
    )
    published: bool | None = Field(default=None, description="false: drafts only.")


# --- helpers -----------------------------------------------------------------------------------


def _event(request: HttpRequest, event_id: int) -> ProgrammeItem:
    return staff_selectors.item_get(organisation=org_of(request), item_id=event_id)


def _occurrence(request: HttpRequest, occurrence_id: int) -> Occurrence:
    return staff_selectors.occurrence_get(organisation=org_of(request), occurrence_id=occurrence_id)


def _prices(rows: list[PriceCategoryIn]) -> list[dict[str, Any]]:
    return [row.model_dump() for row in rows]


# --- endpoints ---------------------------------------------------------------------------------


@router.get(
    "/events",
    response={200: list[EventSummaryOut], **ERRORS},
    summary="List events",
    description="Programme items of the organisation, drafts included, by German title.",
)
@paginate(LimitOffsetPagination)
def events_list(request: HttpRequest, filters: Query[EventFilters]) -> Any:
    organisation = org_of(request)
    zone = zone_of(organisation)
    starts_from = datetime.combine(filters.from_, time.min, tzinfo=zone) if filters.from_ else None
    starts_to = (
        datetime.combine(filters.to + timedelta(days=1), time.min, tzinfo=zone)
        if filters.to
        else None
    )
    return staff_selectors.staff_item_list(
        organisation=organisation,
        kind=filters.kind or "",
        theme=filters.theme or "",
        published=filters.published,
        starts_from=starts_from,
        starts_to=starts_to,
    ).prefetch_related("themes")


@router.post(
    "/events",
    response={201: EventOut, **WRITE_ERRORS},
    summary="Create an event with its prices and dates (editor or higher)",
    description=(
        "Creates the event, its price categories and its `dates` in one transaction: if "
        "anything is wrong, nothing is created and the error names every bad field "
        "(e.g. `dates.1.starts_at`). Dates must lie in the future."
    ),
)
def events_create(request: HttpRequest, payload: EventIn) -> Any:
    require_role(request, Role.EDITOR)
    data = payload.model_dump(exclude={"dates", "price_categories"})
    if data.get("slug") is None:
        data.pop("slug", None)
    data["price_categories"] = _prices(payload.price_categories)
    item = services.item_create_with_dates(
        organisation=org_of(request),
        data=data,
        dates=[d.model_dump() for d in payload.dates],
        token=token_of(request),
    )
    return Status(201, _event(request, item.pk))


@router.get(
    "/events/{event_id}",
    response={200: EventOut, **ERRORS},
    summary="An event with its prices and dates (with free seats)",
)
def events_get(request: HttpRequest, event_id: int) -> Any:
    return _event(request, event_id)


@router.patch(
    "/events/{event_id}",
    response={200: EventOut, **WRITE_ERRORS},
    summary="Change an event (editor or higher)",
    description="Only the fields sent change; `price_categories` replaces the whole list.",
)
def events_update(request: HttpRequest, event_id: int, payload: EventPatch) -> Any:
    item = _event(request, event_id)
    require_role(request, Role.EDITOR)
    data = payload.model_dump(exclude_unset=True)
    for name in ("kind", "title_de", "bookable", "published", "themes"):
        if name in data and data[name] is None:
            raise ValidationFailed(f"{name} cannot be null.", fields={name: ["cannot be null"]})
    if payload.price_categories is not None:
        data["price_categories"] = _prices(payload.price_categories)
    elif "price_categories" in data:
        data["price_categories"] = []
    services.item_update(item=item, data=data, token=token_of(request))
    return _event(request, item.pk)


@router.post(
    "/events/{event_id}/dates",
    response={201: list[DateOut], **WRITE_ERRORS},
    summary="Add dates or a series of dates to an event (editor or higher)",
    description=(
        "Send `dates` (single dates) or `recurrence` (a series expanded in the organisation's "
        "time zone), not both. All dates are created, or none."
    ),
)
def events_dates_add(request: HttpRequest, event_id: int, payload: DatesIn) -> Any:
    item = _event(request, event_id)
    require_role(request, Role.EDITOR)
    if bool(payload.dates) == (payload.recurrence is not None):
        raise ValidationFailed(
            "Send either dates or a recurrence.",
            fields={"dates": ["give dates or recurrence"]},
        )
    if payload.recurrence is not None:
        series = payload.recurrence
        created = services.occurrences_create_recurring(
            item=item,
            first_start=series.first_start,
            duration=timedelta(minutes=series.duration_minutes),
            rule=RecurrenceRule(
                freq=series.freq,
                interval=series.interval,
                weekdays=series.weekdays,
                until=series.until,
                count=series.count,
            ),
            capacity=series.capacity,
            token=token_of(request),
        )
    else:
        created = services.occurrences_create_many(
            item=item, dates=[d.model_dump() for d in payload.dates], token=token_of(request)
        )
    return Status(201, list(with_seats(Occurrence.objects.filter(pk__in=[o.pk for o in created]))))


@router.patch(
    "/occurrences/{occurrence_id}",
    response={200: DateOut, **WRITE_ERRORS},
    summary="Move a date or change its capacity (editor or higher)",
    description=(
        "The capacity never drops below the seats sold and held (409 `conflict`); more seats "
        "go to the waiting list. A cancelled date cannot be changed (409)."
    ),
)
def occurrences_update(request: HttpRequest, occurrence_id: int, payload: OccurrencePatch) -> Any:
    occurrence = _occurrence(request, occurrence_id)
    require_role(request, Role.EDITOR)
    services.occurrence_update(
        occurrence=occurrence,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        capacity=payload.capacity,
        token=token_of(request),
    )
    return _occurrence(request, occurrence_id)


@router.post(
    "/occurrences/{occurrence_id}/cancel",
    response={200: DateOut, **WRITE_ERRORS},
    summary="Cancel a date (editor or higher)",
    description=(
        "The date's bookings stay confirmed in the list; the people who booked are told by "
        "the bookings module. A date that has begun or was cancelled already gives 409."
    ),
)
def occurrences_cancel(request: HttpRequest, occurrence_id: int) -> Any:
    occurrence = _occurrence(request, occurrence_id)
    require_role(request, Role.EDITOR)
    services.occurrence_cancel(occurrence=occurrence, token=token_of(request))
    return _occurrence(request, occurrence_id)
