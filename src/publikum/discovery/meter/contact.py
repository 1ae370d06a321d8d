"""One person's filter-bubble meter, for the contact page: the breadth of what they were
offered and what they attended in each of the last four calendar quarters, how much of
what they were offered lay outside their usual themes, and which bookings followed such an
offer (docs/discovery-meter.md)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise

from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from publikum.audience.models import Contact, Interaction, InteractionKind
from publikum.core.models import Organisation
from publikum.discovery.meter.common import (
    ATTENDED_KINDS,
    between,
    converting_offers,
    quarter_bounds,
    share,
)
from publikum.discovery.models import Offer
from publikum.discovery.offers import usual_taste
from publikum.programme.models import Theme
from publikum.programme.selectors import zone_of
from publikum.web.charts import LineChart, line_chart

logger = logging.getLogger(__name__)

QUARTERS = 4


@dataclass(frozen=True)
class Quarter:
    start: date
    label: str  # "Q3 2026"
    offers: int
    themes_offered: int
    kinds_offered: int
    attended: int
    themes_attended: int
    kinds_attended: int


@dataclass(frozen=True)
class ContactMeter:
    """Over the last four calendar quarters (the current one so far)."""

    since: datetime
    quarters: list[Quarter]
    offers: int
    outside_offers: int
    outside_share: float | None
    new_kind_offers: int
    bookings: int
    conversions: int
    # The usual themes as of now, by name; from history, or the stated interests.
    usual_themes: list[str]
    usual_from_history: bool

    @property
    def outside_percent(self) -> float | None:
        return None if self.outside_share is None else 100 * self.outside_share


def _per_quarter(
    rows: object, windows: list[tuple[datetime, datetime]], field: str
) -> dict[str, int]:
    # Themes are joined in, so rows repeat per theme: every count is distinct.
    return rows.aggregate(  # type: ignore[attr-defined, no-any-return]
        **{
            f"n{i}": Count("id", distinct=True, filter=between(field, lo, hi))
            for i, (lo, hi) in enumerate(windows)
        },
        **{
            f"themes{i}": Count("item__themes", distinct=True, filter=between(field, lo, hi))
            for i, (lo, hi) in enumerate(windows)
        },
        **{
            f"kinds{i}": Count("item__kind", distinct=True, filter=between(field, lo, hi))
            for i, (lo, hi) in enumerate(windows)
        },
    )


def contact_meter(
    *,
    organisation: Organisation,
    contact: Contact,
    language: str = "de",
    now: datetime | None = None,
) -> ContactMeter:
    """The meter of one contact of `organisation` (the caller checked they belong together)."""
    zone = zone_of(organisation)
    bounds = quarter_bounds(now=now or timezone.now(), zone=zone, quarters=QUARTERS)
    windows = list(pairwise(bounds))
    since = bounds[0]
    offers = Offer.objects.filter(organisation=organisation, contact=contact, offered_at__gte=since)
    offered = _per_quarter(offers, windows, "offered_at")
    totals = offers.aggregate(
        offers=Count("id"),
        outside=Count("id", filter=Q(outside_usual=True)),
        new_kind=Count("id", filter=Q(new_kind=True)),
    )
    attended_rows = Interaction.objects.filter(
        organisation=organisation,
        contact=contact,
        kind__in=ATTENDED_KINDS,
        item__isnull=False,
        occurred_at__gte=since,
    )
    attended = _per_quarter(attended_rows, windows, "occurred_at")
    booked = attended_rows.filter(kind=InteractionKind.BOOKING).aggregate(
        bookings=Count("id"), conversions=Count("id", filter=Q(converting_offers()))
    )
    taste = usual_taste(contact=contact)
    names = [
        theme.name(language)
        for theme in Theme.objects.filter(organisation=organisation, pk__in=taste.themes)
    ]
    quarters = []
    for i, (lo, _hi) in enumerate(windows):
        local = timezone.localtime(lo, zone)
        quarters.append(
            Quarter(
                start=local.date(),
                label=f"Q{(local.month - 1) // 3 + 1} {local.year}",
                offers=offered[f"n{i}"],
                themes_offered=offered[f"themes{i}"],
                kinds_offered=offered[f"kinds{i}"],
                attended=attended[f"n{i}"],
                themes_attended=attended[f"themes{i}"],
                kinds_attended=attended[f"kinds{i}"],
            )
        )
    return ContactMeter(
        since=since,
        quarters=quarters,
        offers=totals["offers"],
        outside_offers=totals["outside"],
        outside_share=share(totals["outside"], totals["offers"]),
        new_kind_offers=totals["new_kind"],
        bookings=booked["bookings"],
        conversions=booked["conversions"],
        usual_themes=sorted(names),
        usual_from_history=taste.from_history,
    )


@dataclass(frozen=True)
class MeterSection:
    """What the contact page shows: the meter, or a short message instead."""

    meter: ContactMeter | None
    message: str

    @property
    def chart(self) -> LineChart | None:
        """Distinct themes offered and attended per quarter, as a small line chart."""
        if self.meter is None:
            return None
        quarters = self.meter.quarters
        return line_chart(
            [q.label for q in quarters],
            [
                (_("Themes offered"), [float(q.themes_offered) for q in quarters]),
                (_("Themes attended"), [float(q.themes_attended) for q in quarters]),
            ],
            title=_("Distinct themes offered and attended per quarter"),
            decimals=0,
            width=480,
            height=160,
        )


def contact_meter_section(
    *, organisation: Organisation, contact: Contact, language: str
) -> MeterSection:
    """The meter for the contact page. An aside: whatever goes wrong becomes a short
    message (and a log entry with the cause), never an error page."""
    with translation.override(language):  # the messages, in the language asked for
        if contact.erased_at is not None:
            return MeterSection(None, _("This person was erased: nothing to show."))
        try:
            return MeterSection(
                contact_meter(organisation=organisation, contact=contact, language=language), ""
            )
        except Exception:
            logger.exception("The filter-bubble meter of contact %s failed", contact.pk)
            return MeterSection(None, _("The meter is not available at the moment."))
