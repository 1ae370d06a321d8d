"""Contacts, their consents and the timeline of interactions.

The foundation holds what the demo institution and the dashboard need; the audience
module builds segments, imports, lifecycle and personal-data rights on top.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from publikum.core.models import Organisation, TimestampedModel
from publikum.programme.models import Occurrence, ProgrammeItem, Theme


class ContactKind(models.TextChoices):
    PERSON = "person", _("Person")
    ORGANISATION = "organisation", _("Organisation")


class LifecycleStage(models.TextChoices):
    """Where a person stands with the house, recomputed daily from their visits and bookings."""

    NONE = "none", _("No visit yet")
    NEW = "new", _("New")
    REGULAR = "regular", _("Regular")
    LOYAL = "loyal", _("Loyal")
    LAPSING = "lapsing", _("Lapsing")
    LAPSED = "lapsed", _("Lapsed")


class EmailStatus(models.TextChoices):
    OK = "ok", _("Deliverable")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Complained")


class Contact(TimestampedModel):
    # No index of its own: every index of the table starts with the organisation.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="contacts", db_index=False
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
    email_status = models.CharField(
        max_length=20, choices=EmailStatus.choices, default=EmailStatus.OK
    )
    # Preference centre: at most this many marketing mails a month (0 = no limit), pause.
    max_mails_per_month = models.PositiveSmallIntegerField(default=0)
    paused_until = models.DateField(null=True, blank=True)
    # Derived figures, recomputed by the lifecycle job; segments read them in SQL.
    lifecycle_stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.NONE
    )
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    first_visit_at = models.DateTimeField(null=True, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)
    visits_12m = models.PositiveIntegerField(default=0)
    bookings_12m = models.PositiveIntegerField(default=0)
    spend_12m = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    rfm_recency = models.PositiveSmallIntegerField(default=0)  # 1..5, 0 = no history
    rfm_frequency = models.PositiveSmallIntegerField(default=0)
    rfm_monetary = models.PositiveSmallIntegerField(default=0)
    # Set when the person was erased: the row keeps aggregates, no personal data.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["last_name", "first_name"]
        # Every index costs each import and each nightly write-back of the lifecycle
        # figures; docs/operations.md ("Indexes of the audience") says which query uses
        # which one. Search has its own table (ContactSearch).
        indexes: ClassVar = [
            # Finding a person by address ignores case (`email__iexact`, i.e. UPPER(email)
            # on PostgreSQL): a booking looks its booker up under the date's lock, an
            # import matches its rows by address.
            models.Index(models.F("organisation"), Upper("email"), name="contact_org_email_upper"),
            # The contact list: name order, and the page after a given contact (keyset).
            models.Index(
                fields=["organisation", "last_name", "first_name", "id"],
                condition=models.Q(erased_at__isnull=True),
                name="contact_list_order",
            ),
            models.Index(fields=["organisation", "lifecycle_stage"]),
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

    # Consents are read through their contact; the unique constraint below starts with it.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="consents", db_index=False
    )
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
        indexes: ClassVar = [
            # Segments and the contact list ask "who has granted this consent": read from
            # this index alone, without the wide rows (wording, source).
            models.Index(
                fields=["channel", "purpose", "contact"],
                condition=models.Q(granted=True),
                name="consent_granted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel}/{self.purpose}: {self.granted}"


class InteractionKind(models.TextChoices):
    VISIT = "visit", _("Visit")
    BOOKING = "booking", _("Booking")
    BOOKING_CANCELLED = "booking_cancelled", _("Booking cancelled")
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

    # No single-column indexes: the composite ones below start with these columns.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    kind = models.CharField(max_length=20, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField()
    item = models.ForeignKey(
        ProgrammeItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurrence = models.ForeignKey(
        Occurrence, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quantity = models.PositiveIntegerField(default=1)
    amount_eur = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    summary = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar = ["-occurred_at"]
        indexes: ClassVar = [
            models.Index(fields=["contact", "-occurred_at"]),
            models.Index(fields=["organisation", "kind", "occurred_at"]),
            models.Index(fields=["contact", "kind", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.occurred_at:%Y-%m-%d}"


class ContactThemeActivity(models.Model):
    """When a contact last visited an event of a theme, and how often: one row per contact
    and theme they ever visited.

    The segment rule "attended an event of theme X in the last N months" reads this table
    instead of the timeline. Kept current by `theme_activity.record` (every visit written
    through `interaction_record` or an interaction import counts at once), by merge and
    erasure, and corrected by the daily lifecycle recompute (programme items whose themes
    changed, visits removed); docs/segments.md has the exact semantics.
    """

    # Derived data, rewritten in bulk by the daily recompute: no foreign key constraints
    # in the database (checking millions of rows at each commit would double the run);
    # deleting a contact or theme still deletes its rows, and the recompute removes any
    # row whose visits are gone.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="theme_activity",
        db_index=False,
        db_constraint=False,
    )
    theme = models.ForeignKey(
        Theme, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    last_attended_at = models.DateTimeField()
    visits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["contact", "theme"], name="theme_activity_unique"),
        ]
        indexes: ClassVar = [
            # The segment rule: who attended the theme since a day (a theme belongs to one
            # organisation), read from the index alone.
            models.Index(
                fields=["theme", "last_attended_at", "contact"], name="theme_activity_by_theme"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} attended theme {self.theme_id} ({self.visits})"


class ContactSearch(models.Model):
    """What the contact list's search looks in: names, address and postcode of one contact.

    A table of its own so that the search index (trigram GIN on PostgreSQL) is not
    maintained on every write of the contact table: the nightly lifecycle recompute
    rewrites the figures of every contact. Database triggers keep it in step with the
    contact (migration 0006); there is no row for an erased contact.
    """

    # Written by the triggers on every new contact: no foreign key constraints to check
    # (an import adds tens of thousands); deleting a contact deletes its row.
    contact = models.OneToOneField(
        Contact,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="search_entry",
        db_constraint=False,
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    postcode = models.CharField(max_length=10, blank=True)
    # first_name, last_name, email and organisation_name, separated by single spaces.
    text = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"search entry of {self.contact_id}"


class AudienceSettings(models.Model):
    """Per-organisation thresholds of the lifecycle and rules of retention."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="audience_settings"
    )
    # A person is "new" for this many days after their first visit.
    new_days = models.PositiveIntegerField(default=90)
    # Visits in the last 12 months to count as regular / loyal.
    regular_min_visits = models.PositiveIntegerField(default=2)
    loyal_min_visits = models.PositiveIntegerField(default=5)
    # Days without a visit after which a regular or loyal person is lapsing / lapsed.
    lapsing_after_days = models.PositiveIntegerField(default=180)
    lapsed_after_days = models.PositiveIntegerField(default=365)
    # Retention: delete contacts without consent and without interaction for N months
    # (0 = off).
    retention_months = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"audience settings of {self.organisation_id}"


class LifecycleChange(models.Model):
    """A move between lifecycle stages: "who moved from loyal to lapsing this month"."""

    # Written in bulk by the recompute (a million rows after a first import): no foreign key
    # constraints to check at each commit; deleting a contact still deletes its changes.
    # The composite index below starts with the organisation.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="stage_changes", db_constraint=False
    )
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering: ClassVar = ["-changed_at"]
        indexes: ClassVar = [
            models.Index(fields=["organisation", "from_stage", "to_stage", "changed_at"])
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.from_stage} → {self.to_stage}"


class Segment(TimestampedModel):
    """A group of contacts defined by a rule tree, evaluated in SQL when asked."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="segments"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rules = models.JSONField()
    created_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for column mapping")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportRun(TimestampedModel):
    """One CSV import with its per-row report: what was rejected and why."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=20, default="contacts")  # contacts | interactions
    filename = models.CharField(max_length=255)
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    consent_source = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # [{"row": 12, "errors": ["email: not a valid e-mail address"]}, ...]
    rejected = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    stored_file = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"import {self.filename} ({self.status})"


class SubscriptionRequest(TimestampedModel):
    """A pending double opt-in: consent is granted only when the mailed link is opened."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="subscription_requests"
    )
    purposes = models.JSONField(default=list)
    wording = models.TextField(blank=True)
    source = models.CharField(max_length=200, default="subscribe form")
    nonce = models.CharField(max_length=64, unique=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"subscription request {self.pk}"
