"""What the house and the contact meter share: windows, the conversion rule, the Gini index.

Windows are calendar months and quarters in the organisation's time zone, so that "May" on
the dashboard is the house's May. Every figure is computed in the database with
conditional aggregation over these boundaries (one scan per question, no grouping by a
database-specific truncation function), so the same code holds on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from publikum.audience.models import Interaction, InteractionKind
from publikum.core.models import Organisation
from publikum.discovery.models import Offer

# A booking counts as a horizon conversion when an outside-usual offer of the same item
# reached the same person at most this many days before it.
CONVERSION_DAYS = 30
# The organisation's figures look back this far by default: the last quarter.
PERIOD_DAYS = 90
# The concentration counts items with a date up to this far after a window's end: what a
# "for you" block at the end of the window could have offered (its look-ahead).
LOOKAHEAD_DAYS = 42
# Attending: a visit or a booking of an item (as `offers.usual_taste` reads history).
ATTENDED_KINDS = (InteractionKind.VISIT, InteractionKind.BOOKING)


def month_bounds(*, now: datetime, zone: ZoneInfo, months: int) -> list[datetime]:
    """`months + 1` boundaries: the first instants of the last `months` calendar months
    (oldest first, the current month last) and the start of the next month."""
    local = timezone.localtime(now, zone)
    index = local.year * 12 + local.month - 1
    out = []
    for n in range(index - months + 1, index + 2):
        year, month0 = divmod(n, 12)
        out.append(datetime(year, month0 + 1, 1, tzinfo=zone))
    return out


def quarter_bounds(*, now: datetime, zone: ZoneInfo, quarters: int) -> list[datetime]:
    """`quarters + 1` boundaries: the first instants of the last `quarters` calendar
    quarters (the current one last) and the start of the next quarter."""
    local = timezone.localtime(now, zone)
    index = local.year * 4 + (local.month - 1) // 3
    out = []
    for n in range(index - quarters + 1, index + 2):
        year, quarter0 = divmod(n, 4)
        out.append(datetime(year, quarter0 * 3 + 1, 1, tzinfo=zone))
    return out


def month_label(start: datetime) -> date:
    """The month a window stands for, as a date (the template formats it)."""
    return start.date()


def between(field: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def converting_offers(*, channel: str | None = None) -> Exists:
    """For a booking row (an `Interaction`): an outside-usual offer of its item to its
    contact in the `CONVERSION_DAYS` before it. Served by the index
    Offer(contact, item, offered_at): one seek per booking."""
    offers = Offer.objects.filter(
        contact_id=OuterRef("contact_id"),
        item_id=OuterRef("item_id"),
        outside_usual=True,
        offered_at__lt=OuterRef("occurred_at"),
        offered_at__gte=OuterRef("occurred_at") - timedelta(days=CONVERSION_DAYS),
    )
    if channel is not None:
        offers = offers.filter(channel=channel)
    return Exists(offers)


def bookings_of(*, organisation: Organisation) -> QuerySet[Interaction]:
    """Bookings of an item: what a horizon conversion can be."""
    return Interaction.objects.filter(
        organisation=organisation, kind=InteractionKind.BOOKING, item__isnull=False
    )


def attended_of(*, organisation: Organisation) -> QuerySet[Interaction]:
    """Visits and bookings of an item: what a person attended."""
    return Interaction.objects.filter(
        organisation=organisation, kind__in=ATTENDED_KINDS, item__isnull=False
    )


def share(part: int, whole: int) -> float | None:
    """part / whole, None when there is no whole (nothing to divide: "no data", not 0 %)."""
    return part / whole if whole else None


def gini(counts: Sequence[int]) -> float | None:
    """The Gini coefficient of non-negative counts: 0 when every item was offered equally
    often, towards 1 when a few items took all offers. None without any offer.

    G = sum_i (2i - n - 1) x_(i) / (n * sum x), the x_(i) sorted ascending, i = 1..n.
    """
    values = sorted(counts)
    n, total = len(values), sum(values)
    if n == 0 or total == 0:
        return None
    weighted = sum((2 * i - n - 1) * x for i, x in enumerate(values, start=1))
    return weighted / (n * total)
