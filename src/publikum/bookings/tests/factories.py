"""Dates to book and helpers shared by the booking-flow tests (services, pages, mails)."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from publikum.bookings.models import Booking
from publikum.bookings.services import booking_create
from publikum.core.models import Organisation
from publikum.programme.models import ItemKind, Occurrence, PriceCategory, ProgrammeItem, Venue

PRICES: tuple[tuple[str, str, str], ...] = (
    ("Regulär", "Regular", "12.00"),
    ("Ermäßigt", "Reduced", "8.00"),
)


def local_start(organisation: Organisation, *, days: int, hour: int, minute: int = 0) -> datetime:
    """A start `days` ahead at a fixed wall-clock time of the house (no midnight surprises)."""
    zone = ZoneInfo(organisation.timezone)
    day = timezone.localtime(timezone.now(), zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def make_date(
    organisation: Organisation,
    *,
    capacity: int = 10,
    starts_in: timedelta = timedelta(days=5),
    starts_at: datetime | None = None,
    duration: timedelta = timedelta(hours=2),
    prices: tuple[tuple[str, str, str], ...] = PRICES,
    title_de: str = "",
    title_en: str = "",
    **item_fields: Any,
) -> Occurrence:
    """A bookable date of a new tour in a new hall with address and directions."""
    n = ProgrammeItem.objects.filter(organisation=organisation).count() + 1
    venue = Venue.objects.create(
        organisation=organisation,
        name_de=f"Großer Saal {n}",
        name_en=f"Great Hall {n}",
        street="Kornmarkt 1",
        postcode="12345",
        city="Beispielstadt",
        directions_de="Eingang am Fluss, zweiter Stock.",
        directions_en="Entrance by the river, second floor.",
        latitude=Decimal("51.100000"),
        longitude=Decimal("7.200000"),
    )
    fields: dict[str, Any] = {
        "accessibility": ["wheelchair", "induction_loop"],
        **item_fields,
    }
    item = ProgrammeItem.objects.create(
        organisation=organisation,
        slug=f"fuehrung-{n}",
        kind=ItemKind.TOUR,
        title_de=title_de or f"Führung durch die Stadtgeschichte {n}",
        title_en=title_en or f"Tour of the town's history {n}",
        venue=venue,
        **fields,
    )
    for position, (name_de, name_en, price) in enumerate(prices):
        PriceCategory.objects.create(
            organisation=organisation,
            item=item,
            name_de=name_de,
            name_en=name_en,
            price_eur=Decimal(price),
            position=position,
        )
    starts = starts_at or (timezone.now() + starts_in).replace(second=0, microsecond=0)
    return Occurrence.objects.create(
        organisation=organisation,
        item=item,
        starts_at=starts,
        ends_at=starts + duration,
        capacity=capacity,
    )


def book(occurrence: Occurrence, *, quantity: int = 1, email: str = "", **kwargs: Any) -> Booking:
    """A booking made through the service, as any channel makes it."""
    n = Booking.objects.count() + 1
    return booking_create(
        organisation=occurrence.organisation,
        occurrence_id=occurrence.pk,
        name=kwargs.pop("name", f"Gast {n}"),
        email=email or f"gast{n}@example.org",
        quantity=quantity,
        **kwargs,
    )


def text(response: Any) -> str:
    """A page as a person reads it: without tags, entities resolved, spaces collapsed."""
    content = response.content.decode() if hasattr(response, "content") else str(response)
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", content, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())


def visitor(language: str = "en") -> Client:
    return Client(headers={"accept-language": language})


@pytest.fixture
def immediate_tasks(settings: Any) -> None:
    """Background jobs run at once (after the commit), as a worker would run them."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "mail", "periodic"],
        }
    }
