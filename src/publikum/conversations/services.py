"""Writes of conversations that both the assistant and the inbox use.

The assistant (`assistant.services`) starts conversations, adds the visitor's and its own
messages and hands over; the inbox (views, API, inbound mail) adds staff replies, notes,
assignment and status. Every conversation with a known address is linked to the contact
and appears once on their timeline (an interaction of kind "message").
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from typing import Any

from anymail.exceptions import AnymailError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from publikum.audience.models import Contact, InteractionKind
from publikum.audience.services import interaction_record, normalise_email
from publikum.conversations.models import (
    MAX_TEXT,
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Delivery,
    HandoffReason,
    InboxSettings,
    Message,
    Note,
    SavedReply,
)
from publikum.core.errors import DomainError, ValidationFailed
from publikum.core.models import ApiToken, Membership, Organisation, User
from publikum.core.services import audit_log

logger = logging.getLogger("publikum.conversations")

# A staff reply reaches the open chat while the widget polled within this many seconds;
# otherwise it goes by mail (when the visitor left an address).
PRESENT_SECONDS = 20


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
    no consent). The timeline gets one entry per conversation.

    The first address stays: a different one given later (someone else's, or a booking
    for another person) never moves the conversation to that contact; it is only in the
    message text then. Returns the linked contact (None when nothing is linked)."""
    try:
        email = normalise_email(email)
    except ValidationFailed:
        return None
    if not email:
        return None
    if conversation.visitor_email and conversation.visitor_email.lower() != email.lower():
        logger.info(
            "conversation %s keeps its address; another one given later is not linked",
            conversation.pk,
        )
        return conversation.contact
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


# --- the inbox: replies, assignment, status, notes ---------------------------------------------


class MailNotSent(DomainError):
    """The mail server refused or could not be reached; nothing was stored."""

    code = "mail_not_sent"
    status = 503


# What a staff reply changes on its conversation (restored when its mail is refused).
_REPLY_FIELDS = (
    "first_response_at",
    "awaiting_since",
    "overdue_notified_at",
    "status",
    "last_message_at",
)

# The statuses staff set by hand; "assistant" is the assistant's own.
STAFF_STATUSES = (ConversationStatus.OPEN, ConversationStatus.WAITING, ConversationStatus.DONE)


def visitor_present(conversation: Conversation, now: datetime | None = None) -> bool:
    """Whether the visitor's chat window polled recently enough to show a reply there."""
    now = now or timezone.now()
    seen = conversation.visitor_seen_at
    return (
        conversation.channel == ConversationChannel.ASSISTANT
        and seen is not None
        and now - seen <= timedelta(seconds=PRESENT_SECONDS)
    )


def staff_reply(
    *,
    conversation: Conversation,
    user: User | None,
    text: str,
    now: datetime | None = None,
    done: bool = False,
    token: ApiToken | None = None,
) -> Message:
    """Answer the visitor through the channel that reaches them: the open web chat while
    they are there, else a mail to their address (sent over SMTP before this returns).

    Raises ValidationFailed when there is no way to reach the visitor, MailNotSent when the
    mail server refuses (the reply is then not stored). The conversation waits for the
    visitor afterwards, or is done when `done`.
    """
    from publikum.conversations import mails

    text = clean_text(text)
    now = now or timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update()
            .select_related("organisation")
            .get(pk=conversation.pk)
        )
        web = visitor_present(conversation, now)
        if not web and not conversation.visitor_email:
            raise ValidationFailed(
                gettext(
                    "This reply cannot be sent: there is no e-mail address, and the visitor "
                    "is not in the chat any more."
                ),
                fields={"text": ["no e-mail address; the visitor is not in the chat"]},
            )
        before = {field: getattr(conversation, field) for field in _REPLY_FIELDS}
        message_id = "" if web else mails.new_message_id()
        message = message_add(
            conversation,
            author=Author.STAFF,
            text=text,
            now=now,
            user=user,
            language=conversation.language,
            delivery=Delivery.WEB if web else Delivery.EMAIL,
            mail_message_id=message_id,
        )
        if conversation.first_response_at is None:
            conversation.first_response_at = now
        conversation.awaiting_since = None
        # A later wait is a new one: it may be announced again when it runs over.
        conversation.overdue_notified_at = None
        conversation.status = ConversationStatus.DONE if done else ConversationStatus.WAITING
        conversation.save(
            update_fields=["first_response_at", "awaiting_since", "overdue_notified_at", "status"]
        )
    # The mail goes out after the commit: no database lock is held while the mail server
    # answers. When it refuses, the stored reply is taken back.
    if not web:
        try:
            mails.send_staff_reply(
                conversation=conversation, message=message, user=user, message_id=message_id
            )
        except (OSError, smtplib.SMTPException, AnymailError) as exc:
            logger.warning("reply of conversation %s not sent: %s", conversation.pk, exc)
            with transaction.atomic():
                Message.objects.filter(pk=message.pk).delete()
                Conversation.objects.filter(pk=conversation.pk).update(**before)
            raise MailNotSent(
                gettext(
                    "The mail server did not accept the reply (%(error)s). Nothing was "
                    "sent; please try again later."
                )
                % {"error": exc.__class__.__name__}
            ) from exc
    audit_log(
        conversation.organisation,
        "conversations.replied",
        actor=user,
        token=token,
        obj=conversation,
        data={"delivery": message.delivery, "message": message.pk, "done": done},
    )
    return message


def conversation_assign(
    *,
    conversation: Conversation,
    user_id: int | None,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Conversation:
    """Give the conversation to a member of its organisation (None: to nobody)."""
    assignee = None
    if user_id is not None:
        membership = (
            Membership.objects.select_related("user")
            .filter(organisation_id=conversation.organisation_id, user_id=user_id)
            .first()
        )
        if membership is None:
            raise ValidationFailed(
                "Conversations can be assigned only to members of the organisation.",
                fields={"user": ["not a member of this organisation"]},
            )
        assignee = membership.user
    conversation.assigned_to = assignee
    conversation.save(update_fields=["assigned_to"])
    audit_log(
        conversation.organisation,
        "conversations.assigned",
        actor=actor,
        token=token,
        obj=conversation,
        data={"user": user_id},
    )
    return conversation


def conversation_status_set(
    *,
    conversation: Conversation,
    status: str,
    actor: User | None = None,
    token: ApiToken | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Open (someone owes an answer), waiting (for the visitor) or done."""
    if status not in STAFF_STATUSES:
        raise ValidationFailed(
            f"The status must be one of {', '.join(STAFF_STATUSES)}.",
            fields={"status": ["invalid status"]},
        )
    now = now or timezone.now()
    old = conversation.status
    conversation.status = status
    if status == ConversationStatus.OPEN:
        conversation.awaiting_since = conversation.awaiting_since or now
    else:
        conversation.awaiting_since = None
        conversation.overdue_notified_at = None
    conversation.save(update_fields=["status", "awaiting_since", "overdue_notified_at"])
    audit_log(
        conversation.organisation,
        "conversations.status_changed",
        actor=actor,
        token=token,
        obj=conversation,
        data={"from": old, "to": status},
    )
    return conversation


def note_add(*, conversation: Conversation, user: User | None, text: str) -> Note:
    """An internal note: staff see it, the visitor never does."""
    text = clean_text(text)
    return Note.objects.create(conversation=conversation, user=user, text=text)


# --- saved replies and settings ------------------------------------------------------------------


def saved_reply_save(
    *,
    organisation: Organisation,
    title: str,
    text_de: str,
    text_en: str = "",
    reply: SavedReply | None = None,
    actor: User | None = None,
) -> SavedReply:
    title = " ".join(str(title or "").split())[:200]
    if not title:
        raise ValidationFailed("Please give the reply a title.", fields={"title": ["required"]})
    text_de = clean_text(text_de, field="text_de")
    text_en = str(text_en or "").strip()[:MAX_TEXT]
    if reply is None:
        reply = SavedReply(organisation=organisation)
    elif reply.organisation_id != organisation.pk:
        raise ValidationFailed("This saved reply belongs to another organisation.")
    reply.title, reply.text_de, reply.text_en = title, text_de, text_en
    reply.save()
    audit_log(organisation, "conversations.saved_reply.saved", actor=actor, obj=reply)
    return reply


def saved_reply_delete(*, reply: SavedReply, actor: User | None = None) -> None:
    organisation = reply.organisation
    audit_log(organisation, "conversations.saved_reply.deleted", actor=actor, obj=reply)
    reply.delete()


def inbox_settings_of(organisation: Organisation) -> InboxSettings:
    """The organisation's settings, or the defaults (unsaved) when it never changed them."""
    found = InboxSettings.objects.filter(organisation=organisation).first()
    return found or InboxSettings(organisation=organisation)


def inbox_settings_update(
    *,
    organisation: Organisation,
    overdue_hours: int,
    notify_email: str = "",
    actor: User | None = None,
) -> InboxSettings:
    if not 1 <= int(overdue_hours) <= 24 * 14:
        raise ValidationFailed(
            "Overdue after must be between 1 and 336 hours.",
            fields={"overdue_hours": ["between 1 and 336"]},
        )
    notify = normalise_email(notify_email) if notify_email else ""
    found, _ = InboxSettings.objects.update_or_create(
        organisation=organisation,
        defaults={"overdue_hours": int(overdue_hours), "notify_email": notify},
    )
    audit_log(
        organisation,
        "conversations.settings.changed",
        actor=actor,
        obj=found,
        data={"overdue_hours": found.overdue_hours, "notify": bool(notify)},
    )
    return found


# --- the contact form ---------------------------------------------------------------------------


def contact_form_submit(
    *,
    organisation: Organisation,
    name: str,
    email: str,
    text: str,
    language: str = "de",
    now: datetime | None = None,
) -> Conversation:
    """A message through the public contact form: a conversation waiting for staff, linked
    to the contact with that address (created without any consent when new)."""
    text = clean_text(text, field="message")
    try:
        address = normalise_email(email)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, fields={"email": ["invalid e-mail"]}) from exc
    if not address:
        raise ValidationFailed("Please give your e-mail address.", fields={"email": ["required"]})
    now = now or timezone.now()
    with transaction.atomic():
        conversation = conversation_start(
            organisation=organisation,
            channel=ConversationChannel.FORM,
            language=language,
            visitor_name=" ".join(str(name or "").split())[:200],
            visitor_email=address,
            status=ConversationStatus.OPEN,
            now=now,
        )
        message_add(
            conversation, author=Author.VISITOR, text=text, now=now, language=conversation.language
        )
    return conversation
