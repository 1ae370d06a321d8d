"""The assistant's public API: messages, polling, limits, foreign ids, hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from publikum.assistant.models import AssistantSettings
from publikum.assistant.tests.engine_house import House, build_house
from publikum.conversations.models import Author, Conversation, Message
from publikum.conversations.services import message_add
from publikum.core.models import Organisation

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>alert('x')</script><img src=x onerror=alert(1)>"


@pytest.fixture
def house(organisation: Organisation) -> House:
    return build_house(organisation)


def post(client: Client, org: str, body: Any, **extra: Any) -> Any:
    return client.post(
        f"/api/v1/public/{org}/assistant/messages",
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        **extra,
    )


def test_a_conversation_over_the_api(house: House) -> None:
    # A browser-like client that enforces CSRF: the public API must not need a token.
    client = Client(enforce_csrf_checks=True)

    first = post(
        client, house.organisation.slug, {"conversation": None, "text": "Gibt es ein Café?"}
    )

    assert first.status_code == 200, first.content
    data = first.json()
    assert set(data) >= {
        "conversation",
        "reply",
        "intent",
        "confidence",
        "sources",
        "handoff",
        "booking",
        "options",
    }
    assert data["reply"] == {"text": house.cafe.answer_de, "language": "de"}
    assert data["sources"] == [{"type": "knowledge", "id": house.cafe.pk}]
    assert data["handoff"] is False
    assert data["booking"] is None
    assert len(data["conversation"]) >= 32

    second = post(
        client,
        house.organisation.slug,
        {"conversation": data["conversation"], "text": "Ich möchte mit einem Menschen sprechen"},
    )
    assert second.status_code == 200
    assert second.json()["handoff"] is True
    assert Conversation.objects.get().messages.count() == 4


def test_polling_returns_staff_replies_after_an_id(house: House) -> None:
    client = Client()
    data = post(client, house.organisation.slug, {"text": "Kann ich mit jemandem sprechen?"}).json()
    conversation = Conversation.objects.get(public_id=data["conversation"])
    message_add(conversation, author=Author.STAFF, text="Hallo, hier ist Jana vom Museum.")

    response = client.get(
        f"/api/v1/public/{house.organisation.slug}/assistant/conversations/"
        f"{data['conversation']}?after={data['last_message']}"
    )

    assert response.status_code == 200
    body = response.json()
    assert [(m["author"], m["text"]) for m in body["messages"]] == [
        ("staff", "Hallo, hier ist Jana vom Museum.")
    ]
    assert body["handoff"] is True
    conversation.refresh_from_db()
    assert conversation.visitor_seen_at is not None

    everything = client.get(
        f"/api/v1/public/{house.organisation.slug}/assistant/conversations/{data['conversation']}"
    ).json()
    assert [m["author"] for m in everything["messages"]] == ["visitor", "assistant", "staff"]


def test_unknown_organisation_and_foreign_conversation_are_404(
    house: House, other_organisation: Organisation
) -> None:
    client = Client()
    data = post(client, house.organisation.slug, {"text": "Hallo"}).json()

    assert post(client, "no-such-house", {"text": "Hallo"}).status_code == 404
    foreign = post(
        client, other_organisation.slug, {"conversation": data["conversation"], "text": "Hallo"}
    )
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"
    assert (
        client.get(
            f"/api/v1/public/{other_organisation.slug}/assistant/conversations/{data['conversation']}"
        ).status_code
        == 404
    )
    guessed = post(client, house.organisation.slug, {"conversation": "x" * 32, "text": "Hallo"})
    assert guessed.status_code == 404
    assert Message.objects.filter(conversation__organisation=other_organisation).count() == 0


def test_a_switched_off_assistant_is_not_found(house: House) -> None:
    AssistantSettings.objects.filter(organisation=house.organisation).update(enabled=False)

    assert post(Client(), house.organisation.slug, {"text": "Hallo"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": ""}, 422),
        ({"text": "   "}, 422),
        ({"text": "a" * 4001}, 422),
        ({"text": 12}, 422),
        ({}, 422),
        ({"text": "Hallo", "extra": 1}, 422),
        ("{not json", 400),
    ],
)
def test_bad_input_is_a_clear_error(house: House, body: Any, status: int) -> None:
    response = post(Client(), house.organisation.slug, body)

    assert response.status_code == status
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    "text",
    [
        "Quelle heure est-il à Paris?",
        "ksjdhf kjsdhf ksjdhf",
        "ä" * 3999,
        "🙂🙂🙂",
        "SELECT * FROM conversations; --",
    ],
)
def test_odd_text_never_fails(house: House, text: str) -> None:
    response = post(Client(), house.organisation.slug, {"text": text})

    assert response.status_code == 200
    assert response.json()["reply"]["text"]


def test_a_script_payload_is_stored_verbatim_and_returned_as_json(house: House) -> None:
    client = Client()
    response = post(client, house.organisation.slug, {"text": PAYLOAD})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    stored = Message.objects.get(author=Author.VISITOR)
    assert stored.text == PAYLOAD
    transcript = client.get(
        f"/api/v1/public/{house.organisation.slug}/assistant/conversations/{data['conversation']}"
    )
    assert transcript["Content-Type"].startswith("application/json")
    assert transcript.json()["messages"][0]["text"] == PAYLOAD


def test_rate_limit_per_conversation_and_per_address(house: House) -> None:
    client = Client()
    data = post(client, house.organisation.slug, {"text": "Hallo"}).json()
    statuses = [
        post(
            client,
            house.organisation.slug,
            {"conversation": data["conversation"], "text": "Danke"},
        ).status_code
        for _ in range(21)
    ]
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429

    # A new conversation from the same address: the address's limit (30 a minute) is next.
    more = [post(client, house.organisation.slug, {"text": "Hallo"}).status_code for _ in range(10)]
    assert 429 in more
    limited = post(client, house.organisation.slug, {"text": "Hallo"})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited["Retry-After"] == "60"
    # Another address is not affected.
    assert (
        post(client, house.organisation.slug, {"text": "Hallo"}, REMOTE_ADDR="10.0.0.9").status_code
        == 200
    )


def test_the_widget_script_and_the_full_page(house: House) -> None:
    client = Client()
    script = client.get(f"/{house.organisation.slug}/assistant.js")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("text/javascript")
    body = script.content.decode()
    assert f"/api/v1/public/{house.organisation.slug}/assistant/" in body
    assert "textContent" in body
    assert "innerHTML" not in body
    code = body.split("*/", 1)[1]  # after the comment with the usage example
    assert "http://" not in code
    assert "https://" not in code

    page = client.get(f"/{house.organisation.slug}/assistant/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-mode="embedded"' in html
    assert html.count("assistant.js") == 1

    home = client.get(f"/{house.organisation.slug}/")
    assert f"/{house.organisation.slug}/assistant.js" in home.content.decode()
    assert client.get("/no-such-house/assistant.js").status_code == 404


def test_polling_is_limited_per_conversation_too(house: House) -> None:
    client = Client()
    data = post(client, house.organisation.slug, {"text": "Hallo"}).json()
    other = post(client, house.organisation.slug, {"text": "Hallo"}, REMOTE_ADDR="10.0.0.8")
    base = f"/api/v1/public/{house.organisation.slug}/assistant/conversations/"

    # Each poll from another address: only the conversation's own limit (60 a minute) applies.
    statuses = [
        client.get(f"{base}{data['conversation']}", REMOTE_ADDR=f"10.1.0.{n}").status_code
        for n in range(61)
    ]
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    limited = client.get(f"{base}{data['conversation']}", REMOTE_ADDR="10.2.0.1")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited["Retry-After"] == "60"
    # Another conversation is not affected.
    assert client.get(f"{base}{other.json()['conversation']}").status_code == 200


def test_the_reply_names_the_ids_it_stored(house: House) -> None:
    client = Client()
    data = post(client, house.organisation.slug, {"text": "Gibt es ein Café?"}).json()
    conversation = Conversation.objects.get(public_id=data["conversation"])
    stored = list(conversation.messages.order_by("pk").values_list("pk", "author"))
    assert data["message_ids"] == [pk for pk, _author in stored]
    assert [author for _pk, author in stored] == ["visitor", "assistant"]
