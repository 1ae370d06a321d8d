"""Programme data for the tests of the public pages, JSON-LD and feeds."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.test import Client
from django.utils import timezone

from publikum.bookings.models import Booking
from publikum.bookings.services import booking_create
from publikum.core.models import Organisation
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
    Theme,
    Venue,
)

PRICES: tuple[tuple[str, str, str], ...] = (
    ("Regulär", "Regular", "12.00"),
    ("Ermäßigt", "Reduced", "8.50"),
)


def local(organisation: Organisation, *, days: int, hour: int = 19, minute: int = 0) -> datetime:
    """`days` from today at a wall-clock time of the house."""
    zone = ZoneInfo(organisation.timezone)
    day = timezone.localtime(timezone.now(), zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def make_theme(organisation: Organisation, slug: str, name_de: str, name_en: str) -> Theme:
    return Theme.objects.create(
        organisation=organisation, slug=slug, name_de=name_de, name_en=name_en
    )


def make_venue(organisation: Organisation, **fields: Any) -> Venue:
    values: dict[str, Any] = {
        "name_de": "Großer Saal",
        "name_en": "Great Hall",
        "street": "Kornmarkt 1",
        "postcode": "12345",
        "city": "Beispielstadt",
        "directions_de": "Eingang am Fluss.\n\nZweiter Stock, Aufzug links.",
        "directions_en": "Entrance by the river.\n\nSecond floor, lift on the left.",
        "latitude": Decimal("51.123456"),
        "longitude": Decimal("7.654321"),
        **fields,
    }
    return Venue.objects.create(organisation=organisation, **values)


def make_item(
    organisation: Organisation,
    slug: str,
    *,
    kind: str = ItemKind.TOUR,
    title_de: str = "",
    title_en: str = "",
    themes: Iterable[Theme] = (),
    prices: tuple[tuple[str, str, str], ...] = PRICES,
    **fields: Any,
) -> ProgrammeItem:
    item = ProgrammeItem.objects.create(
        organisation=organisation,
        slug=slug,
        kind=kind,
        title_de=title_de or f"Titel {slug}",
        title_en=title_en or f"Title {slug}",
        **fields,
    )
    item.themes.set(list(themes))
    for position, (name_de, name_en, price) in enumerate(prices):
        PriceCategory.objects.create(
            organisation=organisation,
            item=item,
            name_de=name_de,
            name_en=name_en,
            price_eur=Decimal(price),
            position=position,
        )
    return item


def add_date(
    item: ProgrammeItem,
    starts_at: datetime,
    *,
    hours: float = 2,
    capacity: int = 20,
    status: str = OccurrenceStatus.SCHEDULED,
) -> Occurrence:
    return Occurrence.objects.create(
        organisation=item.organisation,
        item=item,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        capacity=capacity,
        status=status,
    )


def book(occurrence: Occurrence, quantity: int) -> Booking:
    """Seats taken the way every channel takes them: through the booking service."""
    n = Booking.objects.count() + 1
    return booking_create(
        organisation=occurrence.organisation,
        occurrence_id=occurrence.pk,
        name=f"Gast {n}",
        email=f"gast{n}@example.org",
        language="de",
        quantity=quantity,
        source="staff",
    )


def visitor(language: str = "en") -> Client:
    return Client(headers={"accept-language": language})


def text(response: Any) -> str:
    """A page as a person reads it: no tags or scripts, entities resolved, spaces collapsed."""
    content = response.content.decode()
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", content, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())
