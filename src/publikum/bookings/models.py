"""Bookings of dates, their lines per price category, and the waiting list of a date."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from publikum.audience.models import Contact
from publikum.core.models import Organisation, TimestampedModel, User
from publikum.programme.models import Occurrence, PriceCategory


class BookingStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")


class BookingSource(models.TextChoices):
    WEB = "web", _("Website")
    API = "api", _("API")
    ASSISTANT = "assistant", _("Assistant")
    STAFF = "staff", _("Staff")
    WAITLIST = "waitlist", _("Waiting list")


class Booking(TimestampedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    # RESTRICT, not PROTECT: a date with bookings cannot be deleted on its own, but the
    # organisation can be, with its dates and bookings together (PROTECT would refuse that).
    occurrence = models.ForeignKey(Occurrence, on_delete=models.RESTRICT, related_name="bookings")
    # Shown on the ticket and typed at the front desk: no 0/O or 1/I to mix up.
    code = models.CharField(max_length=12, unique=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    language = models.CharField(
        max_length=2, choices=[("de", "Deutsch"), ("en", "English")], default="de"
    )
    quantity = models.PositiveIntegerField()
    total_eur = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    status = models.CharField(
        max_length=20, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED
    )
    source = models.CharField(max_length=20, choices=BookingSource.choices)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [
            models.Index(fields=["occurrence", "status"]),
            models.Index(fields=["organisation", "-created_at"]),
            models.Index(fields=["organisation", "email"]),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="booking_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class BookingLine(models.Model):
    """How many tickets of one price category; name and price copied at booking time."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="lines")
    price_category = models.ForeignKey(
        PriceCategory, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name_de = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True)
    unit_price_eur = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering: ClassVar = ["pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="booking_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name_de}"

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_de


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered")
    BOOKED = "booked", _("Booked")
    EXPIRED = "expired", _("Offer expired")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class WaitlistEntry(TimestampedModel):
    """A person waiting for seats of a sold-out date; first come, first offered.

    An offer holds its seats until `offer_expires_at`: nobody else can book them meanwhile.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    occurrence = models.ForeignKey(
        Occurrence, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    language = models.CharField(
        max_length=2, choices=[("de", "Deutsch"), ("en", "English")], default="de"
    )
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    booking = models.ForeignKey(
        Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["created_at", "pk"]
        indexes: ClassVar = [models.Index(fields=["occurrence", "status"])]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="waitlist_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurrence_id}: {self.email}"


class BookingRequestKey(models.Model):
    """The `Idempotency-Key` of an API booking request and the booking it made.

    A client that retries after a timeout sends the same key and gets the same booking back
    instead of a second one. Written in the booking's own transaction, so a key exists
    exactly when its booking does; the unique constraint is the final guard.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    # SHA-256 of the request body: the same key with another body is a client error.
    fingerprint = models.CharField(max_length=64)
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organisation", "key"], name="booking_request_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.key
