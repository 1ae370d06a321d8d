"""Writes of conversations that both the assistant and the inbox use.

The assistant (`assistant.services`) starts conversations, adds the visitor's and its own
messages and hands over; the inbox (views, API, inbound mail) adds staff replies, notes,
assignment and status. Every conversation with a known address is linked to the contact
and appears once on their timeline (an interaction of kind "message").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from publikum.audience.models import Contact, InteractionKind
from publikum.audience.services import interaction_record, normalise_email
from publikum.conversations.models import (
    MAX_TEXT,
    Author,
    Conversation,
    ConversationStatus,
    HandoffReason,
    Message,
)
from publikum.core.errors import ValidationFailed
from publikum.core.models import Organisation
from publikum.core.services import audit_log

# A staff reply reaches the open chat while the widget polled within this many seconds;
# otherwise it goes by mail (when the visitor left an address).
PRESENT_SECONDS = 90


def clean_text(value: Any, *, field: str = "text") -> str:
    """The visitor's or staff member's text, stripped; refused when empty or too long."""
    text = str(value or "").replace("\x00", "").strip()
    if not text:
        raise ValidationFailed("Please write a message.", fields={field: ["required"]})
    if len(text) > MAX_TEXT:
        raise ValidationFailed(
            f"A message can be at most {MAX_TEXT} characters long.",
            fields={field: [f"at most {MAX_TEXT} characters"]},
        )
    return text


def conversation_start(
    *,
    organisation: Organisation,
    channel: str,
    language: str = "de",
    subject: str = "",
    visitor_name: str = "",
    visitor_email: str = "",
    status: str = ConversationStatus.ASSISTANT,
    now: datetime | None = None,
) -> Conversation:
    now = now or timezone.now()
    conversation = Conversation.objects.create(
        organisation=organisation,
        channel=channel,
        language=language if language in {"de", "en"} else "en",
        subject=subject[:300],
        status=status,
        created_at=now,
        last_message_at=now,
    )
    if visitor_email:
        link_visitor(conversation, email=visitor_email, name=visitor_name)
    return conversation


def message_add(
    conversation: Conversation,
    *,
    author: str,
    text: str,
    now: datetime | None = None,
    **fields: Any,
) -> Message:
    """Append a message; a visitor's message to a conversation a person has makes it wait
    for that person again (`awaiting_since`)."""
    now = now or timezone.now()
    message = Message.objects.create(
        conversation=conversation, author=author, text=text, created_at=now, **fields
    )
    changed = ["last_message_at"]
    conversation.last_message_at = now
    if author == Author.VISITOR:
        conversation.visitor_seen_at = now
        changed.append("visitor_seen_at")
        if conversation.needs_person or conversation.status == ConversationStatus.DONE:
            if conversation.status != ConversationStatus.ASSISTANT:
                conversation.status = ConversationStatus.OPEN
                changed.append("status")
            if conversation.awaiting_since is None:
                conversation.awaiting_since = now
                changed.append("awaiting_since")
    conversation.save(update_fields=changed)
    return message


def link_visitor(conversation: Conversation, *, email: str, name: str = "") -> Contact | None:
    """Remember the visitor's address and link the contact with it (created when new, with
    no consent). The timeline gets one entry per conversation."""
    try:
        email = normalise_email(email)
    except ValidationFailed:
        return None
    if not email:
        return None
    conversation.visitor_email = email
    if name:
        conversation.visitor_name = " ".join(name.split())[:200]
    contact = (
        Contact.objects.filter(
            organisation=conversation.organisation, email__iexact=email, erased_at__isnull=True
        )
        .order_by("pk")
        .first()
    )
    if contact is None:
        from publikum.audience.services import contact_create

        first, _, last = conversation.visitor_name.rpartition(" ")
        if not first:
            first, last = last, ""
        contact = contact_create(
            organisation=conversation.organisation,
            email=email,
            first_name=first[:100],
            last_name=last[:100],
            language=conversation.language,
            source="conversation",
        )
    first_link = conversation.contact_id is None
    conversation.contact = contact
    conversation.save(update_fields=["visitor_email", "visitor_name", "contact"])
    if first_link:
        interaction_record(
            contact=contact,
            kind=InteractionKind.MESSAGE,
            occurred_at=conversation.created_at,
            summary=conversation.subject or str(conversation.get_channel_display()),
            data={"conversation": conversation.pk, "channel": conversation.channel},
        )
    return contact


def hand_over(
    conversation: Conversation, *, reason: str, now: datetime | None = None
) -> Conversation:
    """Give the conversation to staff: it appears in the inbox, waiting for a person since
    the visitor's last message."""
    if reason not in HandoffReason.values or not reason:
        raise ValueError(f"unknown hand-over reason {reason!r}")
    now = now or timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.handed_over_at is None:
            conversation.handed_over_at = now
            conversation.handoff_reason = reason
        conversation.status = ConversationStatus.OPEN
        conversation.awaiting_since = conversation.awaiting_since or now
        conversation.save(
            update_fields=["handed_over_at", "handoff_reason", "status", "awaiting_since"]
        )
        audit_log(
            conversation.organisation,
            "conversations.handed_over",
            obj=conversation,
            data={"reason": reason},
        )
    return conversation
