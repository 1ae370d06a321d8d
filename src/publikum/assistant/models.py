"""What the assistant knows about the house, as staff edit it.

- `AssistantSettings`: one per organisation: on/off, greeting, how soon a person answers
  after a hand-over, the synonyms of the house's own words, how public holidays are kept,
  and the confidence below which the assistant hands over (calibrated on the evaluation
  set, see docs/assistant.md).
- `OpeningHours` (regular, per weekday, several spans allowed) and `OpeningException`
  (one date: closed, or other hours): the structured facts from which "Habt ihr am
  Ostermontag offen?" is answered for the asked day, with the holiday calendar of the
  organisation's country and region (the `holidays` package).
- `PriceEntry`: admission prices and reductions.
- `KnowledgeEntry`: one fact or question/answer pair in German and English, with a topic
  (address, accessibility, facilities, ...). Answers name the entry they came from.
- `PersonalTopic`: topics staff want to answer themselves (complaints, donations, press):
  a message that matches one is handed over to the inbox.
"""

from __future__ import annotations

from typing import ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from publikum.core.models import Organisation, TimestampedModel

# Below this confidence the assistant hands over. The value `publikum assistant evaluate
# --calibrate` chose on the demo museum's development set (docs/benchmarks/assistant.md):
# the best guess for a house that has not calibrated on its own questions yet.
DEFAULT_THRESHOLD = 0.2


class HolidayRule(models.TextChoices):
    CLOSED = "closed", _("Closed on public holidays")
    SUNDAY = "sunday", _("Sunday hours on public holidays")
    REGULAR = "regular", _("Regular hours on public holidays")


class AssistantSettings(models.Model):
    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="assistant_settings"
    )
    enabled = models.BooleanField(default=True)
    greeting_de = models.CharField(max_length=300, blank=True)
    greeting_en = models.CharField(max_length=300, blank=True)
    # Told to the visitor after a hand-over: "within one working day", "innerhalb eines
    # Werktags".
    reply_time_de = models.CharField(max_length=200, default="innerhalb eines Werktags")
    reply_time_en = models.CharField(max_length=200, default="within one working day")
    # One group of words that mean the same per line, comma-separated: "Kasse, Ticketschalter".
    synonyms = models.TextField(blank=True)
    holiday_rule = models.CharField(
        max_length=10, choices=HolidayRule.choices, default=HolidayRule.SUNDAY
    )
    threshold = models.FloatField(
        default=DEFAULT_THRESHOLD, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"assistant settings of {self.organisation_id}"


class OpeningHours(models.Model):
    """One span of regular opening on a weekday (0 = Monday). No row: closed that day."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="opening_hours"
    )
    weekday = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(6)]
    )
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering: ClassVar = ["weekday", "opens"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="opening_hours_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.opens}-{self.closes}"


class OpeningException(TimestampedModel):
    """One date that differs from the regular hours: closed, or open at other times."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="opening_exceptions"
    )
    date = models.DateField()
    closed = models.BooleanField(default=True)
    opens = models.TimeField(null=True, blank=True)
    closes = models.TimeField(null=True, blank=True)
    note_de = models.CharField(max_length=300, blank=True)
    note_en = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering: ClassVar = ["date"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organisation", "date"], name="opening_exception_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {'closed' if self.closed else f'{self.opens}-{self.closes}'}"


class PriceEntry(TimestampedModel):
    """An admission price or reduction: "Erwachsene 9 €", "Ermäßigt 6 €", "Kinder frei"."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="price_entries"
    )
    label_de = models.CharField(max_length=200)
    label_en = models.CharField(max_length=200, blank=True)
    amount_eur = models.DecimalField(max_digits=8, decimal_places=2)
    note_de = models.CharField(max_length=300, blank=True)
    note_en = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["position", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(amount_eur__gte=0), name="price_entry_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label_de} {self.amount_eur}"


class Topic(models.TextChoices):
    OPENING_HOURS = "opening_hours", _("Opening hours")
    PRICES = "prices", _("Prices and reductions")
    ADDRESS = "address", _("Address and directions")
    ACCESSIBILITY = "accessibility", _("Accessibility")
    FACILITIES = "facilities", _("Facilities")
    GROUPS = "groups", _("Group visits")
    TICKETS = "tickets", _("Tickets and bookings")
    OTHER = "other", _("Other")


class KnowledgeEntry(TimestampedModel):
    """One thing the house tells visitors, as a question and its answer in both languages.

    `phrases_de`/`phrases_en` hold more ways to ask (one per line); they are searched with
    the question. An entry without English text is answered in German to English visitors
    only when nothing else fits.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="knowledge_entries"
    )
    # A stable name for the API, the demo and the evaluation cases ("cafe", "lockers").
    key = models.SlugField(max_length=60, blank=True)
    topic = models.CharField(max_length=20, choices=Topic.choices, default=Topic.OTHER)
    question_de = models.CharField(max_length=300)
    question_en = models.CharField(max_length=300, blank=True)
    answer_de = models.TextField()
    answer_en = models.TextField(blank=True)
    phrases_de = models.TextField(blank=True)
    phrases_en = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["topic", "question_de"]
        indexes: ClassVar = [models.Index(fields=["organisation", "active"])]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organisation", "key"],
                condition=~models.Q(key=""),
                name="knowledge_key_unique",
            )
        ]

    def __str__(self) -> str:
        return self.question_de

    def question(self, language: str) -> str:
        return self.question_en if language == "en" and self.question_en else self.question_de

    def answer(self, language: str) -> str:
        return self.answer_en if language == "en" and self.answer_en else self.answer_de


class PersonalTopic(TimestampedModel):
    """A topic a person answers: messages about it go to the inbox, never to the machine."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="personal_topics"
    )
    name_de = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True)
    # Words and phrases that mark the topic, one per line, either language.
    phrases = models.TextField()

    class Meta:
        ordering: ClassVar = ["name_de"]

    def __str__(self) -> str:
        return self.name_de
