"""Reads of the programme: staff lists, and what the public pages and feeds show.

The public reads show published items and their dates that have not ended yet ("upcoming":
an exhibition that opened last month is still on). Every public list is built in a constant
number of queries, whatever the number of items: seats come from
`bookings.selectors.with_seats`, dates and themes are prefetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)
from django.db.models import Subquery as SubqueryExpr
from django.db.models.functions import Coalesce
from django.utils import timezone

from publikum.bookings.selectors import free_seats, with_seats
from publikum.core.models import Organisation
from publikum.programme.models import (
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
    Venue,
)

# How many dates of an item the programme list shows; the item page shows them all.
DATES_PER_ITEM = 3
# The item page, its JSON-LD and the feeds stop here: a daily tour over a year is 365 dates.
MAX_DATES = 200
# Feeds look this far ahead, and hold at most this many dates.
FEED_DAYS = 366
MAX_FEED_DATES = 3000


def item_list(*, organisation: Organisation) -> QuerySet[ProgrammeItem]:
    return ProgrammeItem.objects.filter(organisation=organisation)


def upcoming_occurrences(*, organisation: Organisation) -> QuerySet[Occurrence]:
    return (
        Occurrence.objects.filter(organisation=organisation, starts_at__gte=timezone.now())
        .select_related("item")
        .order_by("starts_at")
    )


# --- filters of the public programme ------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeFilters:
    """What a visitor narrowed the programme to. Empty values do not filter.

    `date_from` and `date_to` are calendar days in the organisation's time zone, both
    inclusive; a date is shown when it overlaps that span (a running exhibition does)."""

    date_from: date | None = None
    date_to: date | None = None
    kind: str = ""
    theme: str = ""
    target_group: str = ""
    accessibility: str = ""


def zone_of(organisation: Organisation) -> ZoneInfo:
    try:
        return ZoneInfo(organisation.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("Europe/Berlin")


def today_in(organisation: Organisation, now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), zone_of(organisation)).date()


def quick_ranges(today: date) -> dict[str, tuple[date, date]]:
    """The quick choices of the date filter: today, this weekend, the next seven days."""
    weekday = today.weekday()  # Monday 0 ... Sunday 6
    saturday = today + timedelta(days=(5 - weekday) % 7) if weekday < 5 else today
    sunday = saturday + timedelta(days=6 - saturday.weekday())
    return {
        "today": (today, today),
        "weekend": (saturday, sunday),
        "week": (today, today + timedelta(days=6)),
    }


def _dates_q(
    *, organisation: Organisation, filters: ProgrammeFilters, now: datetime, prefix: str = ""
) -> Q:
    """Dates that are not over, within the filtered days."""
    zone = zone_of(organisation)
    q = Q(**{f"{prefix}ends_at__gte": now})
    if filters.date_from:
        start = datetime.combine(filters.date_from, time.min, tzinfo=zone)
        q &= Q(**{f"{prefix}ends_at__gte": start})
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=zone)
        q &= Q(**{f"{prefix}starts_at__lt": end})
    return q


def _item_q(filters: ProgrammeFilters, prefix: str = "") -> Q:
    q = Q(**{f"{prefix}published": True})
    if filters.kind:
        q &= Q(**{f"{prefix}kind": filters.kind})
    if filters.target_group:
        # JSON containment is not portable to SQLite; the codes are plain ASCII words, so
        # the quoted code in the JSON text matches exactly one list element.
        q &= Q(**{f"{prefix}target_groups__icontains": f'"{filters.target_group}"'})
    if filters.accessibility:
        q &= Q(**{f"{prefix}accessibility__icontains": f'"{filters.accessibility}"'})
    return q


def _theme_q(organisation: Organisation, filters: ProgrammeFilters, prefix: str = "") -> Q:
    if not filters.theme:
        return Q()
    return Q(
        **{
            f"{prefix}themes__slug": filters.theme,
            f"{prefix}themes__organisation": organisation,
        }
    )


def public_dates_queryset(
    *, organisation: Organisation, filters: ProgrammeFilters, now: datetime
) -> QuerySet[Occurrence]:
    """Upcoming dates of published items matching `filters`, with seats annotated."""
    qs = Occurrence.objects.filter(
        _dates_q(organisation=organisation, filters=filters, now=now),
        _item_q(filters, prefix="item__"),
        organisation=organisation,
    )
    if filters.theme:
        qs = qs.filter(
            item__in=ProgrammeItem.objects.filter(
                _theme_q(organisation, filters), organisation=organisation
            ).values("pk")
        )
    return with_seats(qs).order_by("starts_at", "pk")


def public_items(
    *, organisation: Organisation, filters: ProgrammeFilters, now: datetime | None = None
) -> QuerySet[ProgrammeItem]:
    """Published items with at least one matching upcoming date, soonest first.

    Each item carries `next_start`, `date_count` (matching dates) and, once evaluated,
    `listed_dates`: its first DATES_PER_ITEM matching dates with seats annotated. Venue and
    themes come along; a page of items costs the same handful of queries at any size."""
    now = now or timezone.now()
    dates = Occurrence.objects.filter(
        _dates_q(organisation=organisation, filters=filters, now=now), item=OuterRef("pk")
    )
    first_start = dates.order_by().values("item").annotate(first=Min("starts_at")).values("first")
    count = dates.order_by().values("item").annotate(n=Count("pk")).values("n")
    listed = with_seats(
        Occurrence.objects.filter(_dates_q(organisation=organisation, filters=filters, now=now))
    ).order_by("starts_at", "pk")[:DATES_PER_ITEM]
    qs = ProgrammeItem.objects.filter(
        _item_q(filters), _theme_q(organisation, filters), organisation=organisation
    )
    return (
        qs.filter(Exists(dates))
        .annotate(
            next_start=SubqueryExpr(first_start),
            date_count=Coalesce(SubqueryExpr(count, output_field=IntegerField()), 0),
        )
        .select_related("venue")
        .prefetch_related(
            "themes", Prefetch("occurrences", queryset=listed, to_attr="listed_dates")
        )
        .order_by("next_start", "pk")
    )


def public_item(*, organisation: Organisation, slug: str) -> ProgrammeItem | None:
    """The published item with this slug in this organisation, or None."""
    return (
        ProgrammeItem.objects.filter(organisation=organisation, slug=slug, published=True)
        .select_related("venue")
        .prefetch_related("themes", "price_categories")
        .first()
    )


def public_dates_of(item: ProgrammeItem, *, now: datetime | None = None) -> list[Occurrence]:
    """The item's dates that have not ended, with seats, at most MAX_DATES."""
    qs = with_seats(Occurrence.objects.filter(item=item, ends_at__gte=now or timezone.now()))
    dates = list(qs.order_by("starts_at", "pk")[:MAX_DATES])
    for occurrence in dates:
        occurrence.item = item
    return dates


def feed_dates(
    *, organisation: Organisation, filters: ProgrammeFilters, now: datetime | None = None
) -> list[Occurrence]:
    """Dates for the calendar and JSON feeds: a year ahead, items with venue, themes and
    prices prefetched. Three queries at any size."""
    now = now or timezone.now()
    qs = public_dates_queryset(organisation=organisation, filters=filters, now=now).filter(
        starts_at__lt=now + timedelta(days=FEED_DAYS)
    )
    return list(
        qs.select_related("item", "item__venue").prefetch_related(
            "item__themes", "item__price_categories"
        )[:MAX_FEED_DATES]
    )


def next_dates(
    *, organisation: Organisation, limit: int, now: datetime | None = None
) -> list[Occurrence]:
    """The next dates that begin from now on, for the organisation page."""
    now = now or timezone.now()
    qs = public_dates_queryset(organisation=organisation, filters=ProgrammeFilters(), now=now)
    return list(
        qs.filter(starts_at__gte=now)
        .select_related("item", "item__venue")
        .prefetch_related("item__themes", "item__price_categories")[:limit]
    )


def programme_version(*, organisation: Organisation) -> str:
    """Changes whenever an item or a date is added, changed or removed: a cache key part."""
    items = ProgrammeItem.objects.filter(organisation=organisation).aggregate(
        n=Count("pk"), changed=Max("updated_at")
    )
    dates = Occurrence.objects.filter(organisation=organisation).aggregate(
        n=Count("pk"), changed=Max("updated_at")
    )
    return f"{items['n']}.{items['changed']}.{dates['n']}.{dates['changed']}"


def main_venue(*, organisation: Organisation) -> Venue | None:
    """The house's own address (`Venue.is_main`), or its only venue."""
    venues = list(Venue.objects.filter(organisation=organisation).order_by("-is_main", "pk")[:2])
    if venues and (venues[0].is_main or len(venues) == 1):
        return venues[0]
    return None


# --- the state of one date, as a visitor sees it ------------------------------------------


class DateState(StrEnum):
    # Bookable here with free seats.
    AVAILABLE = "available"
    # Bookable here, few seats left.
    FEW = "few"
    # Bookable here, no seats left: the waiting list is open.
    SOLD_OUT = "sold_out"
    CANCELLED = "cancelled"
    # Not booked through Publikum (an exhibition): just come.
    OPEN = "open"
    # Started already (a running tour or concert): no longer bookable.
    STARTED = "started"


def few_seats_threshold(capacity: int) -> int:
    """At or below this many free seats a date shows "few seats left"."""
    return max(3, capacity // 10)


def date_state(occurrence: Occurrence, *, now: datetime | None = None) -> DateState:
    """The state of a date annotated by `with_seats`, its item loaded."""
    if occurrence.status == OccurrenceStatus.CANCELLED:
        return DateState.CANCELLED
    if not occurrence.item.bookable:
        return DateState.OPEN
    if occurrence.starts_at <= (now or timezone.now()):
        return DateState.STARTED
    free = free_seats(occurrence)
    if occurrence.status == OccurrenceStatus.SOLD_OUT or free <= 0:
        return DateState.SOLD_OUT
    if free <= few_seats_threshold(occurrence.capacity):
        return DateState.FEW
    return DateState.AVAILABLE


BOOKABLE_STATES = frozenset({DateState.AVAILABLE, DateState.FEW, DateState.SOLD_OUT})
