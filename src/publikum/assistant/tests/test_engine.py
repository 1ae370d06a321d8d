"""The assistant's answers: opening hours with holidays and exceptions, prices, knowledge,
address, programme, small talk and every kind of hand-over."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from publikum.assistant.engine import Reply
from publikum.assistant.models import AssistantSettings, HolidayRule, KnowledgeEntry, Topic
from publikum.assistant.services import message_post
from publikum.assistant.tests.engine_house import BERLIN, House, build_house
from publikum.audience.models import Contact
from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationStatus,
    HandoffReason,
    Message,
)
from publikum.core.errors import NotFound, ValidationFailed
from publikum.core.models import Organisation

pytestmark = pytest.mark.django_db


@pytest.fixture
def house(organisation: Organisation) -> House:
    return build_house(organisation)


def chat(
    organisation: Organisation, *texts: str, now: datetime | None = None
) -> tuple[Conversation, list[Reply]]:
    conversation_id = None
    replies = []
    conversation = None
    for text in texts:
        conversation, reply = message_post(
            organisation=organisation, conversation_id=conversation_id, text=text, now=now
        )
        conversation_id = conversation.public_id
        replies.append(reply)
    assert conversation is not None
    return conversation, replies


def ask(organisation: Organisation, text: str, now: datetime | None = None) -> Reply:
    return chat(organisation, text, now=now)[1][0]


def moment(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=BERLIN)


# --- opening hours ---------------------------------------------------------------------------


def test_todays_hours_and_the_regular_week(house: House) -> None:
    reply = ask(house.organisation, "Wann habt ihr heute geöffnet?", now=moment(2026, 11, 24))

    assert reply.intent == "opening_hours"
    assert reply.text.startswith(
        "Heute, Dienstag, 24. November, haben wir von 10 bis 18 Uhr geöffnet."
    )
    assert "Mo geschlossen, Di–So 10–18 Uhr" in reply.text
    assert {"type": "opening_hours", "id": "2026-11-24"} in reply.sources
    assert not reply.handoff


def test_closed_on_mondays(house: House) -> None:
    reply = ask(house.organisation, "Habt ihr heute offen?", now=moment(2026, 11, 23))

    assert reply.text.startswith("Heute, Montag, 23. November, haben wir geschlossen.")


def test_a_holiday_follows_the_holiday_rule(house: House) -> None:
    # Easter Monday is a Monday (closed), but holidays keep Sunday hours here.
    reply = ask(house.organisation, "Habt ihr am Ostermontag offen?", now=moment(2026, 3, 30))

    assert reply.text == (
        "Am Ostermontag, 6. April, haben wir von 10 bis 18 Uhr geöffnet (Feiertag: wie sonntags)."
    )
    assert reply.sources == [{"type": "opening_hours", "id": "2026-04-06"}]

    AssistantSettings.objects.filter(organisation=house.organisation).update(
        holiday_rule=HolidayRule.CLOSED
    )
    closed = ask(house.organisation, "Habt ihr am Ostermontag offen?", now=moment(2026, 3, 30))
    assert closed.text.startswith("Am Ostermontag, 6. April, haben wir geschlossen")


def test_exceptions_win_over_regular_hours(house: House) -> None:
    christmas_eve = ask(
        house.organisation, "Habt ihr an Heiligabend geöffnet?", now=moment(2026, 12, 1)
    )
    assert "24. Dezember" in christmas_eve.text
    assert "geschlossen" in christmas_eve.text
    assert "Heiligabend geschlossen" in christmas_eve.text

    new_years_eve = ask(
        house.organisation, "Wie lange habt ihr Silvester offen?", now=moment(2026, 12, 1)
    )
    assert "von 10 bis 14 Uhr" in new_years_eve.text


def test_hours_in_english_for_an_english_question(house: House) -> None:
    reply = ask(house.organisation, "When are you open on Sunday?", now=moment(2026, 11, 24))

    assert reply.language == "en"
    assert reply.text == "On Sunday, 29 November, we are open from 10:00 to 18:00."


# --- prices, knowledge, address -------------------------------------------------------------


def test_prices_from_the_price_list(house: House) -> None:
    reply = ask(house.organisation, "Was kostet der Eintritt?")

    assert reply.intent == "prices"
    assert "Erwachsene 9 €" in reply.text
    assert "Ermäßigt 6,50 € (Schüler, Studierende)" in reply.text
    assert "Kinder unter 18 frei" in reply.text
    assert [s["type"] for s in reply.sources] == ["prices"] * 3


def test_a_reduction_question_finds_the_knowledge_entry(house: House) -> None:
    reply = ask(house.organisation, "Gibt es Rabatt für Studenten?")

    assert reply.sources == [{"type": "knowledge", "id": house.reductions.pk}]
    assert reply.text == house.reductions.answer_de


@pytest.mark.parametrize(
    ("question", "entry", "language"),
    [
        ("Gibt es ein Café?", "cafe", "de"),
        ("Where can I leave my backpack?", "lockers", "en"),
        ("Komme ich mit dem Rollstuhl rein?", "step_free", "de"),
    ],
)
def test_knowledge_answers_name_their_entry(
    house: House, question: str, entry: str, language: str
) -> None:
    expected: KnowledgeEntry = getattr(house, entry)

    reply = ask(house.organisation, question)

    assert reply.sources == [{"type": "knowledge", "id": expected.pk}]
    assert reply.text == expected.answer(language)
    assert reply.language == language
    assert reply.confidence >= 0.35


def test_address_from_the_main_venue_or_an_address_entry(house: House) -> None:
    reply = ask(house.organisation, "Wo finde ich euch?")
    assert "Museumsplatz 1, 10117 Berlin" in reply.text
    assert "U-Bahn Museumsinsel" in reply.text

    entry = KnowledgeEntry.objects.create(
        organisation=house.organisation,
        key="address",
        topic=Topic.ADDRESS,
        question_de="Wo finde ich euch? Wie ist die Adresse?",
        answer_de="Am Museumsplatz 1, direkt an der U-Bahn.",
        phrases_de="Anfahrt\nAdresse\nWie komme ich zu euch?",
    )
    from publikum.assistant.nlu import retrieval

    retrieval.clear_cache()
    reply = ask(house.organisation, "Wie ist eure Adresse?")
    assert reply.sources == [{"type": "knowledge", "id": entry.pk}]


# --- programme -------------------------------------------------------------------------------


def test_programme_for_children_on_saturday(house: House) -> None:
    reply = ask(house.organisation, "Was läuft am Samstag für Kinder?")

    assert reply.intent == "programme"
    assert "Familienführung" in reply.text
    assert "Samstag, 28. November, 15:00 Uhr" in reply.text or "15:00 Uhr" in reply.text
    assert {"type": "event", "id": house.family_tour.pk} in reply.sources
    assert {"type": "event", "id": house.concert.pk} not in reply.sources
    assert reply.options
    assert reply.options[0]["text"] == "1"


def test_programme_by_accessibility_and_kind(house: House) -> None:
    reply = ask(house.organisation, "Gibt es Führungen in Gebärdensprache?")

    assert reply.intent == "programme"
    assert [s for s in reply.sources if s["type"] == "event"] == [
        {"type": "event", "id": house.sign_tour.pk}
    ]


def test_programme_by_theme(house: House) -> None:
    reply = ask(house.organisation, "Was gibt es zur Stadtgeschichte?")

    events = {s["id"] for s in reply.sources if s["type"] == "event"}
    assert events == {house.family_tour.pk, house.exhibition.pk}
    assert "noch bis" in reply.text  # the running exhibition says until when


def test_no_match_offers_what_is_on_instead(house: House) -> None:
    reply = ask(house.organisation, "Gibt es morgen ein Konzert?")

    assert "nichts gefunden" in reply.text
    assert "stattdessen" in reply.text
    assert {"type": "event", "id": house.concert.pk} in reply.sources


def test_english_programme_question(house: House) -> None:
    reply = ask(house.organisation, "Are there any concerts coming up?")

    assert reply.language == "en"
    assert "Winter concert in the atrium" in reply.text


# --- small talk ------------------------------------------------------------------------------


def test_greeting_thanks_goodbye(house: House) -> None:
    _conversation, replies = chat(house.organisation, "Hallo!", "Danke schön", "Tschüss")

    assert [r.intent for r in replies] == ["greeting", "thanks", "goodbye"]
    assert "Stadtmuseum Test" in replies[0].text
    assert replies[1].text.startswith("Gern geschehen")
    assert not any(r.handoff for r in replies)


def test_custom_greeting(house: House) -> None:
    AssistantSettings.objects.filter(organisation=house.organisation).update(
        greeting_en="Welcome to the city museum!"
    )
    assert ask(house.organisation, "Hello there").text == "Welcome to the city museum!"


# --- hand-over -------------------------------------------------------------------------------


def _handed_over(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def test_personal_topic_is_handed_over(house: House) -> None:
    conversation, (reply,) = chat(house.organisation, "Ich möchte mich über die Kasse beschweren")

    assert reply.handoff
    assert "innerhalb eines Werktags" in reply.text
    assert "E-Mail-Adresse" in reply.text
    stored = _handed_over(conversation)
    assert stored.status == ConversationStatus.OPEN
    assert stored.handoff_reason == HandoffReason.PERSONAL_TOPIC
    assert list(stored.messages.values_list("author", flat=True)) == [
        Author.VISITOR,
        Author.ASSISTANT,
    ]


def test_asking_for_a_person(house: House) -> None:
    conversation, (reply,) = chat(house.organisation, "Kann ich mit einem Menschen sprechen?")

    assert reply.handoff
    assert reply.intent == "human"
    assert _handed_over(conversation).handoff_reason == HandoffReason.ASKED_FOR_PERSON


def test_an_address_after_the_hand_over_is_linked(house: House) -> None:
    conversation, replies = chat(
        house.organisation,
        "I would like to talk to a person please",
        "my address is visitor@example.org",
        "and one more thing",
    )

    assert replies[0].handoff
    assert not replies[1].handoff
    assert "visitor@example.org" in replies[1].text
    stored = _handed_over(conversation)
    assert stored.visitor_email == "visitor@example.org"
    assert stored.contact == Contact.objects.get(email="visitor@example.org")
    # Still with staff: later messages wait for a person, no second hand-over.
    assert stored.status == ConversationStatus.OPEN
    assert stored.messages.filter(author=Author.VISITOR).count() == 3
    assert "our team" in replies[2].text


def test_an_address_in_the_hand_over_message_is_used_at_once(house: House) -> None:
    conversation, (reply,) = chat(
        house.organisation, "Ich habe eine Beschwerde, bitte an anna@example.org antworten"
    )

    assert "per E-Mail an anna@example.org" in reply.text
    assert _handed_over(conversation).visitor_email == "anna@example.org"


def test_gibberish_asks_to_rephrase_then_hands_over(house: House) -> None:
    conversation, replies = chat(house.organisation, "asdkjh qwpoeiru", "xkcd vbnm zzz")

    assert not replies[0].handoff
    assert "nicht verstanden" in replies[0].text or "did not understand" in replies[0].text
    assert replies[0].confidence < 0.35
    assert replies[0].options
    assert replies[1].handoff
    assert _handed_over(conversation).handoff_reason == HandoffReason.LOW_CONFIDENCE


def test_yes_to_the_offer_of_a_person_hands_over(house: House) -> None:
    _conversation, replies = chat(house.organisation, "asdkjh qwpoeiru", "ja bitte")

    assert replies[1].handoff


def test_below_the_threshold_is_handed_over(house: House) -> None:
    AssistantSettings.objects.filter(organisation=house.organisation).update(threshold=0.999)

    conversation, (reply,) = chat(house.organisation, "Gibt es ein Café?")

    assert reply.handoff
    assert _handed_over(conversation).handoff_reason == HandoffReason.LOW_CONFIDENCE


def test_another_language_is_answered_in_english_and_handed_over(house: House) -> None:
    conversation, (reply,) = chat(
        house.organisation, "Bonjour, est-ce que le musée est ouvert le lundi?"
    )

    assert reply.language == "en"
    assert reply.text.startswith("Sorry, I can only answer in German or English.")
    assert reply.handoff
    assert _handed_over(conversation).handoff_reason == HandoffReason.OTHER_LANGUAGE


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", None, "x" * 4001])
def test_empty_or_too_long_text_is_refused(house: House, text: Any) -> None:
    with pytest.raises(ValidationFailed):
        message_post(organisation=house.organisation, conversation_id=None, text=text)
    assert not Conversation.objects.exists()


def test_a_conversation_of_another_organisation_is_not_found(
    house: House, other_organisation: Organisation
) -> None:
    conversation, _ = chat(house.organisation, "Hallo")

    with pytest.raises(NotFound):
        message_post(
            organisation=other_organisation,
            conversation_id=conversation.public_id,
            text="Hallo",
        )


def test_the_reply_is_stored_with_what_was_understood(house: House) -> None:
    conversation, (reply,) = chat(house.organisation, "Gibt es ein Café?")

    visitor, assistant = Message.objects.filter(conversation=conversation)
    assert visitor.author == Author.VISITOR
    assert visitor.intent == reply.intent
    assert assistant.text == reply.text
    assert assistant.sources == [{"type": "knowledge", "id": house.cafe.pk}]
    assert assistant.confidence == pytest.approx(reply.confidence)
