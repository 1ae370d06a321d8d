"""Journeys, newsletters, e-mail templates and the outgoing messages they produce.

Every outgoing mail is a `Message` row first, created with a unique idempotency key in the
same transaction as the step or send that wants it; the delivery job sends the rows
(docs/delivery.md). A journey is a definition (JSON: steps with ids, validated by
`engine.journey_validate`) and one `JourneyRun` per contact on its way through it.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from publikum.audience.models import Contact, Purpose
from publikum.core.models import Organisation, TimestampedModel, User


class MessageKind(models.TextChoices):
    # Needs the consent of its purpose, counts against the frequency cap, waits out quiet
    # hours, carries List-Unsubscribe.
    MARKETING = "marketing", _("Marketing")
    # What the person asked for (booking confirmation, reminder of a booked date): no
    # consent needed, exempt from the cap and quiet hours; never to a bounced address.
    TRANSACTIONAL = "transactional", _("Transactional")


class DeliverySettings(models.Model):
    """Guardrails of one organisation, enforced by the delivery service."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="delivery_settings"
    )
    # At most this many marketing mails per contact in `cap_days` days (0 = no cap).
    cap_mails = models.PositiveSmallIntegerField(default=2)
    cap_days = models.PositiveSmallIntegerField(default=7)
    # Marketing mails due in quiet hours (wall clock of the organisation) wait until the
    # end. Equal start and end: no quiet hours.
    quiet_start = models.TimeField(default="21:00")
    quiet_end = models.TimeField(default="08:00")
    click_tracking = models.BooleanField(default=True)
    # Open tracking needs a pixel per mail; off unless the house turns it on (privacy).
    open_tracking = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"delivery settings of {self.organisation_id}"


class EmailTemplate(TimestampedModel):
    """A mail in German and English, made of blocks (docs/email-content.md)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="email_templates"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=20, choices=MessageKind.choices, default=MessageKind.MARKETING
    )
    # The consent a marketing mail needs; blank for transactional mails.
    purpose = models.CharField(max_length=20, choices=Purpose.choices, blank=True)
    subject_de = models.CharField(max_length=300)
    subject_en = models.CharField(max_length=300, blank=True)
    preheader_de = models.CharField(max_length=300, blank=True)
    preheader_en = models.CharField(max_length=300, blank=True)
    # [{"type": "heading"|"text"|"image"|"button"|"events"|"personal", ...}, ...]
    blocks = models.JSONField(default=list, blank=True)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organisation", "name"], name="template_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ARCHIVED = "archived", _("Archived")


class Trigger(models.TextChoices):
    SUBSCRIBED = "subscribed", _("Subscription confirmed")
    BOOKING_MADE = "booking_made", _("Booking made")
    CHECKED_IN = "checked_in", _("Visit checked in")
    DATE_PASSED = "date_passed", _("Day after a visit")
    BOOKED_DATE_AHEAD = "booked_date_ahead", _("Before a booked date")
    BIRTHDAY = "birthday", _("Birthday")
    STAGE_CHANGED = "stage_changed", _("Lifecycle stage changed")
    ENTERED_SEGMENT = "entered_segment", _("Entered a segment")
    NEW_ITEM = "new_item", _("New programme item matching interests")
    TAG_ADDED = "tag_added", _("Tag added")
    IDEA_STATUS = "idea_status", _("An idea's status changed")
    API = "api", _("API call")


class Reentry(models.TextChoices):
    ONCE = "once", _("Once per contact")
    EVERY = "every", _("Again after N days")
    ALWAYS = "always", _("Every time")


class Journey(TimestampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="journeys"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    # Trigger details, e.g. {"from": "loyal", "to": "lapsing"}, {"segment": 12},
    # {"tag": "presse"}, {"days_before": 2}.
    trigger_config = models.JSONField(default=dict, blank=True)
    # {"start": "s1", "steps": [{"id": "s1", "type": "wait", ...}, ...]} (docs/journeys.md)
    definition = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT
    )
    reentry = models.CharField(max_length=10, choices=Reentry.choices, default=Reentry.ONCE)
    reentry_days = models.PositiveIntegerField(default=0)
    # Set when made from a shipped template ("welcome", "thank_you", ...).
    template_key = models.CharField(max_length=50, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["name"]
        indexes: ClassVar = [models.Index(fields=["organisation", "trigger", "status"])]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")  # due at `due_at`
    DONE = "done", _("Finished")
    EXITED = "exited", _("Left the journey")  # contact erased, journey archived, ...
    FAILED = "failed", _("Failed")


class JourneyRun(models.Model):
    """One contact's way through one journey, from entering to the end."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="runs")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="journey_runs")
    entered_at = models.DateTimeField()
    step_id = models.CharField(max_length=40)  # the step due next
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.WAITING)
    due_at = models.DateTimeField(null=True, blank=True)
    # What entered the contact: {"booking": 12, "occurrence": 40, ...}.
    context = models.JSONField(default=dict, blank=True)
    # Steps taken so far, counting loops: part of the idempotency key of each message.
    steps_taken = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes: ClassVar = [
            # The tick's query: runs due now, oldest first.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="waiting"),
                name="journeyrun_due",
            ),
            models.Index(fields=["journey", "contact", "-entered_at"]),
            models.Index(fields=["journey", "status", "step_id"]),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of journey {self.journey_id} at {self.step_id}"


class StepEvent(models.Model):
    """What happened at a step, for the results per step and the contact's timeline."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(JourneyRun, on_delete=models.CASCADE, related_name="events")
    step_id = models.CharField(max_length=40)
    # entered, waited, branched_yes, branched_no, queued, skipped, tagged, task, webhook,
    # split_a, split_b, ended, failed
    event = models.CharField(max_length=20)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["journey", "step_id", "event"])]

    def __str__(self) -> str:
        return f"{self.event} at {self.step_id}"


class NewsletterStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class Newsletter(TimestampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="newsletters"
    )
    name = models.CharField(max_length=200)
    # RESTRICT, not PROTECT: a template or segment a newsletter uses cannot be deleted on
    # its own, but the organisation can be, with everything of it (PROTECT would refuse).
    template = models.ForeignKey(EmailTemplate, on_delete=models.RESTRICT, related_name="+")
    segment = models.ForeignKey(
        "audience.Segment", on_delete=models.RESTRICT, related_name="+", null=True, blank=True
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=NewsletterStatus.choices, default=NewsletterStatus.DRAFT
    )
    # Contacts queued so far: the queueing job resumes after this id when restarted.
    queued_up_to = models.BigIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    # Every contact of the segment has its message; "sent" once none is left to send.
    queued_all_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SUPPRESSED = "suppressed", _("Not sent (guardrail)")
    FAILED = "failed", _("Failed")


class SuppressionReason(models.TextChoices):
    NO_CONSENT = "no_consent", _("No consent for this purpose")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    PAUSED = "paused", _("Paused by the contact")
    BOUNCED = "bounced", _("Address bounced")
    COMPLAINED = "complained", _("Complaint")
    ERASED = "erased", _("Contact erased")
    NO_ADDRESS = "no_address", _("No e-mail address")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")


class Message(models.Model):
    """One outgoing mail to one contact; sent at most once per idempotency key."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # e.g. "run:<run id>:<step id>:<steps taken>", "newsletter:<id>:<contact id>".
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=MessageKind.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, blank=True)
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Small and JSON-safe: ids the renderer looks up ({"occurrence": 40}), never whole rows.
    context = models.JSONField(default=dict, blank=True)
    journey = models.ForeignKey(
        Journey, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    run = models.ForeignKey(
        JourneyRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step_id = models.CharField(max_length=40, blank=True)
    newsletter = models.ForeignKey(
        Newsletter, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    created_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices, blank=True)
    # Not before this moment (quiet hours, retry backoff).
    due_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # The batch claim of a worker: rows of one claim are sent in id order, one at a time.
    claim = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Set when a worker died while this message was in flight: it may have been delivered
    # before the worker could record it, and was sent again (docs/delivery.md).
    interrupted = models.BooleanField(default=False)
    # Filled when sent (kept after erasure without the address: the figures of results).
    to_email = models.EmailField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=2, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status="queued"),
                name="message_due",
            ),
            models.Index(
                fields=["claimed_until"],
                condition=models.Q(status="sending"),
                name="message_in_flight",
            ),
            # The frequency cap: a contact's marketing mails of the last days.
            models.Index(fields=["contact", "kind", "sent_at"], name="message_cap"),
            models.Index(fields=["journey", "step_id", "status"]),
            models.Index(fields=["newsletter", "status"]),
        ]

    def __str__(self) -> str:
        return self.key


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


class StaffTask(TimestampedModel):
    """A to-do for a person of the house, made by a journey step ("call this visitor")."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="staff_tasks"
    )
    journey = models.ForeignKey(
        Journey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=300)
    notes = models.TextField(blank=True)
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    # Idempotency: a step run twice makes one task.
    key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering: ClassVar = ["status", "due_on", "-created_at"]

    def __str__(self) -> str:
        return self.title
