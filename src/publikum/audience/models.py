"""Contacts, their consents and the timeline of interactions.

The foundation holds what the demo institution and the dashboard need; the audience
module builds segments, imports, lifecycle and personal-data rights on top.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from publikum.core.models import Organisation, TimestampedModel
from publikum.programme.models import Occurrence, ProgrammeItem, Theme


class ContactKind(models.TextChoices):
    PERSON = "person", _("Person")
    ORGANISATION = "organisation", _("Organisation")


class Contact(TimestampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="contacts"
    )
    kind = models.CharField(max_length=20, choices=ContactKind.choices, default=ContactKind.PERSON)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # For contacts that are organisations (schools, tour operators).
    organisation_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    language = models.CharField(
        max_length=2, choices=[("de", "Deutsch"), ("en", "English")], default="de"
    )
    postcode = models.CharField(max_length=10, blank=True)
    birthday = models.DateField(null=True, blank=True)
    interests = models.ManyToManyField(Theme, blank=True, related_name="interested_contacts")
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["last_name", "first_name"]
        indexes: ClassVar = [
            models.Index(fields=["organisation", "email"]),
            models.Index(fields=["organisation", "last_name"]),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.kind == ContactKind.ORGANISATION and self.organisation_name:
            return self.organisation_name
        return f"{self.first_name} {self.last_name}".strip() or self.email or f"#{self.pk}"


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    POST = "post", _("Post")
    PHONE = "phone", _("Phone")
    SOCIAL = "social", _("Social media")


class Purpose(models.TextChoices):
    NEWSLETTER = "newsletter", _("Newsletter")
    OFFERS = "offers", _("Personal offers")
    FEEDBACK = "feedback", _("Feedback requests")


class Consent(TimestampedModel):
    """Consent of one contact for one channel and purpose, with where it came from."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    granted = models.BooleanField(default=False)
    source = models.CharField(max_length=200)
    wording = models.TextField(blank=True)
    granted_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["contact", "channel", "purpose"], name="consent_unique_per_channel_purpose"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel}/{self.purpose}: {self.granted}"


class InteractionKind(models.TextChoices):
    VISIT = "visit", _("Visit")
    BOOKING = "booking", _("Booking")
    EMAIL_SENT = "email_sent", _("E-mail sent")
    EMAIL_OPENED = "email_opened", _("E-mail opened")
    EMAIL_CLICKED = "email_clicked", _("E-mail link clicked")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    MESSAGE = "message", _("Message")
    IDEA = "idea", _("Idea")
    VOTE = "vote", _("Vote")
    PLEDGE = "pledge", _("Pledge")


class Interaction(models.Model):
    """One entry of a contact's timeline; other modules write through one service."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=20, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField()
    item = models.ForeignKey(
        ProgrammeItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurrence = models.ForeignKey(
        Occurrence, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quantity = models.PositiveIntegerField(default=1)
    summary = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar = ["-occurred_at"]
        indexes: ClassVar = [
            models.Index(fields=["contact", "-occurred_at"]),
            models.Index(fields=["organisation", "kind", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.occurred_at:%Y-%m-%d}"
