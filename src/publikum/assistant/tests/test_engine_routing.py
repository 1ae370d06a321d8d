"""How the engine chooses between a booking, a programme answer and a knowledge entry, and
what it reads from one long message: titles named, ticket counts beside dates, names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from publikum.assistant.engine import titles
from publikum.assistant.engine.base import Turn, settings_of
from publikum.assistant.engine.phrases import date_words
from publikum.assistant.models import KnowledgeEntry, Topic
from publikum.assistant.nlu import retrieval
from publikum.assistant.tests.engine_house import House, build_house
from publikum.assistant.tests.test_engine import ask, chat
from publikum.conversations.models import Conversation
from publikum.core.models import Organisation
from publikum.programme.models import ProgrammeItem
from publikum.programme.selectors import zone_of

pytestmark = pytest.mark.django_db


def _entry(org: Organisation, key: str, topic: str, **texts: str) -> KnowledgeEntry:
    return KnowledgeEntry.objects.create(organisation=org, key=key, topic=topic, **texts)


@pytest.fixture
def house(organisation: Organisation) -> House:
    built = build_house(organisation)
    org = built.organisation
    _entry(
        org,
        "refund",
        Topic.TICKETS,
        question_de="Kann ich ein Ticket zurückgeben?",
        question_en="Can I get a refund for my ticket?",
        answer_de="Tickets können Sie bis 48 Stunden vorher kostenlos stornieren; das Geld "
        "bekommen Sie zurück.",
        answer_en="You can cancel tickets up to 48 hours before; you get your money back.",
        phrases_de="Geld zurück\nTicket stornieren\nkrank, kann nicht kommen",
        phrases_en="money back\ncancel my ticket\nrefund",
    )
    _entry(
        org,
        "tickets_advance",
        Topic.TICKETS,
        question_de="Muss ich Tickets vorher kaufen?",
        question_en="Do I need to buy tickets in advance?",
        answer_de="Für die Ausstellungen nicht: Eintrittskarten gibt es an der Kasse.",
        answer_en="Not for the exhibitions: tickets are sold at the ticket desk.",
        phrases_de="Karten vorher online kaufen\nKarten an der Kasse\nim Voraus buchen",
        phrases_en="buy tickets in advance\nbook ahead\ntickets at the door",
    )
    _entry(
        org,
        "guided_tours",
        Topic.GROUPS,
        question_de="Wie kann ich eine private Führung buchen?",
        question_en="How can I book a private guided tour?",
        answer_de="Private Führungen buchen Sie über das Formular auf unserer Website.",
        answer_en="You can book a private guided tour through the form on our website.",
        phrases_de="private Führung\nFührung für meine Gruppe",
        phrases_en="private tour\nprivate guided tour\ntour for my group",
    )
    _entry(
        org,
        "tour_languages",
        Topic.GROUPS,
        question_de="In welchen Sprachen gibt es Führungen?",
        question_en="In which languages are tours available?",
        answer_de="Führungen gibt es auf Deutsch und Englisch, privat auch auf Französisch.",
        answer_en="Tours are in German and English, private tours also in French.",
        phrases_de="Führungen auf Englisch\nFührung in anderer Sprache",
        phrases_en="tours in English\ntour in another language",
    )
    _entry(
        org,
        "contact",
        Topic.OTHER,
        question_de="Wie erreiche ich das Museum?",
        question_en="How can I contact the museum?",
        answer_de="Sie erreichen uns telefonisch unter 0123 45678-0.",
        answer_en="You can call us on 0123 45678-0.",
        phrases_de="Telefonnummer\nanrufen\nE-Mail-Adresse des Museums",
        phrases_en="phone number\ncall you\ncontact details",
    )
    _entry(
        org,
        "sign_language",
        Topic.ACCESSIBILITY,
        question_de="Gibt es Führungen in Gebärdensprache?",
        question_en="Are there tours in sign language?",
        answer_de="Einmal im Monat gibt es eine Führung in Deutscher Gebärdensprache (DGS).",
        answer_en="Once a month there is a tour in German Sign Language (DGS).",
        phrases_de="Gebärdensprache\nDGS\ngehörlos",
        phrases_en="sign language\ndeaf",
    )
    retrieval.clear_cache()
    return built


def _entry_keys(reply: object) -> set[str]:
    ids = {s["id"] for s in reply.sources if s["type"] == "knowledge"}  # type: ignore[attr-defined]
    return set(KnowledgeEntry.objects.filter(pk__in=ids).values_list("key", flat=True))


def _events(reply: object) -> set[int]:
    return {s["id"] for s in reply.sources if s["type"] == "event"}  # type: ignore[attr-defined]


# --- booking or a question about bookings -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ich bin krank, bekomme ich mein geld fuer die tickets wieder", "refund"),
        ("muss ich karten vorher online kaufen oder gibts die an der kasse", "tickets_advance"),
        ("do I need to buy tickets in advance", "tickets_advance"),
        ("can i book a private guided tour", "guided_tours"),
    ],
)
def test_a_question_about_tickets_is_answered_not_booked(house: House, text: str, key: str) -> None:
    conversation, (reply,) = chat(house.organisation, text)

    assert key in _entry_keys(reply)
    assert not reply.handoff
    conversation.refresh_from_db()
    assert "booking" not in conversation.state


@pytest.mark.parametrize("text", ["ich möchte Karten kaufen", "I'd like to book tickets"])
def test_a_wish_to_book_starts_the_dialogue(house: House, text: str) -> None:
    conversation, (reply,) = chat(house.organisation, text)

    assert reply.intent == "book"
    conversation.refresh_from_db()
    assert conversation.state["booking"]["step"] == "date"


def test_a_title_and_a_day_are_a_booking(house: House) -> None:
    day = date_words(house.saturday, "de")
    conversation, (reply,) = chat(
        house.organisation,
        f"Hallo, wir möchten mit den Kindern zu Familienführung: Was Dinge erzählen am {day} "
        "kommen",
    )

    assert reply.intent == "book"
    assert not reply.handoff
    conversation.refresh_from_db()
    assert conversation.state["booking"]["occurrence"] == house.family_saturday.pk


def test_a_title_this_weekend_with_people_is_a_booking_in_english(house: House) -> None:
    day = date_words(house.concert_date.starts_at.astimezone(zone_of(house.organisation)), "en")
    conversation, (reply,) = chat(
        house.organisation, f"we'd like to see Winter concert in the atrium on {day}, 2 people"
    )

    assert reply.intent == "book"
    conversation.refresh_from_db()
    booking = conversation.state["booking"]
    assert booking["occurrence"] == house.concert_date.pk
    assert booking["quantity"] == 2


def test_a_title_on_a_day_without_it_offers_its_own_dates(house: House) -> None:
    # The concert is a week after the Saturday: that Saturday has only the family tour.
    day = date_words(house.saturday, "de")
    conversation, (reply,) = chat(
        house.organisation, f"2 Karten für Winterkonzert im Lichthof am {day}"
    )

    conversation.refresh_from_db()
    assert conversation.state["booking"]["occurrence"] == house.concert_date.pk
    assert "Familienführung" not in reply.text


def test_the_ticket_count_is_not_read_from_the_date(house: House) -> None:
    starts = house.concert_date.starts_at.astimezone(zone_of(house.organisation))
    wanted = 1 if starts.day != 1 else 3
    conversation, _replies = chat(
        house.organisation,
        f"reserve Winter concert in the atrium {date_words(starts.date(), 'en')} at 7 pm, "
        f"{wanted} ticket",
    )

    conversation.refresh_from_db()
    booking = conversation.state["booking"]
    assert booking["occurrence"] == house.concert_date.pk
    assert booking["quantity"] == wanted


def test_name_and_address_from_one_long_message(house: House) -> None:
    day = date_words(house.concert_date.starts_at.astimezone(zone_of(house.organisation)), "de")
    conversation, (reply,) = chat(
        house.organisation,
        f"1 Karte für Winterkonzert im Lichthof am {day}, mein Name ist Lea Wolf, "
        "lea.wolf@example.org",
    )

    conversation.refresh_from_db()
    booking = conversation.state["booking"]
    assert booking["name"] == "Lea Wolf"
    assert booking["email"] == "lea.wolf@example.org"
    assert booking["step"] == "newsletter"  # nothing else left to ask
    assert "Newsletter" in reply.text


def test_a_name_introduced_at_a_later_step(house: House) -> None:
    day = date_words(house.concert_date.starts_at.astimezone(zone_of(house.organisation)), "en")
    conversation, _replies = chat(
        house.organisation,
        f"1 ticket for Winter concert in the atrium on {day}",
        "I'm Tom White, tom.white@example.com",
    )

    conversation.refresh_from_db()
    booking = conversation.state["booking"]
    assert booking["name"] == "Tom White"
    assert booking["email"] == "tom.white@example.com"


def test_i_am_without_a_capitalised_name_is_no_name(house: House) -> None:
    conversation, _replies = chat(house.organisation, "ich möchte Karten kaufen")
    turn = _turn(house, "I am looking for the cloakroom", conversation)
    from publikum.assistant.engine.dialogue import _name_inside

    assert _name_inside(turn.text) is None
    assert _name_inside("Name: lea wolf") == "lea wolf"
    assert _name_inside("mein Name ist falsch geschrieben") is None


# --- programme or knowledge --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["welche veranstaltungen sind rollstuhlgerecht", "which events are wheelchair accessible"],
)
def test_events_filtered_by_accessibility(house: House, text: str) -> None:
    reply = ask(house.organisation, text)

    assert reply.intent == "programme"
    # Only the family tour is marked step-free.
    assert _events(reply) == {house.family_tour.pk}


def test_sign_language_tours_with_the_entry(house: House) -> None:
    reply = ask(house.organisation, "Gibt es Führungen in Gebärdensprache?")

    assert reply.intent == "programme"
    assert _events(reply) == {house.sign_tour.pk}
    assert "sign_language" in _entry_keys(reply)
    assert "Deutscher Gebärdensprache" in reply.text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("gibt es auch führungen auf englisch", "tour_languages"),
        ("wie ist eure telefonnummer", "contact"),
    ],
)
def test_a_question_about_an_offer_in_general_gets_the_entry(
    house: House, text: str, key: str
) -> None:
    reply = ask(house.organisation, text)

    assert key in _entry_keys(reply)
    assert not _events(reply)
    assert not any(s["type"] == "venue" for s in reply.sources)


def test_a_title_asked_about_lists_its_dates(house: House) -> None:
    reply = ask(house.organisation, "wann ist die nächste Druckwerkstatt für Kinder")

    assert reply.intent == "programme"
    assert _events(reply) == {house.workshop.pk}


def test_dates_still_to_come_are_listed_before_running_exhibitions(house: House) -> None:
    reply = ask(house.organisation, "Was gibt es zur Stadtgeschichte?")

    assert _events(reply) == {house.family_tour.pk, house.exhibition.pk}
    assert reply.text.index("Familienführung") < reply.text.index("Stadt im Wandel")


# --- titles and counts -------------------------------------------------------------------------


def _turn(house: House, text: str, conversation: Conversation | None = None) -> Turn:
    org = house.organisation
    return Turn(
        conversation=conversation or Conversation(organisation=org),
        organisation=org,
        settings=settings_of(org),
        text=text,
        language="en" if text.isascii() and " the " in f" {text} " else "de",
        now=timezone.now(),
        zone=zone_of(org),
        state={},
    )


def test_a_title_is_named_by_its_rare_words_not_by_everyday_ones(house: House) -> None:
    opening = ProgrammeItem.objects.create(
        organisation=house.organisation,
        slug="eroeffnung",
        kind="talk",
        title_de="Eröffnung: Von oben",
        title_en="Opening: From above",
    )

    named = titles.title_match(_turn(house, "Winterkonzert im Lichthof"))
    assert named.strong
    assert named.items == {house.concert.pk}
    assert not titles.title_match(_turn(house, "are you open on good friday")).strong
    assert not titles.title_match(_turn(house, "is it open at the weekend")).strong
    assert titles.title_match(_turn(house, "Opening: From above, 2 tickets")).items == {opening.pk}


def test_counts_skip_the_date_and_the_title(house: House) -> None:
    day = date_words(house.saturday + timedelta(days=7), "en")  # "Saturday, 5 December"
    assert (
        titles.ticket_count(_turn(house, f"the Winter concert in the atrium {day}, 2 tickets")) == 2
    )
    assert titles.ticket_count(_turn(house, "3")) == 3
