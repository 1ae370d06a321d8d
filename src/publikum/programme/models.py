"""Programme items (exhibitions, performances, ...) and their dates (occurrences).

The foundation holds what the demo institution and the dashboard need; the programme
module extends it (venues, prices, images, recurrence, public pages, feeds).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from publikum.core.models import Organisation, TimestampedModel


class Theme(TimestampedModel):
    """A per-organisation vocabulary of themes ("Stadtgeschichte", "Fotografie", ...)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="themes")
    slug = models.SlugField(max_length=60)
    name_de = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)

    class Meta:
        ordering: ClassVar = ["name_de"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organisation", "slug"], name="theme_slug_unique")
        ]

    def __str__(self) -> str:
        return self.name_de

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_de


class ItemKind(models.TextChoices):
    EXHIBITION = "exhibition", _("Exhibition")
    PERFORMANCE = "performance", _("Performance")
    CONCERT = "concert", _("Concert")
    TOUR = "tour", _("Guided tour")
    WORKSHOP = "workshop", _("Workshop")
    TALK = "talk", _("Talk")


class ProgrammeItem(TimestampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="programme_items"
    )
    slug = models.SlugField(max_length=120)
    kind = models.CharField(max_length=20, choices=ItemKind.choices)
    title_de = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    summary_de = models.TextField(blank=True)
    summary_en = models.TextField(blank=True)
    description_de = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    themes = models.ManyToManyField(Theme, blank=True, related_name="items")
    # Codes: children, families, seniors, schools, groups, adults.
    target_groups = models.JSONField(default=list, blank=True)
    # Codes: wheelchair, induction_loop, sign_language, easy_language.
    accessibility = models.JSONField(default=list, blank=True)
    venue = models.CharField(max_length=200, blank=True)
    price_eur = models.DecimalField(max_digits=8, decimal_places=2, default=0)

    class Meta:
        ordering: ClassVar = ["title_de"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organisation", "slug"], name="item_slug_unique")
        ]

    def __str__(self) -> str:
        return self.title_de

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_de


class OccurrenceStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SOLD_OUT = "sold_out", _("Sold out")
    CANCELLED = "cancelled", _("Cancelled")


class Occurrence(TimestampedModel):
    """One date of a programme item, with its capacity."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="occurrences"
    )
    item = models.ForeignKey(ProgrammeItem, on_delete=models.CASCADE, related_name="occurrences")
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    capacity = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=OccurrenceStatus.choices, default=OccurrenceStatus.SCHEDULED
    )

    class Meta:
        ordering: ClassVar = ["starts_at"]
        indexes: ClassVar = [models.Index(fields=["organisation", "starts_at"])]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")),
                name="occurrence_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.starts_at:%Y-%m-%d %H:%M}"
