"""The booking dialogue: date, tickets per category, name, e-mail, newsletter, summary,
booking through the bookings service; changes, cancelling and the service's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from publikum.assistant.services import message_post
from publikum.assistant.tests.engine_house import House, build_house
from publikum.assistant.tests.test_engine import chat
from publikum.audience.models import SubscriptionRequest
from publikum.bookings.models import Booking, BookingSource
from publikum.conversations.models import Conversation, Message
from publikum.core.models import Organisation
from publikum.programme.models import OccurrenceStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def house(organisation: Organisation) -> House:
    return build_house(organisation)


@pytest.fixture
def immediate_tasks(settings: Any) -> None:
    """Background jobs (the mails) run at once after the commit, as a worker would."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "mail", "periodic"],
        }
    }


def lines_of(booking: Booking) -> dict[str, int]:
    return {line.name_de: line.quantity for line in booking.lines.all()}


def test_a_booking_with_changes_along_the_way(house: House) -> None:
    conversation, replies = chat(
        house.organisation,
        "Ich möchte Karten für die Familienführung buchen",
        "Samstag",
        "2 Erwachsene und 1 Kind",
        "doch 3 Erwachsene und 1 Kind",
        "Anna Schmidt",
        "anna@example.org",
        "Nein",
        "lieber Sonntag",
        "Ja",
    )
    first, chosen, *_rest, summary, changed, done = replies

    # Two dates fit: they are offered as numbered quick replies.
    assert "1. Samstag, 28. November, 15:00 Uhr" in first.text or "1. Samstag" in first.text
    assert [o["text"] for o in first.options] == ["1", "2"]
    # The choice is confirmed back in words.
    assert chosen.text.startswith("Gern: Samstag,")
    assert "Familienführung: Was Dinge erzählen" in chosen.text
    assert "3 × Erwachsene und 1 × Kinder, zusammen 28 €" in summary.text
    assert "Soll ich verbindlich buchen?" in summary.text
    assert changed.text.startswith("Gern: Sonntag,")
    assert "Bitte prüfen Sie" in changed.text

    booking = Booking.objects.get()
    assert booking.occurrence == house.family_sunday
    assert booking.source == BookingSource.ASSISTANT
    assert (booking.name, booking.email, booking.quantity) == (
        "Anna Schmidt",
        "anna@example.org",
        4,
    )
    assert lines_of(booking) == {"Erwachsene": 3, "Kinder": 1}
    assert done.booking is not None
    assert done.booking["code"] == booking.code
    assert done.booking["quantity"] == 4
    assert booking.code in done.text
    assert not SubscriptionRequest.objects.exists()  # newsletter: no
    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.contact is not None
    assert stored.contact.email == "anna@example.org"
    assert stored.state.get("booking") is None
    assert Message.objects.get(conversation=conversation, booking_code=booking.code).author == (
        "assistant"
    )


def test_cancel_mid_dialogue(house: House) -> None:
    conversation, replies = chat(
        house.organisation,
        "Ich möchte die Familienführung am Sonntag buchen",
        "2 Kinder",
        "abbrechen",
    )

    assert "abgebrochen" in replies[-1].text
    assert not Booking.objects.exists()
    assert "booking" not in Conversation.objects.get(pk=conversation.pk).state


def test_booking_from_a_programme_answer_with_newsletter(
    house: House,
    smtp_server: Any,
    immediate_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _conversation, replies = chat(
            house.organisation,
            "Gibt es Führungen in Gebärdensprache?",
            "1",
            "2",
            "Max Muster",
            "max@example.org",
            "ja gerne",
            "ja",
        )

    # One price category: no question about categories.
    assert "Wie viele Karten" in replies[1].text
    assert "Preise" not in replies[1].text
    booking = Booking.objects.get()
    assert booking.occurrence == house.sign_date
    assert booking.quantity == 2
    assert replies[-1].booking is not None
    assert "Newsletter" in replies[-1].text
    assert SubscriptionRequest.objects.filter(contact__email="max@example.org").exists()
    # The confirmation and the newsletter's double opt-in went out over SMTP.
    assert {tuple(m.recipients) for m in smtp_server.messages} == {("max@example.org",)}
    assert len(smtp_server.messages) == 2
    assert any(booking.code in m.subject or booking.code in m.text for m in smtp_server.messages)


def test_english_dialogue_in_one_go(house: House) -> None:
    _conversation, replies = chat(
        house.organisation,
        "I'd like to book 2 tickets for the tour in sign language",
        "John Smith",
        "john@example.com",
        "no thanks",
        "yes",
    )

    assert replies[0].language == "en"
    assert replies[0].text.startswith("Fine: ")
    assert "Which name" in replies[0].text
    assert "Please check" in replies[3].text
    assert replies[-1].text.startswith("Your booking is confirmed! Your booking code:")
    assert Booking.objects.get().quantity == 2


def test_sold_out_offers_a_way_on(house: House) -> None:
    _conversation, replies = chat(
        house.organisation,
        "Ich möchte 3 Karten für das Winterkonzert",
        "Eva Klein",
        "eva@example.org",
        "nein",
        "ja",
    )

    refused = replies[-1]
    assert refused.booking is None
    assert "nicht mehr genug Plätze" in refused.text
    assert "Wie viele Karten" in refused.text
    assert not Booking.objects.exists()

    conversation = Conversation.objects.get()
    _c, reply = message_post(
        organisation=house.organisation, conversation_id=conversation.public_id, text="2"
    )
    assert "Bitte prüfen Sie" in reply.text
    _c, reply = message_post(
        organisation=house.organisation, conversation_id=conversation.public_id, text="ja"
    )
    assert reply.booking is not None
    assert Booking.objects.get().quantity == 2


def test_a_date_cancelled_meanwhile_is_explained(house: House) -> None:
    conversation, replies = chat(
        house.organisation,
        "Ich möchte 2 Karten für die Druckwerkstatt",
        "Kai Berg",
        "kai@example.org",
        "nein",
    )
    assert "Bitte prüfen Sie" in replies[-1].text
    house.workshop_date.status = OccurrenceStatus.CANCELLED
    house.workshop_date.save()

    _c, reply = message_post(
        organisation=house.organisation, conversation_id=conversation.public_id, text="ja"
    )

    assert reply.booking is None
    assert "nicht gebucht werden" in reply.text or "ausgebucht" in reply.text
    assert not Booking.objects.exists()


def test_change_the_address_and_the_date_at_the_summary(house: House) -> None:
    _conversation, replies = chat(
        house.organisation,
        "book the family tour on Saturday",
        "1 adult and 2 children",
        "Ann Lee",
        "ann@example.com",
        "no",
        "other e-mail: ann.lee@example.com",
        "change the date",
    )

    assert "ann.lee@example.com" in replies[5].text
    assert "Please check" in replies[5].text
    assert "1 × Adults and 2 × Children" in replies[5].text
    # Changing the date offers the item's other dates.
    assert replies[6].options
    assert "Sunday, 29 November" in replies[6].text


def test_a_question_on_the_side_keeps_the_dialogue(house: House) -> None:
    conversation, replies = chat(
        house.organisation,
        "Ich möchte 2 Karten für die Führung in Gebärdensprache",
        "Gibt es ein Café?",
        "Lena Roth",
    )

    assert house.cafe.answer_de in replies[1].text
    assert "Zurück zur Buchung: Auf welchen Namen" in replies[1].text
    assert "E-Mail-Adresse" in replies[2].text
    assert Conversation.objects.get(pk=conversation.pk).state["booking"]["name"] == "Lena Roth"


def test_booking_without_any_bookable_date(organisation: Organisation) -> None:
    _conversation, replies = chat(organisation, "Ich möchte Tickets buchen")

    assert "keine Termine" in replies[0].text
    assert not replies[0].handoff


def test_thanks_after_a_programme_answer_is_not_a_yes(house: House) -> None:
    conversation, replies = chat(
        house.organisation, "Gibt es Führungen in Gebärdensprache?", "Super, danke!"
    )

    assert replies[1].intent == "thanks"
    assert "booking" not in Conversation.objects.get(pk=conversation.pk).state


def test_a_repeated_yes_after_a_lost_state_books_once(house: House) -> None:
    """The booking is made but storing the dialogue's state after it fails: the visitor's
    next "ja" finds the summary's state again and must get the same booking back."""
    conversation, replies = chat(
        house.organisation,
        "Ich möchte 2 Karten für die Druckwerkstatt",
        "Kai Berg",
        "kai@example.org",
        "nein",
    )
    assert "Bitte prüfen Sie" in replies[-1].text
    before = Conversation.objects.get(pk=conversation.pk).state

    _c, first = message_post(
        organisation=house.organisation, conversation_id=conversation.public_id, text="ja"
    )
    assert first.booking is not None
    Conversation.objects.filter(pk=conversation.pk).update(state=before)  # the lost write
    _c, again = message_post(
        organisation=house.organisation, conversation_id=conversation.public_id, text="ja"
    )

    assert again.booking is not None
    assert again.booking["code"] == first.booking["code"]
    booking = Booking.objects.get()
    assert booking.code == first.booking["code"]
    assert booking.quantity == 2


def test_a_changed_booking_after_the_summary_is_a_new_one(house: House) -> None:
    _conversation, _replies = chat(
        house.organisation,
        "Ich möchte 2 Karten für die Druckwerkstatt",
        "Kai Berg",
        "kai@example.org",
        "nein",
        "ja",
        "Ich möchte 1 Karte für die Druckwerkstatt",
        "Kai Berg",
        "kai@example.org",
        "nein",
        "ja",
    )
    assert sorted(Booking.objects.values_list("quantity", flat=True)) == [1, 2]
