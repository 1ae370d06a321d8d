"""The staff API of the inbox over real HTTP: list, get, reply, assign, close."""

from __future__ import annotations

import pytest

from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Message,
    Note,
)
from publikum.conversations.tests.conftest import make_conversation
from publikum.core.models import Role

pytestmark = pytest.mark.django_db


def test_list_is_filtered_paginated_and_overdue_first(api, organisation, token_factory):
    overdue = make_conversation(organisation, text="alt", waiting_hours=30)
    recent = make_conversation(organisation, text="neu", waiting_hours=1)
    mailed = make_conversation(
        organisation, text="mail", channel=ConversationChannel.EMAIL, email="a@example.org"
    )
    assistant = make_conversation(organisation, text="danke", handed_over=False)
    client = api(token_factory(organisation, Role.VIEWER))

    everything = client.get("/conversations")
    assert everything.status_code == 200
    body = everything.json()
    assert body["count"] == 4
    assert body["items"][0]["id"] == overdue.pk
    assert {c["id"] for c in body["items"]} == {overdue.pk, recent.pk, mailed.pk, assistant.pk}

    by_channel = client.get("/conversations", params={"channel": "email"}).json()
    assert [c["id"] for c in by_channel["items"]] == [mailed.pk]
    by_status = client.get("/conversations", params={"status": "assistant"}).json()
    assert [c["id"] for c in by_status["items"]] == [assistant.pk]
    bad = client.get("/conversations", params={"status": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"


def test_get_returns_messages_and_notes(api, organisation, token_factory, owner):
    conversation = make_conversation(organisation, text="<script>x</script> Frage")
    Note.objects.create(conversation=conversation, user=owner, text="intern")
    client = api(token_factory(organisation, Role.VIEWER))

    body = client.get(f"/conversations/{conversation.pk}").json()

    assert body["id"] == conversation.pk
    assert body["status"] == "open"
    assert [m["author"] for m in body["messages"]] == ["visitor", "assistant"]
    assert body["messages"][0]["text"] == "<script>x</script> Frage"
    assert body["messages"][1]["intent"] == "unknown"
    assert [n["text"] for n in body["notes"]] == ["intern"]


def test_reply_assign_and_close(api, organisation, token_factory, member_factory, smtp_server):
    conversation = make_conversation(organisation, email="ada@example.org")
    colleague = member_factory(organisation, Role.FRONT_DESK)
    client = api(token_factory(organisation, Role.FRONT_DESK))

    reply = client.post(f"/conversations/{conversation.pk}/reply", json={"text": "Gern!"})
    assert reply.status_code == 201
    assert reply.json()["delivery"] == "email"
    assert reply.json()["author"] == "staff"
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0].recipients == ["ada@example.org"]

    assigned = client.post(f"/conversations/{conversation.pk}/assign", json={"user": colleague.pk})
    assert assigned.status_code == 200
    assert assigned.json()["assigned_to_id"] == colleague.pk
    unassigned = client.post(f"/conversations/{conversation.pk}/assign", json={"user": None})
    assert unassigned.json()["assigned_to_id"] is None

    closed = client.post(f"/conversations/{conversation.pk}/close")
    assert closed.status_code == 200
    assert closed.json()["status"] == "done"
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.DONE


def test_bad_writes_get_clear_errors(
    api, organisation, other_organisation, token_factory, member_factory
):
    conversation = make_conversation(organisation)  # no address, visitor gone
    stranger = member_factory(other_organisation, Role.OWNER)
    client = api(token_factory(organisation, Role.OWNER))

    no_address = client.post(f"/conversations/{conversation.pk}/reply", json={"text": "Hallo"})
    assert no_address.status_code == 422
    error = no_address.json()["error"]
    # The message is in the request's language (German by default); the field says it in
    # English for programs.
    assert "E-Mail-Adresse" in error["message"]
    assert "no e-mail address" in error["fields"]["text"][0]
    empty = client.post(f"/conversations/{conversation.pk}/reply", json={"text": "  "})
    assert empty.status_code == 422
    unknown_field = client.post(
        f"/conversations/{conversation.pk}/reply", json={"text": "x", "cc": "y"}
    )
    assert unknown_field.status_code == 422
    outsider = client.post(f"/conversations/{conversation.pk}/assign", json={"user": stranger.pk})
    assert outsider.status_code == 422
    assert outsider.json()["error"]["fields"] == {"user": ["not a member of this organisation"]}
    assert not Message.objects.filter(author=Author.STAFF).exists()
    assert Conversation.objects.get().assigned_to is None


def test_a_viewer_reads_but_does_not_write(api, organisation, token_factory):
    conversation = make_conversation(organisation, email="ada@example.org")
    client = api(token_factory(organisation, Role.VIEWER))

    assert client.get(f"/conversations/{conversation.pk}").status_code == 200
    for path, body in (("reply", {"text": "x"}), ("assign", {"user": None}), ("close", None)):
        response = client.post(f"/conversations/{conversation.pk}/{path}", json=body)
        assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN


def test_another_organisations_conversation_is_not_found(
    api, organisation, other_organisation, token_factory
):
    conversation = make_conversation(organisation, email="ada@example.org")
    client = api(token_factory(other_organisation, Role.OWNER))

    assert client.get("/conversations").json()["count"] == 0
    assert client.get(f"/conversations/{conversation.pk}").status_code == 404
    for path, body in (("reply", {"text": "x"}), ("assign", {"user": None}), ("close", None)):
        response = client.post(f"/conversations/{conversation.pk}/{path}", json=body)
        assert response.status_code == 404
    assert client.get("/conversations/99999999999999999999").status_code in {404, 422}
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    assert not Message.objects.filter(author=Author.STAFF).exists()
