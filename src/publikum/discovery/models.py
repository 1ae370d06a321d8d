"""What discovery keeps: the house's dial, the lists the worker precomputed, the offers made.

- `DiscoverySettings`: the organisation's horizon (the default of every list, mail block
  and API request that does not name one) and the state of the last batch the worker ran.
- `StoredList`: one contact's precomputed list at the house's horizon, served instead of a
  live computation while it is fresh (`discovery.precompute`).
- `Offer`: one recommended item actually put in front of a person (a mail that was sent,
  a list a website showed). The filter-bubble meter (`discovery.meter`) counts these; they
  are personal data, exported and erased with the contact and purged after
  `OFFER_RETENTION_DAYS`.
"""

from __future__ import annotations

from typing import ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from publikum.audience.models import Contact
from publikum.core.models import Organisation
from publikum.programme.models import Occurrence, ProgrammeItem

# The dial of a house that never set one: mostly the familiar, some new.
DEFAULT_HORIZON = 0.3
# Offers older than this are deleted by the nightly purge: the meter looks back a year.
OFFER_RETENTION_DAYS = 400


class DiscoverySettings(models.Model):
    """The organisation's dial and the state of its precomputed lists."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="discovery_settings"
    )
    # 0 = only the familiar, 1 = mostly new; never the irrelevant.
    horizon = models.FloatField(
        default=DEFAULT_HORIZON,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        verbose_name=_("Horizon"),
    )
    # The last batch of the worker: what it rested on and what it cost.
    computed_at = models.DateTimeField(null=True, blank=True)
    computed_horizon = models.FloatField(null=True, blank=True)
    computed_programme = models.CharField(max_length=200, blank=True, default="")
    computed_interactions = models.CharField(max_length=64, blank=True, default="")
    computed_contacts = models.PositiveIntegerField(default=0)
    compute_seconds = models.FloatField(default=0.0)
    # Set when a batch is wanted (programme or history changed, dial moved); cleared by the
    # batch that starts after it. Several changes in a row queue one batch.
    wanted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"discovery settings of {self.organisation_id}"


class StoredList(models.Model):
    """One contact's precomputed recommendations at the house's horizon.

    `items` holds the list in rank order, one array per pick
    `[item, occurrence, score, relevance, novelty, reasons]` (figures rounded to four
    decimals; reasons: one `[kind, item_ids, themes, item_kinds]` per explanation part,
    empty arrays at the end left out; `discovery.stored` reads and writes it); titles and
    sentences are rendered when served, in the language asked for. A list is fresh while
    `programme_version` is the programme's, `history_mark` is the id of the contact's
    newest visit or booking entry (0: none) and `interests` the contact's stated interests.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, related_name="stored_recommendations"
    )
    horizon = models.FloatField()
    basis = models.CharField(max_length=16)
    items = models.JSONField(default=list)
    programme_version = models.CharField(max_length=200)
    history_mark = models.BigIntegerField(default=0)
    # The contact's stated interests (theme slugs, sorted, joined by ",") the list was made
    # for: a changed interest makes the list stale.
    interests = models.CharField(max_length=500, blank=True, default="", db_default="")
    computed_at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["organisation", "computed_at"])]

    def __str__(self) -> str:
        return f"stored list of contact {self.contact_id}"


class OfferChannel(models.TextChoices):
    NEWSLETTER = "newsletter", _("Newsletter")
    JOURNEY = "journey", _("Journey")
    WEBSITE = "website", _("Website (API)")
    ASSISTANT = "assistant", _("Assistant")


class Offer(models.Model):
    """One recommended item put in front of one person.

    `outside_usual`: none of the item's themes was among the person's usual themes when it
    was offered (the themes of what they visited or booked; without history, their stated
    interests). `new_kind`: they had never attended this kind of event. Both are fixed at
    the time of the offer, so the meter never re-reads old history.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="offers")
    item = models.ForeignKey(ProgrammeItem, on_delete=models.CASCADE, related_name="+")
    occurrence = models.ForeignKey(
        Occurrence, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=OfferChannel.choices)
    offered_at = models.DateTimeField()
    horizon = models.FloatField(null=True, blank=True)
    rank = models.PositiveSmallIntegerField(default=1)
    relevance = models.FloatField(default=0.0)
    outside_usual = models.BooleanField(default=False)
    new_kind = models.BooleanField(default=False)
    # The mail that carried it (newsletters and journeys); null for the website.
    message = models.ForeignKey(
        "journeys.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["organisation", "offered_at"]),
            models.Index(fields=["contact", "item", "offered_at"]),
            # The meter's horizon conversions look up outside-usual offers only.
            models.Index(
                fields=["contact", "item", "offered_at"],
                condition=models.Q(outside_usual=True),
                name="discovery_offer_outside_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"offer of item {self.item_id} to contact {self.contact_id}"
