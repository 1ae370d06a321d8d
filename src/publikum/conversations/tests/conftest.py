"""Conversations as the assistant, the mail receiver and the contact form leave them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    HandoffReason,
)
from publikum.conversations.services import conversation_start, hand_over, message_add
from publikum.core.models import Organisation


def make_conversation(
    organisation: Organisation,
    *,
    text: str = "Habt ihr am Montag offen?",
    channel: str = ConversationChannel.ASSISTANT,
    email: str = "",
    name: str = "",
    language: str = "de",
    handed_over: bool = True,
    waiting_hours: float | None = None,
    now: datetime | None = None,
    subject: str = "",
    seen_minutes_ago: float = 60,
) -> Conversation:
    """A conversation whose visitor wrote `text`; handed over (open) unless told otherwise,
    waiting for a person for `waiting_hours` when given; the visitor's chat window was last
    seen `seen_minutes_ago` (by default long enough ago that they left)."""
    now = now or timezone.now()
    started = now - timedelta(hours=waiting_hours or 0)
    conversation = conversation_start(
        organisation=organisation,
        channel=channel,
        language=language,
        visitor_email=email,
        visitor_name=name,
        subject=subject,
        status=ConversationStatus.ASSISTANT
        if channel == ConversationChannel.ASSISTANT
        else ConversationStatus.OPEN,
        now=started,
    )
    message_add(conversation, author=Author.VISITOR, text=text, now=started)
    if channel == ConversationChannel.ASSISTANT:
        message_add(
            conversation,
            author=Author.ASSISTANT,
            text="Ich gebe das an mein Team weiter.",
            now=started,
            intent="unknown",
            confidence=0.31,
        )
        if handed_over:
            hand_over(conversation, reason=HandoffReason.LOW_CONFIDENCE, now=started)
    Conversation.objects.filter(pk=conversation.pk).update(
        visitor_seen_at=now - timedelta(minutes=seen_minutes_ago)
    )
    conversation.refresh_from_db()
    if waiting_hours is None and conversation.awaiting_since is not None:
        conversation.awaiting_since = now
        conversation.save(update_fields=["awaiting_since"])
    return conversation


@pytest.fixture
def conversation_factory(db: None) -> Callable[..., Conversation]:
    return make_conversation


def logged_in(user: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client
