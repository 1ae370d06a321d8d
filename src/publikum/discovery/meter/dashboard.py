"""Everything the discovery dashboard shows, computed together and kept a few minutes.

A year of a large house is a million offers: the figures take seconds to aggregate, and
they change slowly (offers arrive with mails and page views, bookings a few a minute). The
dashboard therefore keeps them in the cache (Redis when configured) for
`DASHBOARD_CACHE_SECONDS` and says when they were computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from publikum.core.models import Organisation
from publikum.discovery.meter.house import (
    Figures,
    Month,
    OfferedItem,
    has_offers,
    house_meter,
    house_meter_by_month,
    most_offered_items,
)

DASHBOARD_CACHE_SECONDS = 600
MONTHS = 12
TOP_ITEMS = 10


@dataclass(frozen=True)
class Dashboard:
    computed_at: datetime
    has_offers: bool
    period: Figures
    months: list[Month]
    top: list[OfferedItem]


def _key(organisation: Organisation) -> str:
    # The creation time too: a reused primary key (a restored database) is another house.
    return f"discovery:dashboard:{organisation.pk}:{organisation.created_at.timestamp()}"


def house_dashboard(*, organisation: Organisation, now: datetime | None = None) -> Dashboard:
    """The meter of the last quarter, the last twelve months and the most offered items;
    from the cache when computed in the last `DASHBOARD_CACHE_SECONDS` (not when `now` is
    given: that asks for figures as of another moment)."""
    key = _key(organisation)
    if now is None:
        found = cache.get(key)
        if isinstance(found, Dashboard):
            return found
    at = now or timezone.now()
    dashboard = Dashboard(
        computed_at=at,
        has_offers=has_offers(organisation=organisation),
        period=house_meter(organisation=organisation, end=at),
        months=house_meter_by_month(organisation=organisation, months=MONTHS, now=at),
        top=most_offered_items(organisation=organisation, end=at, limit=TOP_ITEMS),
    )
    if now is None:
        cache.set(key, dashboard, DASHBOARD_CACHE_SECONDS)
    return dashboard


def house_dashboard_forget(*, organisation: Organisation) -> None:
    """Drop the kept figures (after offers were written in bulk, e.g. by the demo)."""
    cache.delete(_key(organisation))
