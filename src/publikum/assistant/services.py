"""Writes of the assistant: one visitor message in, the reply stored, hand-over when needed.

`message_post` is what the public API (and the evaluation) call: it checks the text,
finds or starts the conversation, asks the engine and stores both messages with what the
assistant understood (intent, confidence, sources, booking code). A conversation staff have
taken over stays with them: later messages wait for a person and the assistant only says
so (and links an e-mail address the visitor sends).

Messages of one conversation are answered one at a time: the dialogue state is read,
changed and written back, so two messages sent at once (two tabs, a double click) would
otherwise overwrite each other's state. `conversation_lock` serialises them across web
processes (a PostgreSQL advisory lock, or the cache elsewhere: local memory in the
one-process embedded default, Redis when REDIS_URL is set). It is not a database
transaction, so the bookings service keeps its own durable transaction inside it. A message
that waits longer than LOCK_WAIT_SECONDS is refused with ConversationBusy (409).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from publikum.assistant.engine import Reply, respond, respond_with_staff
from publikum.assistant.engine.phrases import say
from publikum.assistant.nlu.language import detect_language
from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    HandoffReason,
    Message,
)
from publikum.conversations.services import (
    clean_text,
    conversation_start,
    hand_over,
    message_add,
)
from publikum.core.errors import Conflict, NotFound
from publikum.core.models import Organisation

logger = logging.getLogger(__name__)

# Longest subject a new conversation takes from the visitor's first message.
SUBJECT_LENGTH = 120
# How long a message waits for the previous one of its conversation to be answered.
LOCK_WAIT_SECONDS = 3.0
# The cache lock expires by itself after this long, should a process die holding it.
LOCK_HOLD_SECONDS = 60


class ConversationBusy(Conflict):
    code = "conversation_busy"

    def __init__(self) -> None:
        super().__init__(
            "One message at a time, please: the previous message of this conversation is "
            "still being answered. Send this one again."
        )


def _advisory_key(conversation_pk: int) -> int:
    digest = hashlib.blake2b(
        f"publikum.assistant.conversation:{conversation_pk}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _wait(attempt: int) -> None:
    time.sleep(min(0.005 * 2**attempt, 0.1))


@contextmanager
def conversation_lock(conversation_pk: int, *, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the conversation's lock for the block; ConversationBusy after `wait` seconds."""
    deadline = time.monotonic() + wait
    if connection.vendor == "postgresql":
        # A session-level advisory lock: shared by every process on the database, free of
        # any transaction (booking_create opens its own durable one inside), and released
        # by PostgreSQL if the connection dies.
        key = _advisory_key(conversation_pk)
        attempt = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                (granted,) = cursor.fetchone()
            if granted:
                break
            if time.monotonic() >= deadline:
                raise ConversationBusy()
            _wait(attempt)
            attempt += 1
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    cache_key = f"assistant:conversation-lock:{conversation_pk}"
    token = secrets.token_hex(8)
    attempt = 0
    while not cache.add(cache_key, token, timeout=LOCK_HOLD_SECONDS):
        if time.monotonic() >= deadline:
            raise ConversationBusy()
        _wait(attempt)
        attempt += 1
    try:
        yield
    finally:
        if cache.get(cache_key) == token:
            cache.delete(cache_key)


def conversation_of(*, organisation: Organisation, public_id: str) -> Conversation:
    """The visitor's conversation with the assistant in this organisation, or NotFound (for
    an unknown id and for another organisation's id alike)."""
    conversation = (
        Conversation.objects.select_related("organisation")
        .filter(
            organisation=organisation,
            public_id=str(public_id or "")[:40],
            channel=ConversationChannel.ASSISTANT,
        )
        .first()
    )
    if conversation is None:
        raise NotFound("There is no such conversation.")
    return conversation


def with_staff(conversation: Conversation) -> bool:
    return (
        conversation.handed_over_at is not None
        or conversation.status != ConversationStatus.ASSISTANT
    )


def _failed(conversation: Conversation, language: str) -> Reply:
    """The reply when the engine itself failed: a person takes over."""
    text = say("handover_unsure", language)
    return Reply(
        text=text,
        language=language,
        intent="unknown",
        confidence=0.0,
        handoff=True,
        handoff_reason=HandoffReason.LOW_CONFIDENCE,
    )


def message_post(
    *,
    organisation: Organisation,
    conversation_id: str | None,
    text: Any,
    now: datetime | None = None,
    link_base: str = "",
) -> tuple[Conversation, Reply]:
    """Answer one visitor message. Raises ValidationFailed (empty or too long text),
    NotFound (an id that is not a conversation of this organisation) and ConversationBusy
    (the previous message of the conversation is still being answered after a short wait)."""
    text = clean_text(text)
    if conversation_id:
        found = conversation_of(organisation=organisation, public_id=conversation_id)
        with conversation_lock(found.pk):
            # Read again under the lock: the state the previous message left.
            conversation = conversation_of(organisation=organisation, public_id=conversation_id)
            return _answer(conversation, text, now or timezone.now(), link_base)
    now = now or timezone.now()
    language = detect_language(text)
    conversation = conversation_start(
        organisation=organisation,
        channel=ConversationChannel.ASSISTANT,
        language=language if language in {"de", "en"} else "en",
        subject=" ".join(text.split())[:SUBJECT_LENGTH],
        now=now,
    )
    conversation.organisation = organisation
    # Nobody else knows the new id yet: no lock needed.
    return _answer(conversation, text, now, link_base)


def _answer(
    conversation: Conversation, text: str, now: datetime, link_base: str
) -> tuple[Conversation, Reply]:
    staff_has_it = with_staff(conversation)
    try:
        if staff_has_it:
            reply = respond_with_staff(conversation=conversation, text=text, now=now)
        else:
            reply = respond(conversation=conversation, text=text, now=now, link_base=link_base)
    except Exception:
        # A visitor never sees a server error: log it and let a person take over.
        logger.exception("assistant failed on a message of conversation %s", conversation.pk)
        reply = _failed(conversation, conversation.language)

    # The writes of one message in one transaction: one commit instead of four, and on
    # SQLite one turn at the write lock instead of four (the lock is what 50 conversations
    # at once wait for). The engine ran outside it: a booking has its own durable one.
    with transaction.atomic():
        visitor = message_add(
            conversation,
            author=Author.VISITOR,
            text=text,
            now=now,
            language=reply.language,
            intent=reply.intent,
            confidence=reply.confidence,
            sources=reply.sources,
        )
        if not staff_has_it:
            Conversation.objects.filter(pk=conversation.pk).update(
                state=conversation.state, language=conversation.language
            )
        if reply.handoff and not staff_has_it:
            conversation = hand_over(conversation, reason=reply.handoff_reason, now=now)
        answer = message_add(
            conversation,
            author=Author.ASSISTANT,
            text=reply.text,
            now=now,
            language=reply.language,
            intent=reply.intent,
            confidence=reply.confidence,
            sources=reply.sources,
            booking_code=(reply.booking or {}).get("code", ""),
        )
    reply.message_ids = [visitor.pk, answer.pk]
    return conversation, reply


def transcript(conversation: Conversation, *, after: int = 0) -> list[dict[str, Any]]:
    """The messages the visitor may see (all but none: notes are a separate model), after
    the message id `after`, oldest first."""
    messages = Message.objects.filter(conversation=conversation, pk__gt=max(0, after)).order_by(
        "created_at", "pk"
    )
    return [
        {
            "id": message.pk,
            "author": message.author,
            "text": message.text,
            "at": message.created_at.isoformat(),
        }
        for message in messages.only("pk", "author", "text", "created_at")
    ]


def visitor_seen(conversation: Conversation, *, now: datetime | None = None) -> None:
    """The widget is open: a staff reply now goes to the chat (conversations.PRESENT_SECONDS)."""
    now = now or timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(visitor_seen_at=now)
    conversation.visitor_seen_at = now
