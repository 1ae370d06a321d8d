"""Reads of the staff pages and the events API: items with their next date, dates with seats.

Public reads live in `selectors.py`; these include drafts and cancelled dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from publikum.bookings.selectors import free_seats, with_seats
from publikum.core.models import Organisation
from publikum.programme.models import (
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
    Theme,
    Venue,
)

WHEN_CHOICES = ("upcoming", "past", "drafts")


def staff_item_list(
    *,
    organisation: Organisation,
    query: str = "",
    kind: str = "",
    when: str = "",
    theme: str = "",
    published: bool | None = None,
    starts_from: datetime | None = None,
    starts_to: datetime | None = None,
    now: datetime | None = None,
) -> QuerySet[ProgrammeItem]:
    """Items of the organisation with `next_start` (the next date that is not cancelled)
    and `upcoming_count`. `when`: "upcoming" (has a next date), "past" (has dates, none
    ahead), "drafts" (unpublished). `starts_from`/`starts_to`: has a date in that range."""
    now = now or timezone.now()
    ahead = Q(occurrences__starts_at__gte=now) & ~Q(occurrences__status=OccurrenceStatus.CANCELLED)
    items = ProgrammeItem.objects.filter(organisation=organisation).select_related("venue")
    query = query.strip()
    if query:
        items = items.filter(
            Q(title_de__icontains=query) | Q(title_en__icontains=query) | Q(slug__icontains=query)
        )
    if kind:
        items = items.filter(kind=kind)
    if theme:
        items = items.filter(themes__slug=theme, themes__organisation=organisation)
    if published is not None:
        items = items.filter(published=published)
    if starts_from is not None or starts_to is not None:
        dates = Occurrence.objects.filter(organisation=organisation)
        if starts_from is not None:
            dates = dates.filter(starts_at__gte=starts_from)
        if starts_to is not None:
            dates = dates.filter(starts_at__lt=starts_to)
        items = items.filter(pk__in=dates.values("item_id"))
    items = items.annotate(
        next_start=Min("occurrences__starts_at", filter=ahead),
        upcoming_count=Count("occurrences", filter=ahead),
    )
    if when == "upcoming":
        return items.filter(next_start__isnull=False).order_by("next_start", "pk")
    if when == "past":
        has_dates = Exists(Occurrence.objects.filter(item=OuterRef("pk")))
        items = items.filter(has_dates, next_start__isnull=True)
    elif when == "drafts":
        items = items.filter(published=False)
    return items.order_by("title_de", "pk")


@dataclass(frozen=True)
class NextDate:
    occurrence: Occurrence
    sold: int
    capacity: int


def next_dates(items: list[ProgrammeItem]) -> dict[int, NextDate]:
    """The next date (not cancelled) of each item with its seats sold, in two queries."""
    starts = {i.pk: getattr(i, "next_start", None) for i in items}
    starts = {pk: start for pk, start in starts.items() if start is not None}
    if not starts:
        return {}
    dates = with_seats(
        Occurrence.objects.filter(item_id__in=list(starts), starts_at__in=set(starts.values()))
        .exclude(status=OccurrenceStatus.CANCELLED)
        .order_by("starts_at", "pk")
    )
    found: dict[int, NextDate] = {}
    for occurrence in dates:
        if occurrence.item_id in found or occurrence.starts_at != starts[occurrence.item_id]:
            continue
        found[occurrence.item_id] = NextDate(
            occurrence=occurrence,
            sold=occurrence.seats_sold,  # type: ignore[attr-defined]
            capacity=occurrence.capacity,
        )
    return found


def item_get(*, organisation: Organisation, item_id: int) -> ProgrammeItem:
    item = (
        ProgrammeItem.objects.filter(organisation=organisation, pk=item_id)
        .select_related("venue")
        .prefetch_related("themes", "price_categories")
        .first()
    )
    if item is None:
        raise Http404("No such programme item.")
    return item


def occurrence_get(*, organisation: Organisation, occurrence_id: int) -> Occurrence:
    occurrence = (
        with_seats(Occurrence.objects.filter(organisation=organisation, pk=occurrence_id))
        .select_related("item")
        .first()
    )
    if occurrence is None:
        raise Http404("No such date.")
    return occurrence


def dates_of(item: ProgrammeItem) -> QuerySet[Occurrence]:
    """All dates of an item, with `seats_sold` and `seats_held`, in time order."""
    return with_seats(Occurrence.objects.filter(item=item).order_by("starts_at", "pk"))


def split_dates(
    item: ProgrammeItem, *, past_limit: int | None = 20, now: datetime | None = None
) -> dict[str, Any]:
    """Upcoming dates (all) and the latest past dates of an item, with their free seats."""
    now = now or timezone.now()
    dates = dates_of(item)
    upcoming = list(dates.filter(starts_at__gte=now))
    past_qs = dates.filter(starts_at__lt=now).order_by("-starts_at", "-pk")
    past_total = past_qs.count()
    past = list(past_qs[:past_limit] if past_limit else past_qs)
    for occurrence in [*upcoming, *past]:
        occurrence.free = free_seats(occurrence)  # type: ignore[attr-defined]
    return {"upcoming": upcoming, "past": past, "past_total": past_total}


def venue_list(*, organisation: Organisation) -> QuerySet[Venue]:
    return Venue.objects.filter(organisation=organisation).annotate(item_count=Count("items"))


def venue_get(*, organisation: Organisation, venue_id: int) -> Venue:
    venue = Venue.objects.filter(organisation=organisation, pk=venue_id).first()
    if venue is None:
        raise Http404("No such venue.")
    return venue


def theme_list(*, organisation: Organisation) -> QuerySet[Theme]:
    return Theme.objects.filter(organisation=organisation).annotate(item_count=Count("items"))
