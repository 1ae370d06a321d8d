"""The inbox: every conversation with a visitor, whoever answered it.

- `Conversation`: one thread with one visitor through one channel (the assistant on the
  website, e-mail to the house's inbound address, the contact form). Its `public_id` is
  the visitor's secret (the widget keeps it); staff see conversations by their `pk`.
  `status` says who has it: the assistant, or staff (open, waiting for the visitor, done).
- `Message`: one message of the transcript, from the visitor, the assistant, a staff member
  or the system (hand-over notices).
- `Note`: an internal note of staff, never shown to the visitor.
- `SavedReply`: a reply text staff reuse, in German and English.
- `InboxSettings`: when an unanswered conversation counts as overdue, and who is told.

Conversations are personal data: exported and erased with the contact, deleted
`RETENTION_DAYS` after their last message (`conversations.tasks`).
"""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from publikum.audience.models import Contact
from publikum.core.models import Organisation, TimestampedModel

RETENTION_DAYS = 365
# Longest message a visitor can send; longer text is refused with a clear reply.
MAX_TEXT = 4000


def new_public_id() -> str:
    """An unguessable id (192 random bits) that lets only its visitor read the thread."""
    return secrets.token_urlsafe(24)


def new_mail_token() -> str:
    """The thread's part of the reply address (inbox+<org>.<token>@...)."""
    return secrets.token_hex(8)


class ConversationChannel(models.TextChoices):
    ASSISTANT = "assistant", _("Assistant")
    EMAIL = "email", _("E-mail")
    FORM = "form", _("Contact form")
    SOCIAL = "social", _("Social media")


class ConversationStatus(models.TextChoices):
    ASSISTANT = "assistant", _("With the assistant")
    OPEN = "open", _("Open")
    WAITING = "waiting", _("Waiting for the visitor")
    DONE = "done", _("Done")


class HandoffReason(models.TextChoices):
    NONE = "", _("None")
    LOW_CONFIDENCE = "low_confidence", _("The assistant was not sure")
    ASKED_FOR_PERSON = "asked_for_person", _("The visitor asked for a person")
    PERSONAL_TOPIC = "personal_topic", _("A topic staff answer")
    OTHER_LANGUAGE = "other_language", _("Another language")
    BOOKING_FAILED = "booking_failed", _("The booking could not be made")


class Conversation(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="conversations"
    )
    public_id = models.CharField(max_length=40, unique=True, default=new_public_id)
    mail_token = models.CharField(max_length=20, unique=True, default=new_mail_token)
    channel = models.CharField(max_length=20, choices=ConversationChannel.choices)
    status = models.CharField(
        max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.ASSISTANT
    )
    language = models.CharField(max_length=2, default="de")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    visitor_name = models.CharField(max_length=200, blank=True)
    visitor_email = models.EmailField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    handoff_reason = models.CharField(
        max_length=20, choices=HandoffReason.choices, default=HandoffReason.NONE, blank=True
    )
    handed_over_at = models.DateTimeField(null=True, blank=True)
    # Since when a visitor's message waits for a person (null: nobody owes an answer).
    awaiting_since = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    # The widget polls while it is open; a staff reply goes to the chat while the visitor
    # was seen within `conversations.services.PRESENT_SECONDS`, else by mail.
    visitor_seen_at = models.DateTimeField(null=True, blank=True)
    # The assistant's dialogue state (booking in progress, last intent, ...).
    state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_message_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-last_message_at"]
        indexes: ClassVar = [
            models.Index(fields=["organisation", "status", "awaiting_since"]),
            models.Index(fields=["organisation", "last_message_at"]),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.channel})"

    @property
    def needs_person(self) -> bool:
        return self.status in {ConversationStatus.OPEN, ConversationStatus.WAITING}


class Author(models.TextChoices):
    VISITOR = "visitor", _("Visitor")
    ASSISTANT = "assistant", _("Assistant")
    STAFF = "staff", _("Staff")
    SYSTEM = "system", _("System")


class Delivery(models.TextChoices):
    WEB = "web", _("Web chat")
    EMAIL = "email", _("E-mail")
    NONE = "", _("Not sent")


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.CharField(max_length=10, choices=Author.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    language = models.CharField(max_length=2, blank=True)
    # What the assistant understood and answered from (assistant messages; and the
    # visitor message it answered, for the evaluation and the inbox).
    intent = models.CharField(max_length=40, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    sources = models.JSONField(default=list, blank=True)
    booking_code = models.CharField(max_length=20, blank=True)
    # How a staff reply reached the visitor; the Message-ID of an inbound or outbound mail.
    delivery = models.CharField(
        max_length=10, choices=Delivery.choices, default=Delivery.NONE, blank=True
    )
    mail_message_id = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at", "pk"]
        indexes: ClassVar = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"


class Note(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.text[:40]


class SavedReply(TimestampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="saved_replies"
    )
    title = models.CharField(max_length=200)
    text_de = models.TextField()
    text_en = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["title"]

    def __str__(self) -> str:
        return self.title

    def text(self, language: str) -> str:
        return self.text_en if language == "en" and self.text_en else self.text_de


class InboxSettings(models.Model):
    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="inbox_settings"
    )
    # A conversation that waits longer than this for a person is overdue: shown first and,
    # with `notify_email`, announced by mail once.
    overdue_hours = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 14)]
    )
    notify_email = models.EmailField(blank=True)

    def __str__(self) -> str:
        return f"inbox settings of {self.organisation_id}"
