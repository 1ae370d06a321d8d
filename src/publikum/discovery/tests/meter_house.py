"""A small house with known offers and bookings, for the filter-bubble meter.

The figures each test expects are worked out by hand in the docstrings below; the
reference moment NOW lies in the past, so that every row is history whatever the clock
says. Items, contacts and timeline entries go through the real services; dates in the past
are written as rows (the programme service takes only dates ahead, as staff would), and
offers are written as rows with their flags, as `offers_record` fixed them at the time.

Themes: Fotografie (F), Musik (M), Geschichte (G). Items: A exhibition F, B concert M,
C tour G, D tour G, E talk F (a date in the period, never offered), and three that are
never part of the concentration's population: a draft, an item not booked through
Publikum, and an item whose only date lies long before the period.

Offers in the last 90 days before NOW (2024-06-15 12:00, Europe/Berlin):

    o1 Anna  A  2024-04-16  usual       newsletter
    o2 Anna  B  2024-04-26  outside     newsletter
    o3 Ben   C  2024-05-06  outside     newsletter
    o4 Ben   A  2024-05-06  usual       newsletter
    o5 Clara A  2024-05-26  usual       website
    o6 Anna  D  2024-04-07  outside     website
and before the period: o7 Clara B 2024-02-15 outside newsletter.

Bookings in the period (and whether they are horizon conversions):

    b1 Anna  B  2024-05-01  yes: o2, five days before
    b2 Ben   C  2024-05-08  yes: o3, two days before
    b3 Ben   A  2024-05-16  no: o4 was not outside the usual themes
    b4 Clara B  2024-03-22  no: o7 came 36 days before
    b5 Clara C  2024-05-11  no: o3 was offered to Ben, not to Clara
    b6 Anna  D  2024-04-06  no: o6 came a day after the booking
plus visits: Anna B 2024-05-02, Clara A 2024-06-05; and, before the period, Anna's visit
of A on 2024-01-10 (her usual theme, photography).

The other house has an offer and a conversion of its own at the same times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from publikum.audience.models import Contact
from publikum.audience.services import contact_create, interaction_record
from publikum.core.models import Organisation
from publikum.discovery.models import Offer, OfferChannel
from publikum.programme import services as programme
from publikum.programme.models import Occurrence, OccurrenceStatus, ProgrammeItem

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 6, 15, 12, 0, tzinfo=BERLIN)


def at(month: int, day: int, year: int = 2024) -> datetime:
    return datetime(year, month, day, 18, 0, tzinfo=BERLIN)


@dataclass
class MeterHouse:
    organisation: Organisation
    items: dict[str, ProgrammeItem] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)


def _item(org: Organisation, key: str, title: str, kind: str, themes: list[str], **extra: object):
    return programme.item_create(
        organisation=org,
        data={"slug": f"item-{key.lower()}", "title_de": title, "kind": kind, "themes": themes}
        | extra,
    )


def _date(item: ProgrammeItem, starts: datetime, **extra: object) -> Occurrence:
    return Occurrence.objects.create(
        organisation=item.organisation,
        item=item,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=50,
        **extra,
    )


def build_meter_house(
    organisation: Organisation, *, title_a: str = "Licht und Schatten"
) -> MeterHouse:
    house = MeterHouse(organisation)
    for slug, name_de, name_en in (
        ("fotografie", "Fotografie", "Photography"),
        ("musik", "Musik", "Music"),
        ("geschichte", "Geschichte", "History"),
    ):
        programme.theme_create(
            organisation=organisation, name_de=name_de, name_en=name_en, slug=slug
        )
    specs = {
        "A": (title_a, "exhibition", ["fotografie"]),
        "B": ("Jazznacht", "concert", ["musik"]),
        "C": ("Altstadtführung", "tour", ["geschichte"]),
        "D": ("Stadtmauer und Türme", "tour", ["geschichte"]),
        "E": ("Fotografie im Gespräch", "talk", ["fotografie"]),
    }
    for key, (title, kind, themes) in specs.items():
        house.items[key] = _item(organisation, key, title, kind, themes)
    # Dates: A to D around the period; E inside it, never offered (a zero in the Gini).
    for key, month in (("A", 4), ("B", 5), ("C", 5), ("D", 4), ("E", 6)):
        _date(house.items[key], at(month, 20))
    # Never in the population: a draft, an item not booked through Publikum, an old one,
    # and an item whose only date in the period was cancelled.
    for key, extra, starts, status in (
        ("draft", {"published": False}, at(6, 1), OccurrenceStatus.SCHEDULED),
        ("elsewhere", {"bookable": False}, at(6, 1), OccurrenceStatus.SCHEDULED),
        ("old", {}, at(11, 1, 2023), OccurrenceStatus.SCHEDULED),
        ("cancelled", {}, at(6, 2), OccurrenceStatus.CANCELLED),
    ):
        item = _item(organisation, key, f"Nicht dabei: {key}", "talk", ["fotografie"], **extra)
        _date(item, starts, status=status)

    for name in ("Anna", "Ben", "Clara"):
        house.contacts[name] = contact_create(
            organisation=organisation,
            first_name=name,
            last_name="Meter",
            email=f"{name.lower()}.meter@example.org",
        )
    anna, ben, clara = (house.contacts[n] for n in ("Anna", "Ben", "Clara"))
    a, b, c, d = (house.items[k] for k in "ABCD")
    for contact, item, when, outside, channel in (
        (anna, a, at(4, 16), False, OfferChannel.NEWSLETTER),
        (anna, b, at(4, 26), True, OfferChannel.NEWSLETTER),
        (ben, c, at(5, 6), True, OfferChannel.NEWSLETTER),
        (ben, a, at(5, 6), False, OfferChannel.NEWSLETTER),
        (clara, a, at(5, 26), False, OfferChannel.WEBSITE),
        (anna, d, at(4, 7), True, OfferChannel.WEBSITE),
        (clara, b, at(2, 15), True, OfferChannel.NEWSLETTER),
    ):
        Offer.objects.create(
            organisation=organisation,
            contact=contact,
            item=item,
            channel=channel,
            offered_at=when,
            outside_usual=outside,
            new_kind=outside,
        )
    for contact, kind, item, when in (
        (anna, "visit", a, at(1, 10)),
        (anna, "booking", b, at(5, 1)),
        (ben, "booking", c, at(5, 8)),
        (ben, "booking", a, at(5, 16)),
        (clara, "booking", b, at(3, 22)),
        (clara, "booking", c, at(5, 11)),
        (anna, "booking", d, at(4, 6)),
        (anna, "visit", b, at(5, 2)),
        (clara, "visit", a, at(6, 5)),
    ):
        interaction_record(contact=contact, kind=kind, item=item, occurred_at=when)
    # A booking without an item (a gift voucher, say) is no booking of anything offered.
    interaction_record(contact=ben, kind="booking", occurred_at=at(5, 9))
    return house


def build_other_house(organisation: Organisation) -> None:
    """Another organisation with an outside-usual offer and a booking that follows it."""
    programme.theme_create(organisation=organisation, name_de="Tanz", name_en="Dance", slug="tanz")
    item = _item(organisation, "X", "Fremdes Tanzstück", "performance", ["tanz"])
    _date(item, at(5, 30))
    dora = contact_create(
        organisation=organisation, first_name="Dora", email="dora.meter@example.org"
    )
    for when in (at(4, 1), at(5, 1), at(5, 20)):
        Offer.objects.create(
            organisation=organisation,
            contact=dora,
            item=item,
            channel=OfferChannel.NEWSLETTER,
            offered_at=when,
            outside_usual=True,
        )
    interaction_record(contact=dora, kind="booking", item=item, occurred_at=at(5, 22))
