"""The public contact form: a message reaches the inbox; robots and floods do not."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from publikum.audience.models import Consent, Contact
from publikum.conversations.models import Conversation, ConversationChannel, ConversationStatus

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Ada Guest",
    "email": "ada@example.org",
    "message": "Gibt es den Katalog zur Textil-Ausstellung auch zu kaufen?",
    "website": "",
}


def url(organisation, name: str = "public_contact") -> str:
    return reverse(name, kwargs={"org": organisation.slug})


def test_a_message_becomes_an_open_conversation_linked_to_the_contact(organisation):
    client = Client(enforce_csrf_checks=False)
    page = client.get(url(organisation))
    assert page.status_code == 200
    assert 'name="website"' in page.content.decode()

    response = client.post(url(organisation), FORM)

    assert response.status_code == 302
    assert response["Location"] == url(organisation, "public_contact_sent")
    conversation = Conversation.objects.get(organisation=organisation)
    assert conversation.channel == ConversationChannel.FORM
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.awaiting_since is not None
    assert conversation.visitor_name == "Ada Guest"
    assert conversation.messages.get().text == FORM["message"]
    contact = Contact.objects.get(organisation=organisation, email="ada@example.org")
    assert conversation.contact == contact
    # Writing to the house is no consent to marketing mail.
    assert not Consent.objects.filter(contact=contact).exists()


@pytest.mark.parametrize(
    ("language", "thanks"),
    [("de", "Vielen Dank für Ihre Nachricht"), ("en", "Thank you for your message")],
)
def test_the_thank_you_page_speaks_the_visitors_language(organisation, language, thanks):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    response = client.post(url(organisation), FORM, follow=True)
    assert response.status_code == 200
    assert 'data-testid="contact-sent"' in response.content.decode()
    if language == "en":
        assert thanks in response.content.decode()
    assert Conversation.objects.get().language == language


def test_the_honeypot_gets_the_same_answer_and_stores_nothing(organisation):
    response = Client().post(url(organisation), {**FORM, "website": "http://spam.example"})
    assert response.status_code == 302
    assert response["Location"] == url(organisation, "public_contact_sent")
    assert not Conversation.objects.exists()
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"email": "not-an-address"},
        {"message": ""},
        {"message": "   "},
        {"message": "x" * 4001},
        {"name": ""},
    ],
)
def test_bad_input_is_explained_and_stores_nothing(organisation, changes):
    response = Client().post(url(organisation), {**FORM, **changes})
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not Conversation.objects.exists()


def test_the_form_is_rate_limited_per_address(organisation):
    client = Client()
    statuses = [client.post(url(organisation), FORM).status_code for _ in range(7)]
    assert statuses[:5] == [302] * 5
    assert statuses[5:] == [429, 429]
    assert Conversation.objects.count() == 5
    # Another address is not affected.
    other = Client(REMOTE_ADDR="10.0.0.9").post(url(organisation), FORM)
    assert other.status_code == 302


def test_script_in_the_message_is_escaped_for_staff(organisation, owner_client):
    Client().post(
        url(organisation), {**FORM, "name": "<script>alert(1)</script>", "message": "<b>hi</b>"}
    )
    conversation = Conversation.objects.get()
    html = owner_client.get(
        reverse(
            "inbox_conversation",
            kwargs={"org": organisation.slug, "conversation_id": conversation.pk},
        )
    ).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html


def test_an_unknown_organisation_is_not_found():
    assert Client().get("/no-such-house/contact/").status_code == 404
