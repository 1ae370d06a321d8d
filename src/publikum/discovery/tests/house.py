"""A small house built through the real services: themes, past and upcoming items, visitors.

Past dates are written as rows (the programme service only takes dates ahead, as staff
would); everything else goes through `programme.services`, `audience.services` and
`audience.privacy`, the way the house's data comes about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from publikum.audience.models import Contact
from publikum.audience.privacy import contact_erase
from publikum.audience.services import contact_create, interaction_record
from publikum.core.models import Organisation
from publikum.programme import services as programme
from publikum.programme.models import Occurrence, ProgrammeItem

THEMES = {
    "fotografie": ("Fotografie", "Photography"),
    "musik": ("Musik", "Music"),
    "stadtgeschichte": ("Stadtgeschichte", "City history"),
    "literatur": ("Literatur", "Literature"),
}

# (German title, English title, kind, themes, description)
Spec = tuple[str, str, str, list[str], str]

PAST: dict[str, Spec] = {
    "licht-und-schatten": (
        "Licht und Schatten",
        "Light and Shadow",
        "exhibition",
        ["fotografie"],
        "Fotografien von Licht und Schatten in der Stadt.",
    ),
    "nachkriegsfotografie": (
        "Fotografie der Nachkriegszeit",
        "Post-war Photography",
        "exhibition",
        ["fotografie"],
        "Fotografien aus den Jahren nach 1945.",
    ),
    "portraets": (
        "Porträts aus Leipzig",
        "Portraits from Leipzig",
        "exhibition",
        ["fotografie"],
        "Porträtfotografie aus einem Jahrhundert.",
    ),
    "jazz-im-kornspeicher": (
        "Jazz im Kornspeicher",
        "Jazz in the Granary",
        "concert",
        ["musik"],
        "Jazz mit dem Trio der Musikschule.",
    ),
    "kammermusik": (
        "Kammermusik am Abend",
        "Chamber Music in the Evening",
        "concert",
        ["musik"],
        "Streichquartette von Haydn und Schubert.",
    ),
    "altstadtfuehrung": (
        "Führung durch die Altstadt",
        "Old Town Tour",
        "tour",
        ["stadtgeschichte"],
        "Ein Rundgang durch die Geschichte der Stadt.",
    ),
    "stadtmauer": (
        "Stadtmauer und Türme",
        "City Walls and Towers",
        "tour",
        ["stadtgeschichte"],
        "Die Geschichte der Stadtbefestigung.",
    ),
}

UPCOMING: dict[str, Spec] = {
    "neue-fotografie": (
        "Neue Fotografie aus Sachsen",
        "New Photography from Saxony",
        "exhibition",
        ["fotografie"],
        "Fotografien junger Fotografinnen und Fotografen.",
    ),
    "jazznacht": (
        "Jazznacht",
        "Jazz Night",
        "concert",
        ["musik"],
        "Jazz bis Mitternacht.",
    ),
    "stadtgeschichte-zu-fuss": (
        "Stadtgeschichte zu Fuß",
        "City History on Foot",
        "tour",
        ["stadtgeschichte"],
        "Ein Rundgang zu den Orten der Geschichte der Stadt.",
    ),
    "fotografische-stadtgeschichte": (
        "Fotografische Stadtgeschichte",
        "The City's History in Photographs",
        "tour",
        ["fotografie", "stadtgeschichte"],
        "Ein Rundgang zu den Orten alter Fotografien der Stadt.",
    ),
    "lesung": (
        "Lesung: Stadt der Bücher",
        "Reading: City of Books",
        "talk",
        ["literatur"],
        "Eine Lesung über die Buchstadt.",
    ),
}


@dataclass
class House:
    organisation: Organisation
    past: dict[str, ProgrammeItem] = field(default_factory=dict)
    upcoming: dict[str, ProgrammeItem] = field(default_factory=dict)
    # Items with upcoming dates that must never be recommended.
    hidden: dict[str, ProgrammeItem] = field(default_factory=dict)
    next_date: dict[str, Occurrence] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)


def days(n: float, hour: int = 18) -> datetime:
    return (timezone.now() + timedelta(days=n)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def _item(org: Organisation, slug: str, spec: Spec, **extra: object) -> ProgrammeItem:
    title_de, title_en, kind, themes, description = spec
    return programme.item_create(
        organisation=org,
        data={
            "slug": slug,
            "title_de": title_de,
            "title_en": title_en,
            "kind": kind,
            "themes": themes,
            "description_de": description,
            **extra,
        },
    )


def _past_date(item: ProgrammeItem, days_ago: int) -> None:
    starts = days(-days_ago)
    Occurrence.objects.create(
        organisation=item.organisation,
        item=item,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=50,
    )


def _date(item: ProgrammeItem, in_days: int) -> Occurrence:
    starts = days(in_days)
    return programme.occurrence_create(
        item=item, starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=50
    )


def _visitor(house: House, name: str, visits: list[str], **data: object) -> Contact:
    contact = contact_create(
        organisation=house.organisation,
        first_name=name,
        last_name="Test",
        email=f"{name.lower()}@example.org",
        **data,
    )
    for n, slug in enumerate(visits):
        interaction_record(
            contact=contact,
            kind="visit",
            item=house.past[slug],
            occurred_at=timezone.now() - timedelta(days=60 - n),
        )
    house.contacts[name] = contact
    return contact


def build_house(organisation: Organisation) -> House:
    """Photography, music and city-history audiences; Anna is a photography visitor who
    never went on a city tour, Ben only stated an interest in music, Clara told nothing,
    Eva was erased."""
    house = House(organisation)
    for slug, (name_de, name_en) in THEMES.items():
        programme.theme_create(
            organisation=organisation, name_de=name_de, name_en=name_en, slug=slug
        )
    for n, (slug, spec) in enumerate(PAST.items()):
        house.past[slug] = _item(organisation, slug, spec)
        _past_date(house.past[slug], 90 - 5 * n)
    for n, (slug, spec) in enumerate(UPCOMING.items()):
        house.upcoming[slug] = _item(organisation, slug, spec)
        house.next_date[slug] = _date(house.upcoming[slug], 5 + n)
        _date(house.upcoming[slug], 30 + n)  # a later date: not the one recommended
    # Never to be recommended: a draft, an item not booked through Publikum, a past one.
    house.hidden["entwurf"] = _item(
        organisation,
        "entwurf",
        ("Entwurf Fotografie", "", "exhibition", ["fotografie"], ""),
        published=False,
    )
    house.hidden["ohne-buchung"] = _item(
        organisation,
        "ohne-buchung",
        ("Fotografie ohne Buchung", "", "exhibition", ["fotografie"], ""),
        bookable=False,
    )
    for item in house.hidden.values():
        _date(item, 7)

    photo = ["licht-und-schatten", "nachkriegsfotografie", "portraets"]
    music = ["jazz-im-kornspeicher", "kammermusik"]
    history = ["altstadtfuehrung", "stadtmauer"]
    for n in range(6):
        # Photography visitors often go on a city tour too: the link Anna has not made.
        _visitor(house, f"Foto{n}", photo + ([history[n % 2]] if n < 4 else []))
        _visitor(house, f"Musik{n}", music)
    for n in range(4):
        _visitor(house, f"Geschichte{n}", history)
    _visitor(house, "Anna", ["licht-und-schatten", "nachkriegsfotografie"])
    _visitor(house, "Ben", [], interests=["musik"], language="en")
    _visitor(house, "Clara", [])
    eva = _visitor(house, "Eva", ["licht-und-schatten"])
    contact_erase(contact=eva)
    return house
