"""The inbox pages as staff use them: the list, a conversation, saved replies, settings."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from publikum.audience.models import Interaction
from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    InboxSettings,
    Message,
    Note,
    SavedReply,
)
from publikum.conversations.tests.conftest import logged_in, make_conversation
from publikum.core.models import Role

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def inbox_url(organisation, **params: str) -> str:
    url = reverse("inbox", kwargs={"org": organisation.slug})
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def detail_url(conversation: Conversation, name: str = "inbox_conversation") -> str:
    return reverse(
        name,
        kwargs={"org": conversation.organisation.slug, "conversation_id": conversation.pk},
    )


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="conversation-row" data-id="(\d+)"', html)]


def test_overdue_conversations_come_first_and_are_marked(organisation, member_factory):
    InboxSettings.objects.create(organisation=organisation, overdue_hours=24)
    recent = make_conversation(organisation, text="Frage eins", waiting_hours=2)
    overdue_newer = make_conversation(organisation, text="Frage zwei", waiting_hours=30)
    overdue_oldest = make_conversation(organisation, text="Frage drei", waiting_hours=50)
    waiting = make_conversation(organisation, text="Frage vier", waiting_hours=1)
    Conversation.objects.filter(pk=waiting.pk).update(
        status=ConversationStatus.WAITING, awaiting_since=None
    )
    assistant_only = make_conversation(organisation, text="Danke", handed_over=False)
    client = logged_in(member_factory(organisation, Role.VIEWER))

    html = client.get(inbox_url(organisation)).content.decode()

    assert row_ids(html) == [overdue_oldest.pk, overdue_newer.pk, recent.pk, waiting.pk]
    assert html.count('data-testid="overdue"') == 2
    assert assistant_only.pk not in row_ids(html)
    only_assistant = client.get(inbox_url(organisation, status="assistant")).content.decode()
    assert row_ids(only_assistant) == [assistant_only.pk]


def test_a_shorter_overdue_time_makes_more_conversations_overdue(organisation, owner_client):
    make_conversation(organisation, waiting_hours=5)
    html = owner_client.get(inbox_url(organisation)).content.decode()
    assert 'data-testid="overdue"' not in html

    owner_client.post(
        reverse("inbox_settings", kwargs={"org": organisation.slug}),
        {"overdue_hours": "4", "notify_email": "team@example.org"},
    )

    html = owner_client.get(inbox_url(organisation)).content.decode()
    assert html.count('data-testid="overdue"') == 1
    settings = InboxSettings.objects.get(organisation=organisation)
    assert (settings.overdue_hours, settings.notify_email) == (4, "team@example.org")


def test_filters_by_assignment_channel_and_status(organisation, member_factory):
    me = member_factory(organisation, Role.FRONT_DESK)
    mine = make_conversation(organisation, text="a")
    Conversation.objects.filter(pk=mine.pk).update(assigned_to=me)
    by_mail = make_conversation(
        organisation, text="b", channel=ConversationChannel.EMAIL, email="b@example.org"
    )
    done = make_conversation(organisation, text="c")
    Conversation.objects.filter(pk=done.pk).update(status=ConversationStatus.DONE)
    client = logged_in(me)

    assert row_ids(client.get(inbox_url(organisation, assigned="me")).content.decode()) == [mine.pk]
    unassigned = row_ids(
        client.get(inbox_url(organisation, assigned="unassigned")).content.decode()
    )
    assert set(unassigned) == {by_mail.pk}
    assert row_ids(client.get(inbox_url(organisation, channel="email")).content.decode()) == [
        by_mail.pk
    ]
    assert row_ids(client.get(inbox_url(organisation, status="done")).content.decode()) == [done.pk]
    assert set(row_ids(client.get(inbox_url(organisation, status="all")).content.decode())) == {
        mine.pk,
        by_mail.pk,
        done.pk,
    }
    # A filter value that does not exist is ignored, not an error.
    assert client.get(inbox_url(organisation, status="nonsense", channel="x")).status_code == 200


def test_the_list_is_paginated(organisation, owner_client):
    for i in range(52):
        make_conversation(organisation, text=f"Frage {i}", waiting_hours=1)
    first = owner_client.get(inbox_url(organisation)).content.decode()
    second = owner_client.get(inbox_url(organisation, page="2")).content.decode()
    assert len(row_ids(first)) == 50
    assert len(row_ids(second)) == 2
    assert not set(row_ids(first)) & set(row_ids(second))


def test_visitor_text_is_escaped_in_list_and_detail(organisation, owner_client):
    conversation = make_conversation(
        organisation,
        text=SCRIPT,
        channel=ConversationChannel.EMAIL,
        email="x@example.org",
        name='Mallory <script>alert("n")</script>',
        subject="<script>alert('s')</script>",
    )

    for url in (inbox_url(organisation), detail_url(conversation)):
        html = owner_client.get(url).content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html


def test_detail_shows_the_transcript_with_what_the_assistant_understood(
    organisation, member_factory
):
    conversation = make_conversation(
        organisation, text="Kann ich einen Rollstuhl leihen?", email="ada@example.org", name="Ada"
    )
    client = logged_in(member_factory(organisation, Role.VIEWER))

    html = client.get(detail_url(conversation)).content.decode()

    assert "Kann ich einen Rollstuhl leihen?" in html
    assert "<code>unknown</code>" in html
    assert "0.31" in html or "0,31" in html
    assert 'data-testid="handoff-reason"' in html
    assert "ada@example.org" in html
    contact_url = reverse(
        "contact_detail", kwargs={"org": organisation.slug, "contact_id": conversation.contact_id}
    )
    assert f'href="{contact_url}"' in html
    # A viewer reads, but is offered no reply form.
    assert detail_url(conversation, "inbox_reply") not in html


def test_the_contact_timeline_links_to_the_conversation(organisation, owner_client):
    conversation = make_conversation(organisation, email="ada@example.org", name="Ada Lovelace")
    entry = Interaction.objects.get(contact=conversation.contact, kind="message")
    assert entry.data["conversation"] == conversation.pk

    html = owner_client.get(
        reverse(
            "contact_detail",
            kwargs={"org": organisation.slug, "contact_id": conversation.contact_id},
        )
    ).content.decode()

    assert f'href="{detail_url(conversation)}"' in html


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.VIEWER, False), (Role.FRONT_DESK, True), (Role.EDITOR, True), (Role.OWNER, True)],
)
def test_front_desk_and_up_note_assign_and_change_the_status(
    organisation, member_factory, role, allowed
):
    conversation = make_conversation(organisation)
    user = member_factory(organisation, role)
    client = logged_in(user)

    note = client.post(detail_url(conversation, "inbox_note"), {"text": "Rückruf am Montag"})
    assign = client.post(detail_url(conversation, "inbox_assign"), {"user": str(user.pk)})
    status = client.post(detail_url(conversation, "inbox_status"), {"status": "waiting"})

    conversation.refresh_from_db()
    if allowed:
        assert {note.status_code, assign.status_code, status.status_code} == {302}
        assert Note.objects.get(conversation=conversation).text == "Rückruf am Montag"
        assert conversation.assigned_to == user
        assert conversation.status == ConversationStatus.WAITING
        assert conversation.awaiting_since is None
    else:
        assert {note.status_code, assign.status_code, status.status_code} == {403}
        assert not Note.objects.exists()
        assert conversation.assigned_to is None
        assert conversation.status == ConversationStatus.OPEN


def test_assigning_to_someone_outside_the_organisation_is_refused(
    organisation, other_organisation, owner_client, member_factory
):
    conversation = make_conversation(organisation)
    stranger = member_factory(other_organisation, Role.OWNER)

    response = owner_client.post(detail_url(conversation, "inbox_assign"), {"user": stranger.pk})

    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


def test_reopening_makes_the_conversation_wait_for_a_person_again(organisation, owner_client):
    conversation = make_conversation(organisation)
    owner_client.post(detail_url(conversation, "inbox_status"), {"status": "done"})
    conversation.refresh_from_db()
    assert (conversation.status, conversation.awaiting_since) == ("done", None)

    owner_client.post(detail_url(conversation, "inbox_status"), {"status": "open"})

    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.awaiting_since is not None
    bad = owner_client.post(detail_url(conversation, "inbox_status"), {"status": "assistant"})
    assert bad.status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_another_organisations_member_gets_404(organisation, other_organisation, member_factory):
    conversation = make_conversation(organisation)
    reply = SavedReply.objects.create(organisation=organisation, title="T", text_de="Hallo")
    stranger = logged_in(member_factory(other_organisation, Role.OWNER))
    # Their own inbox does not show it, and its pages are not found through theirs either.
    assert conversation.pk not in row_ids(
        stranger.get(inbox_url(other_organisation)).content.decode()
    )
    for url in (inbox_url(organisation), detail_url(conversation)):
        assert stranger.get(url).status_code == 404
    for name in ("inbox_conversation", "inbox_note", "inbox_status", "inbox_reply"):
        url = reverse(
            name, kwargs={"org": other_organisation.slug, "conversation_id": conversation.pk}
        )
        response = (
            stranger.get(url)
            if name == "inbox_conversation"
            else stranger.post(url, {"text": "x", "status": "done"})
        )
        assert response.status_code == 404
    edit = reverse(
        "inbox_saved_reply", kwargs={"org": other_organisation.slug, "reply_id": reply.pk}
    )
    assert stranger.get(edit).status_code == 404
    assert not Message.objects.filter(author=Author.STAFF).exists()


def test_anonymous_visitors_are_sent_to_log_in(organisation, client):
    response = client.get(inbox_url(organisation))
    assert response.status_code == 302
    assert "/accounts/login" in response["Location"]


def test_editors_keep_the_saved_replies_and_front_desk_may_not(organisation, member_factory):
    editor = logged_in(member_factory(organisation, Role.EDITOR))
    front_desk = logged_in(member_factory(organisation, Role.FRONT_DESK))
    url = reverse("inbox_saved_replies", kwargs={"org": organisation.slug})

    assert front_desk.get(url).status_code == 403
    created = editor.post(
        url, {"title": "Fundsachen", "text_de": "Fundsachen liegen an der Kasse.", "text_en": ""}
    )
    assert created.status_code == 302
    reply = SavedReply.objects.get(organisation=organisation)
    edit = reverse("inbox_saved_reply", kwargs={"org": organisation.slug, "reply_id": reply.pk})
    editor.post(
        edit,
        {
            "title": "Fundsachen",
            "text_de": "Fundsachen liegen vier Wochen an der Kasse.",
            "text_en": "Lost property stays at the desk for four weeks.",
        },
    )
    reply.refresh_from_db()
    assert reply.text_en == "Lost property stays at the desk for four weeks."
    empty = editor.post(url, {"title": "", "text_de": ""})
    assert empty.status_code == 400
    assert SavedReply.objects.count() == 1

    delete = reverse(
        "inbox_saved_reply_delete", kwargs={"org": organisation.slug, "reply_id": reply.pk}
    )
    assert front_desk.post(delete).status_code == 403
    editor.post(delete)
    assert not SavedReply.objects.exists()


def test_a_saved_reply_is_inserted_in_the_conversations_language(organisation, owner_client):
    reply = SavedReply.objects.create(
        organisation=organisation,
        title="Fundsachen",
        text_de="Fundsachen liegen an der Kasse.",
        text_en="Lost property is kept at the desk.",
    )
    english = make_conversation(organisation, language="en", text="I lost my scarf")
    german = make_conversation(organisation, language="de", text="Schal verloren")

    en_html = owner_client.get(f"{detail_url(english)}?saved={reply.pk}").content.decode()
    de_html = owner_client.get(f"{detail_url(german)}?saved={reply.pk}").content.decode()

    assert re.search(
        r'<textarea name="text"[^>]*>Lost property is kept at the desk\.</textarea>', en_html
    )
    assert re.search(
        r'<textarea name="text"[^>]*>Fundsachen liegen an der Kasse\.</textarea>', de_html
    )
    # The inline insert reads the same text from the option.
    assert 'data-text="Lost property is kept at the desk."' in en_html


def test_only_managers_change_the_inbox_settings(organisation, member_factory):
    url = reverse("inbox_settings", kwargs={"org": organisation.slug})
    editor = logged_in(member_factory(organisation, Role.EDITOR))
    manager = logged_in(member_factory(organisation, Role.MANAGER))

    assert editor.post(url, {"overdue_hours": "2"}).status_code == 403
    bad = manager.post(url, {"overdue_hours": "0", "notify_email": "not an address"})
    assert bad.status_code == 400
    assert not InboxSettings.objects.exists()
    assert manager.post(url, {"overdue_hours": "48", "notify_email": ""}).status_code == 302
    assert InboxSettings.objects.get(organisation=organisation).overdue_hours == 48


def test_the_inbox_is_in_the_navigation_and_the_dashboard_shows_its_figures(
    organisation, owner_client
):
    make_conversation(organisation, waiting_hours=1)
    html = owner_client.get(
        reverse("dashboard", kwargs={"org": organisation.slug})
    ).content.decode()
    assert f'href="{inbox_url(organisation)}"' in html
    assert 'data-testid="inbox-figures"' in html
    assert 'data-testid="figure-handover"' in html


def test_bad_ids_and_parameters_are_not_errors(organisation, owner_client):
    huge = "99999999999999999999999"
    assert owner_client.get(f"/o/{organisation.slug}/inbox/{huge}/").status_code == 404
    reply = owner_client.post(f"/o/{organisation.slug}/inbox/{huge}/reply/", {"text": "x"})
    assert reply.status_code == 404
    listing = owner_client.get(inbox_url(organisation, page="abc", status="%00"))
    assert listing.status_code == 200
    conversation = make_conversation(organisation, email="a@example.org")
    for saved in ("²", "٣", "1" * 30, "-1"):
        assert owner_client.get(detail_url(conversation), {"saved": saved}).status_code == 200
    empty = owner_client.post(detail_url(conversation, "inbox_reply"), {"text": "   "})
    assert empty.status_code == 400
    assert not Message.objects.filter(author=Author.STAFF).exists()
