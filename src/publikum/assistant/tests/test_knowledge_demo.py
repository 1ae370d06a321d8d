"""The demo museum ships a complete knowledge base for the assistant."""

from __future__ import annotations

import io
import random
from datetime import date, time

import pytest
from django.utils import timezone

from publikum.assistant import demo as assistant_demo
from publikum.assistant.models import (
    AssistantSettings,
    HolidayRule,
    KnowledgeEntry,
    OpeningException,
    OpeningHours,
    PersonalTopic,
    PriceEntry,
)
from publikum.core.demo import POPULATORS, build_demo

pytestmark = pytest.mark.django_db

KEYS = {
    "address", "public_transport", "parking", "bike_parking", "wheelchair",
    "accessible_toilet", "induction_loop", "sign_language", "assistance_dogs",
    "easy_language", "cafe", "shop", "lockers", "cloakroom", "strollers", "photography",
    "dogs", "wifi", "food_drink", "toilets", "audio_guide", "group_visits",
    "school_classes", "guided_tours", "tour_languages", "kids_birthday", "annual_pass",
    "free_admission", "vouchers", "refund", "lost_found", "membership", "volunteering",
    "hall_rental", "press_contact",
}  # fmt: skip


def _populate(organisation, now=None) -> None:
    assistant_demo.populate(
        organisation=organisation,
        rng=random.Random(1),
        now=now or timezone.now(),
        contacts=0,
        stdout=io.StringIO(),
    )


def test_the_demo_build_runs_the_assistant_populator() -> None:
    # After discovery's: the knowledge does not depend on it, but the order is stable.
    assert POPULATORS.index("publikum.assistant.demo.populate") > POPULATORS.index(
        "publikum.discovery.demo.populate"
    )


def test_the_demo_build_creates_the_knowledge_base() -> None:
    demo = build_demo(contacts=200)
    assert set(KnowledgeEntry.objects.filter(organisation=demo).values_list("key", flat=True)) == {
        entry.key for entry in assistant_demo.ENTRIES
    }
    assert OpeningHours.objects.filter(organisation=demo).count() == 6
    assert PriceEntry.objects.filter(organisation=demo).count() == len(assistant_demo.PRICES)
    assert AssistantSettings.objects.get(organisation=demo).synonyms == assistant_demo.SYNONYMS


def test_the_demo_knowledge_base_is_complete_and_bilingual(organisation) -> None:
    _populate(organisation)

    entries = KnowledgeEntry.objects.filter(organisation=organisation)
    assert entries.count() >= 30
    assert set(entries.values_list("key", flat=True)) >= KEYS
    for entry in entries:
        assert entry.active
        assert all((entry.question_de, entry.question_en)), entry.key
        assert all((entry.answer_de, entry.answer_en)), entry.key
        # Several colloquial ways to ask, one per line, in both languages.
        assert len(entry.phrases_de.splitlines()) >= 3, entry.key
        assert len(entry.phrases_en.splitlines()) >= 3, entry.key
    # Missing umlauts are among the ways to ask.
    assert "Euroschluessel" in entries.get(key="accessible_toilet").phrases_de
    assert "Museumsplatz 1" in entries.get(key="address").answer_de
    assert "Straßenbahn 3 oder 7" in entries.get(key="public_transport").answer_de

    # Tuesday to Sunday 10-18, Thursday until 20, Monday closed.
    week = {
        (h.weekday, h.opens, h.closes)
        for h in OpeningHours.objects.filter(organisation=organisation)
    }
    assert week == {
        (1, time(10), time(18)),
        (2, time(10), time(18)),
        (3, time(10), time(20)),
        (4, time(10), time(18)),
        (5, time(10), time(18)),
        (6, time(10), time(18)),
    }

    settings = AssistantSettings.objects.get(organisation=organisation)
    assert settings.holiday_rule == HolidayRule.SUNDAY
    assert settings.greeting_de
    assert settings.greeting_en
    lines = settings.synonyms.splitlines()
    assert "Kasse, Ticketschalter, Ticketkasse, Museumskasse, Info, Infotheke" in lines
    assert any(line.startswith("Schließfach, Spind, Locker") for line in lines)

    prices = {
        p.label_de: p.amount_eur for p in PriceEntry.objects.filter(organisation=organisation)
    }
    assert prices["Erwachsene"] == 9
    assert prices["Ermäßigt"] == 6
    assert prices["Kinder und Jugendliche bis 18 Jahre"] == 0
    assert prices["Familienkarte"] == 18
    assert prices["Jahreskarte"] == 35

    topics = {t.name_de: t.phrases for t in PersonalTopic.objects.filter(organisation=organisation)}
    assert set(topics) == {"Beschwerde", "Spenden", "Presse"}
    assert "complaint" in topics["Beschwerde"].splitlines()
    assert "vermächtnis" in topics["Spenden"].splitlines()
    assert "drehgenehmigung" in topics["Presse"].splitlines()


def test_exceptions_cover_the_holidays_and_an_upcoming_closed_day(organisation) -> None:
    now = timezone.make_aware(timezone.datetime(2026, 11, 23, 9))
    _populate(organisation, now=now)
    rows = {e.date: e for e in OpeningException.objects.filter(organisation=organisation)}
    assert rows[date(2026, 12, 24)].closed
    assert rows[date(2026, 12, 31)].closed
    new_year = rows[date(2027, 1, 1)]
    assert not new_year.closed
    assert (new_year.opens, new_year.closes) == (time(12), time(18))
    setup = [d for d, e in rows.items() if e.note_de == assistant_demo.SETUP_NOTE_DE]
    assert len(setup) == 1
    assert setup[0] > now.date()
    assert setup[0].weekday() == 2
    assert rows[setup[0]].closed


def test_populating_twice_changes_nothing(organisation) -> None:
    _populate(organisation)
    counts = (
        KnowledgeEntry.objects.count(),
        PriceEntry.objects.count(),
        PersonalTopic.objects.count(),
        OpeningHours.objects.count(),
        OpeningException.objects.count(),
    )
    _populate(organisation)
    assert counts == (
        KnowledgeEntry.objects.count(),
        PriceEntry.objects.count(),
        PersonalTopic.objects.count(),
        OpeningHours.objects.count(),
        OpeningException.objects.count(),
    )
