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


class Venue(TimestampedModel):
    """Where something takes place: a hall of the house, or a meeting point in town."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="venues")
    name_de = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, default="DE")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    directions_de = models.TextField(blank=True)
    directions_en = models.TextField(blank=True)
    # The house's own address: the organisation page and its JSON-LD use it.
    is_main = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar = ["-is_main", "name_de"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organisation", "name_de"], name="venue_name_unique")
        ]

    def __str__(self) -> str:
        return self.name_de

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_de

    def directions(self, language: str) -> str:
        return self.directions_en if language == "en" and self.directions_en else self.directions_de


class TargetGroup(models.TextChoices):
    CHILDREN = "children", _("Children")
    FAMILIES = "families", _("Families")
    SENIORS = "seniors", _("Seniors")
    SCHOOLS = "schools", _("Schools")
    GROUPS = "groups", _("Groups")
    ADULTS = "adults", _("Adults")


class AccessibilityFeature(models.TextChoices):
    WHEELCHAIR = "wheelchair", _("Wheelchair accessible")
    INDUCTION_LOOP = "induction_loop", _("Induction loop")
    SIGN_LANGUAGE = "sign_language", _("Sign language")
    EASY_LANGUAGE = "easy_language", _("Easy language")


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
    # TargetGroup codes.
    target_groups = models.JSONField(default=list, blank=True)
    # AccessibilityFeature codes.
    accessibility = models.JSONField(default=list, blank=True)
    venue = models.ForeignKey(
        Venue, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    image = models.ImageField(upload_to="programme/%Y/", blank=True)
    image_alt_de = models.CharField(max_length=300, blank=True)
    image_alt_en = models.CharField(max_length=300, blank=True)
    # Drafts are visible to staff only.
    published = models.BooleanField(default=True)
    # Whether its dates are booked through Publikum (an exhibition usually is not).
    bookable = models.BooleanField(default=True)
    # The key of the item in the system it was imported from (an iCalendar UID), so that
    # importing the same file again updates the item instead of adding a second one.
    external_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering: ClassVar = ["title_de"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organisation", "slug"], name="item_slug_unique"),
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=~models.Q(external_id=""),
                name="item_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.title_de

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_de

    def summary(self, language: str) -> str:
        return self.summary_en if language == "en" and self.summary_en else self.summary_de

    def description(self, language: str) -> str:
        return (
            self.description_en
            if language == "en" and self.description_en
            else (self.description_de)
        )

    def image_alt(self, language: str) -> str:
        return self.image_alt_en if language == "en" and self.image_alt_en else self.image_alt_de


class PriceCategory(models.Model):
    """A price of a programme item: "Regulär 12 €", "Ermäßigt 8 €", "Kinder frei"."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(
        ProgrammeItem, on_delete=models.CASCADE, related_name="price_categories"
    )
    name_de = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True)
    price_eur = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["position", "pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["item", "name_de"], name="price_category_unique"),
            models.CheckConstraint(
                condition=models.Q(price_eur__gte=0), name="price_category_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_de} {self.price_eur} €"

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_de


class OccurrenceStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SOLD_OUT = "sold_out", _("Sold out")
    CANCELLED = "cancelled", _("Cancelled")


class Occurrence(TimestampedModel):
    """One date of a programme item, with its capacity.

    Seats taken are never stored: the bookings service sums confirmed bookings and held
    waiting-list offers while it holds a lock on this row (`bookings.services`).
    """

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
