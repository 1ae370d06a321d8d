"""A small house for the engine and widget tests: hours, exceptions, prices, knowledge,
personal topics and a programme whose dates lie a few days after the real today (bookings
check the real clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from publikum.assistant.models import (
    AssistantSettings,
    KnowledgeEntry,
    OpeningException,
    OpeningHours,
    PersonalTopic,
    PriceEntry,
    Topic,
)
from publikum.assistant.nlu import retrieval
from publikum.core.models import Organisation
from publikum.programme.models import (
    Occurrence,
    PriceCategory,
    ProgrammeItem,
    Theme,
    Venue,
)

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class House:
    organisation: Organisation
    today: date
    saturday: date
    family_tour: ProgrammeItem
    family_saturday: Occurrence
    family_sunday: Occurrence
    adults: PriceCategory
    children: PriceCategory
    sign_tour: ProgrammeItem
    sign_date: Occurrence
    concert: ProgrammeItem
    concert_date: Occurrence
    exhibition: ProgrammeItem
    workshop: ProgrammeItem
    workshop_date: Occurrence
    cafe: KnowledgeEntry
    lockers: KnowledgeEntry
    step_free: KnowledgeEntry
    reductions: KnowledgeEntry


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def _date(item: ProgrammeItem, starts: datetime, hours: int = 1, capacity: int = 20) -> Occurrence:
    return Occurrence.objects.create(
        organisation=item.organisation,
        item=item,
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        capacity=capacity,
    )


def build_house(organisation: Organisation) -> House:
    retrieval.clear_cache()
    org = organisation
    org.country, org.region, org.timezone = "DE", "BE", "Europe/Berlin"
    org.save()
    AssistantSettings.objects.create(organisation=org)
    for weekday in range(1, 7):  # Tuesday to Sunday, closed on Mondays
        OpeningHours.objects.create(
            organisation=org, weekday=weekday, opens=time(10), closes=time(18)
        )
    OpeningException.objects.create(
        organisation=org,
        date=date(2026, 12, 24),
        closed=True,
        note_de="Heiligabend geschlossen",
        note_en="closed on Christmas Eve",
    )
    OpeningException.objects.create(
        organisation=org, date=date(2026, 12, 31), closed=False, opens=time(10), closes=time(14)
    )
    PriceEntry.objects.create(
        organisation=org, label_de="Erwachsene", label_en="Adults", amount_eur=Decimal(9)
    )
    PriceEntry.objects.create(
        organisation=org,
        label_de="Ermäßigt",
        label_en="Reduced",
        amount_eur=Decimal("6.50"),
        note_de="Schüler, Studierende",
        note_en="pupils, students",
        position=1,
    )
    PriceEntry.objects.create(
        organisation=org,
        label_de="Kinder unter 18",
        label_en="Children under 18",
        amount_eur=Decimal(0),
        position=2,
    )
    cafe = KnowledgeEntry.objects.create(
        organisation=org,
        key="cafe",
        topic=Topic.FACILITIES,
        question_de="Gibt es ein Café?",
        question_en="Is there a café?",
        answer_de="Unser Museumscafé im Erdgeschoss hat zu den Öffnungszeiten geöffnet.",
        answer_en="Our museum café on the ground floor is open during opening hours.",
        phrases_de="Kann man bei euch etwas essen?\nWo kann ich Kaffee trinken?",
        phrases_en="Can I get something to eat?\nWhere can I have a coffee?",
    )
    lockers = KnowledgeEntry.objects.create(
        organisation=org,
        key="lockers",
        topic=Topic.FACILITIES,
        question_de="Gibt es Schließfächer?",
        question_en="Are there lockers?",
        answer_de="Schließfächer finden Sie kostenlos an der Garderobe.",
        answer_en="Free lockers are next to the cloakroom.",
        phrases_de="Wo kann ich meinen Rucksack lassen?\nGarderobe",
        phrases_en="Where can I leave my backpack?\ncloakroom",
    )
    step_free = KnowledgeEntry.objects.create(
        organisation=org,
        key="step-free",
        topic=Topic.ACCESSIBILITY,
        question_de="Ist das Museum barrierefrei?",
        question_en="Is the museum wheelchair accessible?",
        answer_de="Alle Räume sind stufenlos erreichbar; ein Aufzug führt in alle Etagen.",
        answer_en="All rooms are step-free; a lift serves every floor.",
        phrases_de="Komme ich mit dem Rollstuhl rein?\nGibt es einen Aufzug?",
        phrases_en="Can I come with a wheelchair?\nIs there a lift?",
    )
    reductions = KnowledgeEntry.objects.create(
        organisation=org,
        key="reductions",
        topic=Topic.PRICES,
        question_de="Wer bekommt eine Ermäßigung?",
        question_en="Who gets a reduced ticket?",
        answer_de="Ermäßigung gibt es für Schüler, Studierende und Menschen mit Behinderung.",
        answer_en="Pupils, students and disabled visitors pay the reduced price.",
        phrases_de="Gibt es Rabatt für Studenten?\nErmäßigung Schüler",
        phrases_en="Is there a student discount?\nconcession",
    )
    PersonalTopic.objects.create(
        organisation=org,
        name_de="Beschwerden",
        name_en="Complaints",
        phrases="Beschwerde\nbeschweren\nunverschämt\ncomplaint\ncomplain",
    )
    PersonalTopic.objects.create(
        organisation=org,
        name_de="Spenden",
        name_en="Donations",
        phrases="Spende\nspenden\ndonation\ndonate",
    )
    Venue.objects.create(
        organisation=org,
        name_de="Stadtmuseum",
        street="Museumsplatz 1",
        postcode="10117",
        city="Berlin",
        directions_de="U-Bahn Museumsinsel, dann zwei Minuten zu Fuß.",
        directions_en="Underground to Museumsinsel, then a two-minute walk.",
        is_main=True,
    )
    city_theme = Theme.objects.create(
        organisation=org, slug="stadtgeschichte", name_de="Stadtgeschichte", name_en="City history"
    )

    today = timezone.localtime(timezone.now(), BERLIN).date()
    # The first Saturday at least two days ahead, so "Samstag" is always in the future.
    saturday = today + timedelta(days=2)
    saturday += timedelta(days=(5 - saturday.weekday()) % 7)

    family_tour = ProgrammeItem.objects.create(
        organisation=org,
        slug="familienfuehrung",
        kind="tour",
        title_de="Familienführung: Was Dinge erzählen",
        title_en="Family tour: What things tell",
        target_groups=["families", "children"],
        accessibility=["wheelchair"],
    )
    family_tour.themes.add(city_theme)
    adults = PriceCategory.objects.create(
        organisation=org, item=family_tour, name_de="Erwachsene", name_en="Adults", price_eur=8
    )
    children = PriceCategory.objects.create(
        organisation=org,
        item=family_tour,
        name_de="Kinder",
        name_en="Children",
        price_eur=4,
        position=1,
    )
    family_saturday = _date(family_tour, at(saturday, 15))
    family_sunday = _date(family_tour, at(saturday + timedelta(days=1), 15))

    sign_tour = ProgrammeItem.objects.create(
        organisation=org,
        slug="gebaerden",
        kind="tour",
        title_de="Rundgang in Gebärdensprache",
        title_en="Tour in sign language",
        accessibility=["sign_language"],
    )
    PriceCategory.objects.create(organisation=org, item=sign_tour, name_de="Ticket", price_eur=10)
    sign_date = _date(sign_tour, at(saturday + timedelta(days=5), 18))

    concert = ProgrammeItem.objects.create(
        organisation=org,
        slug="fruehlingskonzert",
        kind="concert",
        title_de="Winterkonzert im Lichthof",
        title_en="Winter concert in the atrium",
        target_groups=["adults"],
    )
    PriceCategory.objects.create(organisation=org, item=concert, name_de="Regulär", price_eur=15)
    concert_date = _date(concert, at(saturday + timedelta(days=7), 19), hours=2, capacity=2)

    exhibition = ProgrammeItem.objects.create(
        organisation=org,
        slug="stadt-im-wandel",
        kind="exhibition",
        title_de="Stadt im Wandel",
        title_en="A city changing",
        bookable=False,
    )
    exhibition.themes.add(city_theme)
    _date(exhibition, at(today - timedelta(days=30), 10), hours=24 * 120, capacity=0)

    workshop = ProgrammeItem.objects.create(
        organisation=org,
        slug="druckwerkstatt",
        kind="workshop",
        title_de="Druckwerkstatt für Kinder",
        title_en="Printing workshop for children",
        target_groups=["children"],
    )
    PriceCategory.objects.create(organisation=org, item=workshop, name_de="Kind", price_eur=5)
    workshop_date = _date(workshop, at(today + timedelta(days=1), 10), hours=2)

    return House(
        organisation=org,
        today=today,
        saturday=saturday,
        family_tour=family_tour,
        family_saturday=family_saturday,
        family_sunday=family_sunday,
        adults=adults,
        children=children,
        sign_tour=sign_tour,
        sign_date=sign_date,
        concert=concert,
        concert_date=concert_date,
        exhibition=exhibition,
        workshop=workshop,
        workshop_date=workshop_date,
        cafe=cafe,
        lockers=lockers,
        step_free=step_free,
        reductions=reductions,
    )
