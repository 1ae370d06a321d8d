"""The organisation's filter-bubble meter: reach beyond the usual, horizon conversions,
concentration and breadth, for one period and month by month (docs/discovery-meter.md).

Every figure is an aggregate query; Python only ever loops over months, channels and
items, never over offers or bookings, so the cost stays flat for a house with a million
offers (the indexes each query rests on are named in the docs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from django.db.models import Avg, Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from publikum.core.models import Organisation
from publikum.discovery.meter.common import (
    LOOKAHEAD_DAYS,
    PERIOD_DAYS,
    attended_of,
    bookings_of,
    converting_offers,
    gini,
    month_bounds,
    share,
)
from publikum.discovery.models import Offer, OfferChannel
from publikum.programme.models import Occurrence, OccurrenceStatus, ProgrammeItem
from publikum.programme.selectors import zone_of


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    label: str
    offers: int
    contacts: int
    outside_offers: int
    # Bookings that followed an outside-usual offer of this channel; a booking that
    # followed offers of two channels counts for both.
    conversions: int


@dataclass(frozen=True)
class Figures:
    """The meter for one window [start, end)."""

    start: datetime
    end: datetime
    offers: int
    outside_offers: int
    contacts_offered: int
    contacts_outside: int
    outside_share: float | None  # (a) contacts_outside / contacts_offered
    bookings: int
    conversions: int
    conversion_share: float | None  # (b) conversions / bookings
    dial: float | None  # the mean horizon the offers were made at (None: not known)
    gini: float | None  # (c) over `gini_items` items
    gini_items: int
    offered_items: int
    breadth_offered: float | None  # (d) mean distinct themes offered per offered contact
    contacts_attending: int
    breadth_attended: float | None  # (d) mean distinct themes attended per attending contact
    channels: list[ChannelFigures]


@dataclass(frozen=True)
class Month:
    """One calendar month of the series (the current month so far)."""

    month: date
    offers: int
    outside_offers: int
    contacts_offered: int
    contacts_outside: int
    outside_share: float | None
    bookings: int
    conversions: int
    conversion_share: float | None
    dial: float | None
    gini: float | None
    breadth_offered: float | None
    breadth_attended: float | None
    by_channel: dict[str, int]


@dataclass(frozen=True)
class OfferedItem:
    item_id: int
    title_de: str
    title_en: str
    offers: int
    contacts: int
    outside_offers: int

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_de


def _window(
    now: datetime | None, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    end = end or now or timezone.now()
    return start or end - timedelta(days=PERIOD_DAYS), end


def _offers(organisation: Organisation) -> QuerySet[Offer]:
    return Offer.objects.filter(organisation=organisation)


def _bucket(field: str, windows: list[tuple[datetime, datetime]]) -> Case:
    """The index of the window a row falls into (the windows are consecutive): rows are
    grouped by it, so one sort or hash serves all windows."""
    return Case(
        *[When(**{f"{field}__lt": hi}, then=Value(i)) for i, (_lo, hi) in enumerate(windows)],
        default=Value(-1),
        output_field=IntegerField(),
    )


def _grouped(rows: QuerySet[Any], **aggregates: Any) -> dict[int, dict[str, Any]]:
    return {row["w"]: row for row in rows.values("w").annotate(**aggregates).order_by()}


def _breadth(rows: QuerySet[Any]) -> dict[int, int]:
    """Per window: the sum over contacts of the distinct themes each had in it (offered or
    attended), counted the other way round: per theme, the distinct contacts that had it.
    The rows returned are windows x themes, a few hundred at most."""
    out: dict[int, int] = {}
    for w, n in (
        rows.filter(item__themes__isnull=False)
        .values("w", "item__themes")
        .annotate(n=Count("contact_id", distinct=True))
        .values_list("w", "n")
        .order_by()
    ):
        out[w] = out.get(w, 0) + n
    return out


def _population(
    organisation: Organisation, windows: list[tuple[datetime, datetime]]
) -> list[set[int]]:
    """Per window, the items that could have been offered: published, bookable, with a
    date (not cancelled) from the window's start to `LOOKAHEAD_DAYS` after its end."""
    first, last = windows[0][0], windows[-1][1] + timedelta(days=LOOKAHEAD_DAYS)
    dates = (
        Occurrence.objects.filter(
            organisation=organisation,
            starts_at__gte=first,
            starts_at__lt=last,
            item__published=True,
            item__bookable=True,
        )
        .exclude(status=OccurrenceStatus.CANCELLED)
        .values_list("item_id", "starts_at")
        .distinct()
    )
    out: list[set[int]] = [set() for _ in windows]
    lookahead = timedelta(days=LOOKAHEAD_DAYS)
    for item_id, starts_at in dates:
        for i, (lo, hi) in enumerate(windows):
            if lo <= starts_at < hi + lookahead:
                out[i].add(item_id)
    return out


def _figures(organisation: Organisation, windows: list[tuple[datetime, datetime]]) -> list[dict]:
    """The figures of consecutive windows; each query covers all of them in one pass."""
    first, last = windows[0][0], windows[-1][1]
    offers = (
        _offers(organisation)
        .filter(offered_at__gte=first, offered_at__lt=last)
        .annotate(w=_bucket("offered_at", windows))
    )
    reach = _grouped(
        offers,
        offers=Count("id"),
        outside=Count("id", filter=Q(outside_usual=True)),
        contacts=Count("contact_id", distinct=True),
        wide=Count("contact_id", distinct=True, filter=Q(outside_usual=True)),
        dial=Avg("horizon"),
    )
    bookings = _grouped(
        bookings_of(organisation=organisation)
        .filter(occurred_at__gte=first, occurred_at__lt=last)
        .annotate(w=_bucket("occurred_at", windows)),
        bookings=Count("id"),
        conversions=Count("id", filter=Q(converting_offers())),
    )
    attended = (
        attended_of(organisation=organisation)
        .filter(occurred_at__gte=first, occurred_at__lt=last)
        .annotate(w=_bucket("occurred_at", windows))
    )
    attending = _grouped(attended, contacts=Count("contact_id", distinct=True))
    themes_offered, themes_attended = _breadth(offers), _breadth(attended)
    counts: list[dict[int, int]] = [{} for _ in windows]
    for w, item_id, n in (
        offers.values("w", "item_id")
        .annotate(n=Count("id"))
        .values_list("w", "item_id", "n")
        .order_by()
    ):
        counts[w][item_id] = n
    by_channel: list[dict[str, int]] = [{} for _ in windows]
    for w, channel, n in (
        offers.values("w", "channel")
        .annotate(n=Count("id"))
        .values_list("w", "channel", "n")
        .order_by()
    ):
        by_channel[w][channel] = n
    population = _population(organisation, windows)
    out = []
    for i, (lo, hi) in enumerate(windows):
        r, b = reach.get(i, {}), bookings.get(i, {})
        contacts, wide = r.get("contacts", 0), r.get("wide", 0)
        booked, converted = b.get("bookings", 0), b.get("conversions", 0)
        attending_n = attending.get(i, {}).get("contacts", 0)
        items = population[i] | set(counts[i])
        out.append(
            {
                "start": lo,
                "end": hi,
                "offers": r.get("offers", 0),
                "outside_offers": r.get("outside", 0),
                "dial": r.get("dial"),
                "contacts_offered": contacts,
                "contacts_outside": wide,
                "outside_share": share(wide, contacts),
                "bookings": booked,
                "conversions": converted,
                "conversion_share": share(converted, booked),
                "gini": gini([counts[i].get(item, 0) for item in items]),
                "gini_items": len(items),
                "offered_items": len(counts[i]),
                "breadth_offered": share(themes_offered.get(i, 0), contacts),
                "contacts_attending": attending_n,
                "breadth_attended": share(themes_attended.get(i, 0), attending_n),
                "by_channel": by_channel[i],
            }
        )
    return out


def _channels(organisation: Organisation, start: datetime, end: datetime) -> list[ChannelFigures]:
    rows = (
        _offers(organisation)
        .filter(offered_at__gte=start, offered_at__lt=end)
        .values("channel")
        .annotate(
            offers=Count("id"),
            contacts=Count("contact_id", distinct=True),
            outside=Count("id", filter=Q(outside_usual=True)),
        )
        .order_by("channel")
    )
    found = list(rows)
    if not found:
        return []
    conversions = (
        bookings_of(organisation=organisation)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .aggregate(
            **{
                row["channel"]: Count("id", filter=Q(converting_offers(channel=row["channel"])))
                for row in found
            }
        )
    )
    labels = dict(OfferChannel.choices)
    return [
        ChannelFigures(
            channel=row["channel"],
            label=str(labels.get(row["channel"], row["channel"])),
            offers=row["offers"],
            contacts=row["contacts"],
            outside_offers=row["outside"],
            conversions=conversions[row["channel"]],
        )
        for row in found
    ]


def house_meter(
    *,
    organisation: Organisation,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> Figures:
    """The meter of `organisation` for [start, end); default: the last `PERIOD_DAYS` days."""
    start, end = _window(now, start, end)
    (row,) = _figures(organisation, [(start, end)])
    row.pop("by_channel")
    return Figures(**row, channels=_channels(organisation, start, end))


def house_meter_by_month(
    *, organisation: Organisation, months: int = 12, now: datetime | None = None
) -> list[Month]:
    """The meter per calendar month (house time zone), oldest first, the current month
    (so far) last."""
    bounds = month_bounds(now=now or timezone.now(), zone=zone_of(organisation), months=months)
    windows = list(pairwise(bounds))
    return [
        Month(
            month=row["start"].date(),
            offers=row["offers"],
            outside_offers=row["outside_offers"],
            contacts_offered=row["contacts_offered"],
            contacts_outside=row["contacts_outside"],
            outside_share=row["outside_share"],
            bookings=row["bookings"],
            conversions=row["conversions"],
            conversion_share=row["conversion_share"],
            dial=row["dial"],
            gini=row["gini"],
            breadth_offered=row["breadth_offered"],
            breadth_attended=row["breadth_attended"],
            by_channel=row["by_channel"],
        )
        for row in _figures(organisation, windows)
    ]


def most_offered_items(
    *,
    organisation: Organisation,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    limit: int = 10,
) -> list[OfferedItem]:
    """The items offered most often in [start, end) (default: the last quarter)."""
    start, end = _window(now, start, end)
    rows = list(
        _offers(organisation)
        .filter(offered_at__gte=start, offered_at__lt=end)
        .values("item_id")
        .annotate(
            offers=Count("id"),
            contacts=Count("contact_id", distinct=True),
            outside=Count("id", filter=Q(outside_usual=True)),
        )
        .order_by("-offers", "item_id")[:limit]
    )
    titles = {
        pk: (de, en)
        for pk, de, en in ProgrammeItem.objects.filter(
            organisation=organisation, pk__in=[r["item_id"] for r in rows]
        ).values_list("pk", "title_de", "title_en")
    }
    return [
        OfferedItem(
            item_id=r["item_id"],
            title_de=titles.get(r["item_id"], ("", ""))[0],
            title_en=titles.get(r["item_id"], ("", ""))[1],
            offers=r["offers"],
            contacts=r["contacts"],
            outside_offers=r["outside"],
        )
        for r in rows
    ]


def has_offers(*, organisation: Organisation) -> bool:
    return _offers(organisation).exists()
