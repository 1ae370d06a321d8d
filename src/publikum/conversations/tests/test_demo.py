"""The demo inbox: realistic conversations that the inbox pages show without errors."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse
from django.utils import timezone

from publikum.audience.services import contact_create
from publikum.conversations.demo import populate
from publikum.conversations.models import (
    Conversation,
    ConversationChannel,
    ConversationStatus,
    InboxSettings,
    SavedReply,
)
from publikum.conversations.selectors import conversation_list, inbox_figures

pytestmark = pytest.mark.django_db


def test_the_demo_inbox_has_every_kind_of_conversation(organisation, owner_client):
    for i in range(20):
        contact_create(
            organisation=organisation, email=f"person{i}@example.org", first_name=f"P{i}"
        )
    now = timezone.now().replace(minute=0, second=0, microsecond=0)

    populate(organisation=organisation, rng=random.Random(7), now=now, contacts=20, stdout=None)

    conversations = Conversation.objects.filter(organisation=organisation)
    assert conversations.count() == 15
    assert set(conversations.values_list("channel", flat=True)) == {
        ConversationChannel.ASSISTANT,
        ConversationChannel.EMAIL,
        ConversationChannel.FORM,
    }
    assert set(conversations.values_list("status", flat=True)) == set(ConversationStatus.values)
    assert conversations.exclude(handoff_reason="").count() >= 5
    assert 3 <= SavedReply.objects.filter(organisation=organisation).count() <= 5
    assert all(r.text_en for r in SavedReply.objects.all())
    assert InboxSettings.objects.get(organisation=organisation).notify_email
    listed = list(conversation_list(organisation=organisation, now=now))
    assert sum(c.is_overdue for c in listed) == 1
    assert listed[0].is_overdue
    figures = inbox_figures(organisation, now=now)
    assert figures.handover_rate is not None
    assert figures.first_response_median is not None

    assert owner_client.get(reverse("inbox", kwargs={"org": organisation.slug})).status_code == 200
    for conversation in conversations:
        url = reverse(
            "inbox_conversation",
            kwargs={"org": organisation.slug, "conversation_id": conversation.pk},
        )
        assert owner_client.get(url).status_code == 200
