"""Audience of the demo institution: contacts, consents and two years of interactions.

Called by `publikum.core.demo.build_demo` after the programme exists. The history is made
for analysis: every contact follows a lifecycle pattern (loyal regular, occasional visitor,
one-off visitor, lapsing, lapsed, new, or subscriber who never came) and has one to three
favourite themes it mostly chooses from, with some exploration, so that segments, lifecycle
stages, RFM scores and recommendations have something real to find.

All e-mail addresses use reserved domains (RFC 2606 `.example`), so that a demo instance can
never write to real people.
"""

from __future__ import annotations

import gc
import random
import time as clock
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from faker import Faker

from publikum.audience.models import (
    Channel,
    Consent,
    Contact,
    ContactKind,
    Interaction,
    InteractionKind,
    Purpose,
)
from publikum.core.demo import ascii_slug, progress
from publikum.core.models import Organisation
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
    Theme,
)

BATCH = 5000
# Contacts are planned and written in chunks so memory stays flat for any `contacts`.
CHUNK = 2500
WINDOW_DAYS = 30
WINDOWS = 25  # 30-day windows back from now: a little more than two years of history
HISTORY_DAYS = 745  # visits are recorded this far back
# Most contacts were known before the recorded history starts; their first contact with the
# museum lies up to this many days back, so the audience does not look as if it began then.
KNOWN_SINCE_DAYS = 1500

# (segment, share of person contacts, probability of a newsletter subscription)
SEGMENTS: tuple[tuple[str, float, float], ...] = (
    ("regular", 0.09, 0.85),
    ("occasional", 0.27, 0.6),
    ("one_off", 0.26, 0.3),
    ("lapsing", 0.05, 0.7),
    ("lapsed", 0.09, 0.65),
    ("new", 0.09, 0.5),
    ("dormant", 0.15, 0.5),  # subscribers and imported contacts who have not visited
)
ORGANISATION_SHARE = 0.02
ENGLISH_SHARE = 0.10

# Readers open newsletters at very different rates; a lapsed contact rarely does any more.
OPEN_RATE = {
    "regular": (0.4, 0.7),
    "occasional": (0.2, 0.45),
    "one_off": (0.1, 0.3),
    "lapsing": (0.25, 0.5),
    "lapsed": (0.2, 0.45),
    "new": (0.35, 0.6),
    "dormant": (0.05, 0.25),
    "organisation": (0.2, 0.4),
}
# How often a visit goes to a favourite theme rather than something new.
FAVOURITE_SHARE = {"regular": 0.8, "new": 0.7}

EMAIL_DOMAINS = (
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "post.example",
    "netz.example",
    "online.example",
)
# A fictional town in Nordrhein-Westfalen: most visitors live there or nearby.
LOCAL_POSTCODES = (
    "44701",
    "44703",
    "44705",
    "44707",
    "44709",
    "44711",
    "44713",
    "44715",
    "44717",
    "44719",
    "44721",
    "44723",
    "44725",
    "44727",
)

WORDING = {
    ("newsletter", "de"): "Ja, ich möchte den Newsletter des Stadtmuseums Beispielstadt mit "
    "Programmhinweisen per E-Mail erhalten. Meine Einwilligung kann ich jederzeit widerrufen, "
    "z. B. über den Abmeldelink in jeder E-Mail.",
    ("newsletter", "en"): "Yes, I would like to receive the Stadtmuseum Beispielstadt newsletter "
    "with programme news by e-mail. I can withdraw my consent at any time, e.g. via the "
    "unsubscribe link in every e-mail.",
    ("offers", "de"): "Ja, das Stadtmuseum Beispielstadt darf mir auf meine Interessen "
    "abgestimmte Angebote per E-Mail senden. Dafür werden meine Besuche und Buchungen "
    "ausgewertet. Widerruf jederzeit möglich.",
    ("offers", "en"): "Yes, Stadtmuseum Beispielstadt may send me offers by e-mail that match my "
    "interests, based on my visits and bookings. I can withdraw at any time.",
    ("feedback", "de"): "Ja, ich bin einverstanden, nach meinem Besuch per E-Mail um eine kurze "
    "Rückmeldung gebeten zu werden. Widerruf jederzeit möglich.",
    ("feedback", "en"): "Yes, I agree to be asked for brief feedback by e-mail after my visit. "
    "I can withdraw at any time.",
    ("post", "de"): "Ja, ich möchte das Jahresprogramm und Einladungen des Fördervereins per "
    "Post erhalten.",
    ("post", "en"): "Yes, I would like to receive the annual programme and invitations of the "
    "friends' association by post.",
}
SOURCE_WEBSITE = "Anmeldeformular Website"
SOURCE_BOX_OFFICE = "Kasse"
SOURCE_FRIENDS = "Mitgliedsantrag Förderverein"

MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)

SCHOOL_KINDS = ("Grundschule", "Gesamtschule", "Gymnasium", "Realschule", "Berufskolleg")
SCHOOL_PATRONS = (
    "Geschwister-Scholl",
    "Anne-Frank",
    "Heinrich-Heine",
    "Marie-Curie",
    "Albert-Schweitzer",
    "Lise-Meitner",
    "Annette-von-Droste-Hülshoff",
    "Erich-Kästner",
    "Hildegard-von-Bingen",
    "Wilhelm-Busch",
)
SCHOOL_PLACES = (
    "am Stadtpark",
    "am Wall",
    "Beispielstadt-Nord",
    "Beispielstadt-Süd",
    "an der Aue",
    "am Kornmarkt",
    "Im Lindenfeld",
)
PRESS_DESKS = (
    "Redaktion Beispielstädter Anzeiger",
    "Lokalradio Beispielstadt",
    "WDR Studio Dortmund, Kulturredaktion",
    "Stadtmagazin KULTURSPIEGEL",
    "Freie Journalistin, Schwerpunkt Kultur",
)


# JSON data of an interaction as hashable pairs, so the writer can encode each one once.
DataPairs = tuple[tuple[str, str], ...]
# kind, occurred_at, item id, occurrence id, quantity, summary, data
PlannedInteraction = tuple[str, datetime, int | None, int | None, int, str, DataPairs]


@dataclass(slots=True)
class Slot:
    """A past or upcoming date that contacts can book or visit."""

    occurrence_id: int
    item_id: int
    title: str
    exhibition: bool
    themes: tuple[int, ...]
    starts_at: datetime
    ends_at: datetime
    for_groups: bool


@dataclass
class Send:
    at: datetime
    campaign: str
    summary: str
    featured: list[Slot]
    featured_by_theme: dict[int, list[Slot]]


@dataclass
class Plan:
    """Everything about one contact, before it has a primary key."""

    contact: Contact
    segment: str
    favourites: list[int]
    interests: list[int] = field(default_factory=list)
    # When the museum first met this contact; often before the recorded two years.
    first_seen: datetime | None = None
    consents: list[Consent] = field(default_factory=list)
    interactions: list[PlannedInteraction] = field(default_factory=list)


class AudiencePlanner:
    def __init__(self, *, organisation: Organisation, rng: random.Random, now: datetime) -> None:
        self.org = organisation
        # Two kinds of randomness: `rng` draws who the contacts are, `act` what each one does.
        # What a contact does depends on the calendar (which dates fall into which month), so
        # it gets its own stream per contact: names and emails stay the same from day to day.
        self.rng = rng
        self.act = random.Random(0)
        self.now = now
        self.tz = ZoneInfo(organisation.timezone)
        self.emails: set[str] = set()
        self.org_names: set[str] = set()
        self.fake_de = Faker("de_DE")
        self.fake_de.seed_instance(rng.randint(0, 2**31))
        self.fake_en = Faker("en_GB")
        self.fake_en.seed_instance(rng.randint(0, 2**31))
        # Families come in twos and fours.
        self.family_theme = (
            Theme.objects.filter(organisation=organisation, slug="kinder-familie")
            .values_list("pk", flat=True)
            .first()
        )
        self._load_programme()
        self._plan_newsletters()

    # programme as the audience sees it

    def _load_programme(self) -> None:
        org = self.org
        items = {
            pk: (kind, title, groups)
            for pk, kind, title, groups in ProgrammeItem.objects.filter(
                organisation=org
            ).values_list("pk", "kind", "title_de", "target_groups")
        }
        item_themes: dict[int, list[int]] = defaultdict(list)
        through = ProgrammeItem.themes.through
        for item_id, theme_id in (
            through.objects.filter(programmeitem__organisation=org)
            .order_by("programmeitem_id", "theme_id")
            .values_list("programmeitem_id", "theme_id")
        ):
            item_themes[item_id].append(theme_id)

        self.windows: list[list[Slot]] = [[] for _ in range(WINDOWS)]
        self.windows_by_theme: list[dict[int, list[Slot]]] = [
            defaultdict(list) for _ in range(WINDOWS)
        ]
        self.group_slots: list[Slot] = []
        self.upcoming: list[Slot] = []
        self.upcoming_by_theme: dict[int, list[Slot]] = defaultdict(list)
        self.events: list[Slot] = []  # past and upcoming dates of events, by start
        theme_supply: dict[int, int] = defaultdict(int)

        dates = (
            Occurrence.objects.filter(organisation=org)
            .exclude(status=OccurrenceStatus.CANCELLED)
            .order_by("starts_at", "pk")
            .values_list("pk", "item_id", "starts_at", "ends_at")
        )
        for pk, item_id, starts_at, ends_at in dates:
            kind, title, groups = items[item_id]
            slot = Slot(
                pk,
                item_id,
                title,
                kind == ItemKind.EXHIBITION,
                tuple(item_themes[item_id]),
                starts_at,
                ends_at,
                kind in (ItemKind.TOUR, ItemKind.WORKSHOP)
                and bool({"schools", "groups"} & set(groups)),
            )
            self._place(slot)
        self.event_starts = [s.starts_at for s in self.events]
        # Favourite themes follow what the museum offers: a city museum's public likes city
        # history more often than film. Counted over items, not dates, so that the weights do
        # not move with the calendar.
        for item_id, (kind, _, _) in items.items():
            for theme in item_themes[item_id]:
                theme_supply[theme] += 6 if kind == ItemKind.EXHIBITION else 1
        self.themes = sorted(theme_supply)
        self.theme_weights = [theme_supply[t] for t in self.themes]

    def _place(self, slot: Slot) -> None:
        """File a date under upcoming, or under the 30-day windows in which people visit it."""
        now = self.now
        if not slot.exhibition:
            self.events.append(slot)
        if slot.starts_at >= now:
            if not slot.exhibition:
                self.upcoming.append(slot)
                for theme in slot.themes:
                    self.upcoming_by_theme[theme].append(slot)
            return
        if slot.exhibition:
            # An exhibition draws visitors in every window of its run; it counts six times
            # because the exhibitions are what most people come for.
            first = self._window(min(slot.ends_at, now - timedelta(hours=1)))
            span = range(max(first, 0), min(self._window(slot.starts_at), WINDOWS - 1) + 1)
            weight = 6
        else:
            span = range(self._window(slot.starts_at), self._window(slot.starts_at) + 1)
            weight = 1
            if slot.for_groups:
                self.group_slots.append(slot)
        for w in span:
            if w >= WINDOWS:
                continue
            self.windows[w].extend([slot] * weight)
            for theme in slot.themes:
                self.windows_by_theme[w][theme].extend([slot] * weight)

    def _window(self, moment: datetime) -> int:
        return int((self.now - moment).total_seconds() // (WINDOW_DAYS * 86400))

    def _plan_newsletters(self) -> None:
        """One newsletter a month, on the first Thursday at 10:00, for the last two years."""
        local = self.now.astimezone(self.tz)
        self.sends: list[Send] = []
        oldest = self.now - timedelta(days=WINDOWS * WINDOW_DAYS)
        for back in range(WINDOWS, -1, -1):
            year, month = divmod(local.year * 12 + local.month - 1 - back, 12)
            day = date(year, month + 1, 1)
            day += timedelta(days=(3 - day.weekday()) % 7)
            at = datetime.combine(day, time(10), tzinfo=self.tz)
            if not oldest <= at < self.now:
                continue
            # Featured: events starting in the six weeks after the newsletter goes out.
            lo = bisect_left(self.event_starts, at)
            hi = bisect_left(self.event_starts, at + timedelta(days=42))
            featured = self.events[lo:hi]
            by_theme: dict[int, list[Slot]] = defaultdict(list)
            for slot in featured:
                for theme in slot.themes:
                    by_theme[theme].append(slot)
            self.sends.append(
                Send(
                    at,
                    f"newsletter-{day:%Y-%m}",
                    f"Newsletter {MONTHS_DE[day.month - 1]} {day.year}",
                    featured,
                    by_theme,
                )
            )
        self.send_times = [s.at for s in self.sends]

    # helpers

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def interaction(
        self,
        plan: Plan,
        kind: str,
        at: datetime,
        *,
        slot: Slot | None = None,
        quantity: int = 1,
        summary: str = "",
        data: DataPairs = (),
    ) -> None:
        plan.interactions.append(
            (
                kind,
                at,
                slot.item_id if slot else None,
                slot.occurrence_id if slot else None,
                quantity,
                (summary or (slot.title if slot else ""))[:300],
                data,
            )
        )

    def unique_email(self, local: str, domain: str) -> str:
        local = ascii_slug(local, max_length=40).replace("-", ".") or "kontakt"
        email = f"{local}@{domain}"
        n = 2
        while email in self.emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.emails.add(email)
        return email

    def favourite_themes(self) -> list[int]:
        wanted = self.rng.choices((1, 2, 3), weights=(0.35, 0.45, 0.2))[0]
        favourites: list[int] = []
        while len(favourites) < wanted:
            theme = self.rng.choices(self.themes, weights=self.theme_weights)[0]
            if theme not in favourites:
                favourites.append(theme)
        return favourites

    def pick_theme(self, favourites: list[int]) -> int:
        # The first favourite is the strongest.
        return self.act.choices(favourites, weights=(6, 3, 1)[: len(favourites)])[0]

    # contacts

    def person(self, segment: str) -> Plan:
        rng = self.rng
        english = rng.random() < ENGLISH_SHARE
        fake = self.fake_en if english else self.fake_de
        first, last = fake.first_name(), fake.last_name()
        pattern = rng.randrange(5)
        local = (
            f"{first}.{last}",
            f"{first[0]}.{last}",
            f"{first}{last}",
            f"{last}.{first}",
            f"{first}.{last}{rng.randint(50, 99)}",
        )[pattern]
        email = self.unique_email(local, rng.choice(EMAIL_DOMAINS))
        phone = fake.phone_number() if rng.random() < 0.35 else ""
        local_resident = rng.random() < (0.5 if english else 0.65)
        postcode = rng.choice(LOCAL_POSTCODES) if local_resident else fake.postcode()
        # Absolute dates: a birthday must not move when the demo is rebuilt next year.
        birthday = (
            date(1938, 1, 1) + timedelta(days=rng.randint(0, 69 * 365))
            if rng.random() < 0.3
            else None
        )
        tags: list[str] = []
        notes = ""
        yearly, friends = {
            "regular": (0.4, 0.18),
            "occasional": (0.06, 0.03),
            "lapsing": (0.15, 0.06),
            "lapsed": (0.15, 0.06),
            "new": (0.05, 0.0),
        }.get(segment, (0.0, 0.005))
        if rng.random() < yearly:
            tags.append("Jahreskarte")
        if rng.random() < friends:
            tags.append("Förderverein")
            notes = f"Mitglied im Förderverein seit {rng.randint(2004, 2023)}."
        if rng.random() < 0.01:
            tags.append("Ehrenamt")
        if rng.random() < 0.004:
            tags.append("Presse")
            notes = rng.choice(PRESS_DESKS)
        contact = Contact(
            organisation=self.org,
            kind=ContactKind.PERSON,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            language="en" if english else "de",
            postcode=postcode,
            birthday=birthday,
            tags=tags,
            notes=notes,
        )
        return Plan(contact, segment, self.favourite_themes())

    def organisation_contact(self) -> Plan:
        rng, fake = self.rng, self.fake_de
        roll = rng.random()
        if roll < 0.45:
            tag, prefix = "Schule", "sekretariat"
            kind = rng.choice(SCHOOL_KINDS)
            name = (
                f"{rng.choice(SCHOOL_PATRONS)}-{kind}"
                if rng.random() < 0.5
                else f"{kind} {rng.choice(SCHOOL_PLACES)}"
            )
        elif roll < 0.7:
            tag, prefix = "Reiseveranstalter", "info"
            name = rng.choice(
                (
                    "{last} Reisen",
                    "Kulturreisen {last}",
                    "Bustouristik {last} GmbH",
                    "{city} Tours",
                    "Studienreisen {last} & {last2}",
                )
            ).format(last=fake.last_name(), last2=fake.last_name(), city=fake.city())
        else:
            tag, prefix = "Verein", "kontakt"
            name = rng.choice(
                (
                    "Heimatverein {city}",
                    "Kunstverein {city} e. V.",
                    "Seniorenbeirat {city}",
                    "Volkshochschule {city}",
                    "Geschichtswerkstatt {city} e. V.",
                    "Landfrauen {city}",
                    "Fotoclub {city} e. V.",
                )
            ).format(city=fake.city())
        # Two schools of the same name exist in different towns.
        while name in self.org_names:
            name = f"{name} {fake.city()}"
        self.org_names.add(name)
        contact = Contact(
            organisation=self.org,
            kind=ContactKind.ORGANISATION,
            organisation_name=name,
            first_name=fake.first_name(),
            last_name=fake.last_name(),
            email=self.unique_email(prefix, f"{ascii_slug(name, max_length=63)}.example"),
            phone=fake.phone_number(),
            postcode=rng.choice(LOCAL_POSTCODES) if rng.random() < 0.5 else fake.postcode(),
            tags=[tag],
        )
        return Plan(contact, "organisation", self.favourite_themes())

    # history

    def visit_days(self, segment: str) -> tuple[float, list[float]]:
        """When the contact was first seen, and the days it visits, oldest first (days ago).

        Visits before `HISTORY_DAYS` are not recorded: they happened before the two years.
        """
        rng = self.act
        if segment == "one_off":
            day = rng.uniform(3, HISTORY_DAYS)
            return day, [day]
        if segment == "organisation":
            start = rng.uniform(100, KNOWN_SINCE_DAYS)
            count = rng.randint(1, 6)
            bookings = sorted(
                (rng.uniform(5, min(start, HISTORY_DAYS)) for _ in range(count)), reverse=True
            )
            return start, bookings
        if segment == "regular":
            # Most regulars have come for years; some became regulars during the last two.
            start = (
                rng.uniform(HISTORY_DAYS, KNOWN_SINCE_DAYS)
                if rng.random() < 0.75
                else rng.uniform(200, HISTORY_DAYS)
            )
            end, gap = 0.0, rng.uniform(28, 60)
        elif segment == "occasional":
            start, end, gap = rng.uniform(150, KNOWN_SINCE_DAYS), 0.0, rng.uniform(90, 240)
        elif segment == "lapsing":
            start, end = rng.uniform(380, KNOWN_SINCE_DAYS), rng.uniform(95, 175)
            gap = rng.uniform(25, 60)
        elif segment == "lapsed":
            start, end = rng.uniform(420, KNOWN_SINCE_DAYS), rng.uniform(190, 360)
            gap = rng.uniform(25, 60)
        elif segment == "new":
            start, end, gap = rng.uniform(3, 88), 0.0, rng.uniform(10, 35)
        else:
            # Dormant: on the list (newsletter, an old ticket purchase) but not seen since.
            return rng.uniform(3, KNOWN_SINCE_DAYS), []
        days: list[float] = []
        day = start - rng.uniform(0, min(gap, 20))
        while day > end:
            if day <= HISTORY_DAYS:
                days.append(day)
            day -= gap * rng.uniform(0.5, 1.5)
        return start, days[:3] if segment == "new" else days

    def choose(self, window: int, plan: Plan) -> Slot | None:
        rng = self.act
        if rng.random() < FAVOURITE_SHARE.get(plan.segment, 0.75):
            theme = self.pick_theme(plan.favourites)
            # A favourite that has nothing on in this window: look one window either side.
            for w in (window, window - 1, window + 1):
                if 0 <= w < WINDOWS and self.windows_by_theme[w].get(theme):
                    return rng.choice(self.windows_by_theme[w][theme])
        for w in (window, window - 1, window + 1):
            if 0 <= w < WINDOWS and self.windows[w]:
                return rng.choice(self.windows[w])
        return None

    def quantity(self, plan: Plan) -> int:
        if plan.contact.kind == ContactKind.ORGANISATION:
            return self.act.randint(12, 30)
        if self.family_theme in plan.favourites:
            return self.act.choices((1, 2, 3, 4), weights=(0.15, 0.35, 0.3, 0.2))[0]
        return self.act.choices((1, 2, 3), weights=(0.55, 0.38, 0.07))[0]

    def exhibition_visit_time(self, slot: Slot, window: int) -> datetime:
        """A day within the run, the window and the past; opening hours 10 to 18."""
        lo = max(slot.starts_at, self.now - timedelta(days=(window + 1) * WINDOW_DAYS))
        hi = min(
            slot.ends_at,
            self.now - timedelta(days=window * WINDOW_DAYS),
            self.now - timedelta(hours=1),
        )
        moment = lo + (hi - lo) * self.act.random() if hi > lo else lo
        local = moment.astimezone(self.tz)
        at = datetime.combine(
            local.date(),
            time(self.act.randint(10, 17), self.act.choice((0, 15, 30, 45))),
            tzinfo=self.tz,
        )
        return min(max(at, slot.starts_at), self.now - timedelta(hours=1))

    def history(self, plan: Plan) -> list[datetime]:
        """Visits and bookings; returns the visit times (for consents and created_at)."""
        rng = self.act
        visits: list[datetime] = []
        first_seen, days = self.visit_days(plan.segment)
        plan.first_seen = self.ago(first_seen)
        for day in days:
            window = min(int(day // WINDOW_DAYS), WINDOWS - 1)
            if plan.segment == "organisation" and self.group_slots:
                slot: Slot | None = rng.choice(self.group_slots)
            else:
                slot = self.choose(window, plan)
            if slot is None:
                continue
            quantity = self.quantity(plan)
            if slot.exhibition:
                at = self.exhibition_visit_time(slot, window)
                if rng.random() < 0.1:
                    self.interaction(
                        plan,
                        InteractionKind.BOOKING,
                        at - timedelta(hours=rng.uniform(1, 48)),
                        slot=slot,
                        quantity=quantity,
                        data=(("channel", "online"),),
                    )
            else:
                at = slot.starts_at
                # Half of the event visitors book ahead; the others buy at the door.
                booked = plan.segment == "organisation" or rng.random() < 0.5
                if booked:
                    lead = (
                        rng.uniform(14, 60)
                        if plan.segment == "organisation"
                        else rng.uniform(0.5, 21)
                    )
                    self.interaction(
                        plan,
                        InteractionKind.BOOKING,
                        at - timedelta(days=lead),
                        slot=slot,
                        quantity=quantity,
                        data=(
                            ("channel", rng.choice(("online", "online", "box_office", "phone"))),
                        ),
                    )
                    if rng.random() < 0.04:
                        continue  # booked and did not come
            self.interaction(plan, InteractionKind.VISIT, at, slot=slot, quantity=quantity)
            visits.append(at)
        self.upcoming_booking(plan)
        visits.sort()
        if visits and first_seen <= HISTORY_DAYS:
            # Met within the recorded history: the first trace is the first recorded visit.
            plan.first_seen = visits[0]
        return visits

    def upcoming_booking(self, plan: Plan) -> None:
        chance = {
            "regular": 0.35,
            "occasional": 0.12,
            "new": 0.2,
            "lapsing": 0.03,
            "organisation": 0.3,
        }.get(plan.segment, 0.0)
        if not self.upcoming or self.act.random() >= chance:
            return
        if plan.segment == "organisation":
            choices = [s for s in self.upcoming if s.for_groups] or self.upcoming
        else:
            choices = self.upcoming_by_theme.get(self.pick_theme(plan.favourites)) or self.upcoming
        slot = self.act.choice(choices)
        at = max(
            self.now - timedelta(days=self.act.uniform(0.05, 20)),
            slot.starts_at - timedelta(days=90),
        )
        self.interaction(
            plan,
            InteractionKind.BOOKING,
            min(at, self.now - timedelta(hours=1)),
            slot=slot,
            quantity=self.quantity(plan),
            data=(("channel", "online"),),
        )

    def consents(self, plan: Plan, visits: list[datetime], subscribe_chance: float) -> None:
        rng, contact = self.act, plan.contact
        language = contact.language
        if rng.random() >= subscribe_chance:
            return
        # Subscribed at the box office on the first visit, or on the website around then.
        anchor = plan.first_seen or self.ago(rng.uniform(3, KNOWN_SINCE_DAYS))
        if plan.segment != "dormant" and rng.random() < 0.55:
            granted, source = anchor - timedelta(minutes=rng.randint(5, 30)), SOURCE_BOX_OFFICE
        else:
            granted = anchor + timedelta(days=rng.uniform(-60, 30))
            source = SOURCE_WEBSITE
        granted = min(granted, self.now - timedelta(hours=rng.randint(2, 72)))
        withdrawn: datetime | None = None
        if rng.random() < (0.2 if plan.segment == "lapsed" else 0.08):
            earliest = max(granted + timedelta(days=30), self.ago(WINDOWS * WINDOW_DAYS))
            if earliest < self.now - timedelta(days=1):
                withdrawn = earliest + (self.now - timedelta(days=1) - earliest) * rng.random()

        def consent(channel: str, purpose: str, source: str, wording: str) -> None:
            plan.consents.append(
                Consent(
                    organisation=self.org,
                    channel=channel,
                    purpose=purpose,
                    granted=withdrawn is None,
                    source=source,
                    wording=wording,
                    granted_at=granted,
                    withdrawn_at=withdrawn,
                    created_at=granted,
                )
            )

        consent(Channel.EMAIL, Purpose.NEWSLETTER, source, WORDING["newsletter", language])
        if rng.random() < 0.35:
            consent(Channel.EMAIL, Purpose.OFFERS, source, WORDING["offers", language])
        if visits and rng.random() < 0.25:
            consent(Channel.EMAIL, Purpose.FEEDBACK, source, WORDING["feedback", language])
        if "Förderverein" in contact.tags and rng.random() < 0.7:
            consent(Channel.POST, Purpose.NEWSLETTER, SOURCE_FRIENDS, WORDING["post", language])
        self.interaction(
            plan,
            InteractionKind.SUBSCRIBED,
            granted,
            summary=f"Newsletter-Anmeldung ({source})",
            data=(("channel", "email"), ("purpose", "newsletter"), ("source", source)),
        )
        if withdrawn is not None:
            self.interaction(
                plan,
                InteractionKind.UNSUBSCRIBED,
                withdrawn,
                summary="Newsletter-Abmeldung",
                data=(("channel", "email"), ("purpose", "newsletter")),
            )
        self.newsletters(plan, granted, withdrawn, visits)

    def newsletters(
        self, plan: Plan, since: datetime, until: datetime | None, visits: list[datetime]
    ) -> None:
        rng = self.act
        low, high = OPEN_RATE[plan.segment]
        open_rate = rng.uniform(low, high)
        # Lapsed contacts drift away from the newsletter too, after their last visit.
        faded = visits[-1] if plan.segment in ("lapsed", "lapsing") and visits else None
        first = bisect_left(self.send_times, since)
        for send in self.sends[first:]:
            if until is not None and send.at >= until:
                break
            data = (("campaign", send.campaign),)
            self.interaction(
                plan, InteractionKind.EMAIL_SENT, send.at, summary=send.summary, data=data
            )
            rate = open_rate * 0.3 if faded is not None and send.at > faded else open_rate
            if rng.random() >= rate:
                continue
            opened = send.at + timedelta(hours=min(rng.expovariate(1 / 8), 96))
            if opened >= self.now:
                continue
            self.interaction(
                plan, InteractionKind.EMAIL_OPENED, opened, summary=send.summary, data=data
            )
            if rng.random() >= 0.3 or not send.featured:
                continue
            matching = send.featured_by_theme.get(self.pick_theme(plan.favourites))
            slot = rng.choice(matching if matching and rng.random() < 0.75 else send.featured)
            clicked = min(
                opened + timedelta(minutes=rng.uniform(0.2, 10)), self.now - timedelta(minutes=1)
            )
            self.interaction(
                plan,
                InteractionKind.EMAIL_CLICKED,
                clicked,
                slot=slot,
                summary=send.summary,
                data=data,
            )

    def plan_contact(self) -> Plan:
        rng = self.rng
        if rng.random() < ORGANISATION_SHARE:
            plan, subscribe = self.organisation_contact(), 0.6
        else:
            roll, segment, subscribe = rng.random(), SEGMENTS[-1][0], SEGMENTS[-1][2]
            for name, share, chance in SEGMENTS:
                if roll < share:
                    segment, subscribe = name, chance
                    break
                roll -= share
            plan = self.person(segment)
        if rng.random() >= 0.35:
            # Stated interests: mostly what they actually like, sometimes one more.
            plan.interests = plan.favourites[: rng.randint(1, len(plan.favourites))]
            if len(plan.interests) < 3 and rng.random() < 0.15:
                extra = rng.choice(self.themes)
                if extra not in plan.interests:
                    plan.interests.append(extra)
        self.act = random.Random(rng.getrandbits(64))
        visits = self.history(plan)
        self.consents(plan, visits, subscribe)
        # The contact exists from its first trace: a booking, a visit or a subscription.
        moments = [i[1] for i in plan.interactions]
        if plan.first_seen is not None:
            moments.append(plan.first_seen)
        plan.contact.created_at = min(moments) - timedelta(minutes=self.act.randint(1, 30))
        return plan


class InteractionWriter:
    """Inserts planned interactions with `executemany`, in batches of `BATCH` rows.

    Why not `bulk_create`: it prepares every value of every row through the field machinery,
    about 100 µs per row on SQLite; for the 300,000-odd interactions of the demo that alone
    would take over half a minute. Values are still prepared by the model's own fields (so
    the SQL is right for SQLite and PostgreSQL), but each distinct value only once.
    """

    PLANNED = (
        "contact",
        "kind",
        "occurred_at",
        "item",
        "occurrence",
        "quantity",
        "summary",
        "data",
    )

    def __init__(self, organisation: Organisation, now: datetime) -> None:
        meta = Interaction._meta
        self.connection = connections[router.db_for_write(Interaction)]
        by_name = {f.name: f for f in meta.concrete_fields}
        planned = [by_name[name] for name in self.PLANNED]
        # Fields the plan does not set are the same for every row: the organisation, and
        # whatever a later version of the model adds with a default.
        constant = [f for f in meta.concrete_fields if not f.primary_key and f not in planned]
        self.constants = tuple(self._constant(f, organisation, now) for f in constant)
        columns = ", ".join(self.connection.ops.quote_name(f.column) for f in planned + constant)
        marks = ", ".join(["%s"] * (len(planned) + len(constant)))
        table = self.connection.ops.quote_name(meta.db_table)
        # Only quoted names from the model's meta go into the SQL; values are parameters.
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
        self.moment_field = by_name["occurred_at"]
        self.data_field = by_name["data"]
        self.moments: dict[datetime, Any] = {}
        self.data: dict[DataPairs, Any] = {}

    def _constant(self, model_field: Any, organisation: Organisation, now: datetime) -> Any:
        if model_field.name == "organisation":
            return organisation.pk
        stamped = getattr(model_field, "auto_now", False) or getattr(
            model_field, "auto_now_add", False
        )
        value = now if stamped else model_field.get_default()
        return model_field.get_db_prep_save(value, self.connection)

    def _moment(self, moment: datetime) -> Any:
        prepared = self.moments.get(moment)
        if prepared is None:
            prepared = self.moments[moment] = self.moment_field.get_db_prep_save(
                moment, self.connection
            )
        return prepared

    def _data(self, pairs: DataPairs) -> Any:
        prepared = self.data.get(pairs)
        if prepared is None:
            prepared = self.data[pairs] = self.data_field.get_db_prep_save(
                dict(pairs), self.connection
            )
        return prepared

    def write(
        self, contact_id: int, planned: list[PlannedInteraction], rows: list[tuple[Any, ...]]
    ) -> None:
        for kind, at, item_id, occurrence_id, quantity, summary, data in planned:
            rows.append(
                (
                    contact_id,
                    kind,
                    self._moment(at),
                    item_id,
                    occurrence_id,
                    quantity,
                    summary,
                    self._data(data),
                    *self.constants,
                )
            )
        if len(rows) >= BATCH:
            self.flush(rows)

    def flush(self, rows: list[tuple[Any, ...]]) -> None:
        with self.connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH):
                cursor.executemany(self.sql, rows[start : start + BATCH])
        rows.clear()
        # Most moments are unique (an opened e-mail); keep the cache from growing forever.
        if len(self.moments) > 100_000:
            self.moments.clear()


@contextmanager
def _roomy_sqlite_cache(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """A bigger SQLite page cache while the history is written; the old size afterwards.

    With the default 2 MB, SQLite keeps rereading the pages of the interaction indexes; with
    32 MB the build is a few seconds faster. Other databases are left alone.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size = -32768")  # in KiB when negative
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")


@contextmanager
def _collect_between_chunks() -> Iterator[None]:
    """Switch off automatic garbage collection; `populate` collects after every chunk.

    Planning allocates millions of small objects, and the collector, which runs after every
    few hundred allocations, took a quarter of the build time. Collecting once per chunk
    keeps memory just as flat.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """`contacts` contacts with consents and a two-year history of interactions."""
    started = clock.monotonic()
    planner = AudiencePlanner(
        organisation=organisation, rng=random.Random(rng.getrandbits(64)), now=now
    )
    writer = InteractionWriter(organisation, now)
    through = Contact.interests.through
    counts: dict[str, int] = defaultdict(int)
    rows: list[tuple[Any, ...]] = []
    written = 0
    with _roomy_sqlite_cache(writer.connection), _collect_between_chunks():
        for chunk_start in range(0, contacts, CHUNK):
            plans = [planner.plan_contact() for _ in range(min(CHUNK, contacts - chunk_start))]
            created = Contact.objects.bulk_create([p.contact for p in plans], batch_size=BATCH)
            links: list[Any] = []
            consents: list[Consent] = []
            for plan, contact in zip(plans, created, strict=True):
                links.extend(through(contact_id=contact.pk, theme_id=t) for t in plan.interests)
                for consent in plan.consents:
                    consent.contact_id = contact.pk
                    consents.append(consent)
                writer.write(contact.pk, plan.interactions, rows)
                for planned in plan.interactions:
                    counts[planned[0]] += 1
                written += len(plan.interactions)
                counts[plan.segment] += 1
            through.objects.bulk_create(links, batch_size=BATCH)
            Consent.objects.bulk_create(consents, batch_size=BATCH)
            counts["consents"] += len(consents)
            progress(
                stdout,
                f"  contacts {chunk_start + len(plans)}/{contacts}, "
                f"interactions {written} ({clock.monotonic() - started:.1f} s)",
            )
            gc.collect()
        writer.flush(rows)
    kinds = ", ".join(f"{k} {counts[k]}" for k in InteractionKind.values if counts[k])
    segments = ", ".join(f"{name} {counts[name]}" for name, _, _ in SEGMENTS)
    progress(
        stdout,
        f"Audience: {contacts} contacts ({segments}, organisations "
        f"{counts['organisation']}), {counts['consents']} consents, {written} "
        f"interactions ({kinds}) in {clock.monotonic() - started:.1f} s.",
    )
