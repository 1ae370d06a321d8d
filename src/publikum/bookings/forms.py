"""Forms of the booking pages: book a date, join its waiting list, redeem an offer, staff."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from publikum.audience.consent import purpose_texts
from publikum.audience.models import Purpose
from publikum.bookings.models import BookingStatus
from publikum.programme.models import PriceCategory

LANGUAGE_CHOICES = [("de", "Deutsch"), ("en", "English")]


def _field_name(category: PriceCategory | None) -> str:
    return f"qty_{category.pk}" if category is not None else "quantity"


class TicketsMixin:
    """Number inputs per price category (or one "Tickets" input for a date without prices).

    `max_tickets` bounds each input and the sum; at least one ticket is required.
    """

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]
    categories: list[PriceCategory]
    max_tickets: int

    def add_ticket_fields(
        self, categories: list[PriceCategory], language: str, max_tickets: int
    ) -> None:
        self.categories = categories
        self.max_tickets = max(0, max_tickets)
        for category in self._slots():
            label = (
                f"{category.name(language)} ({_money(category.price_eur)})"
                if category is not None
                else _("Tickets")
            )
            self.fields[_field_name(category)] = forms.IntegerField(
                label=label,
                min_value=0,
                max_value=self.max_tickets,
                initial=0,
                required=False,
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "qty"}),
            )

    def _slots(self) -> list[PriceCategory | None]:
        """One input per price category; a date without prices has one "Tickets" input."""
        slots: list[PriceCategory | None] = list(self.categories)
        return slots or [None]

    def ticket_fields(self) -> list[forms.BoundField]:
        return [self[_field_name(c)] for c in self._slots()]  # type: ignore[index]

    def clean_tickets(self) -> None:
        names = [_field_name(c) for c in self._slots()]
        if any(name not in self.cleaned_data for name in names):
            return  # a field has its own error already
        total = sum(self.cleaned_data.get(name) or 0 for name in names)
        if total < 1:
            raise forms.ValidationError(_("Please choose at least one ticket."), code="none")
        if total > self.max_tickets:
            raise forms.ValidationError(
                ngettext(
                    "At most %(n)d ticket in total.",
                    "At most %(n)d tickets in total.",
                    self.max_tickets,
                )
                % {"n": self.max_tickets},
                code="too_many",
            )

    def booking_quantities(self) -> dict[str, Any]:
        """Keyword arguments for `booking_create`: per_category, or quantity without prices."""
        if not self.categories:
            return {"quantity": self.cleaned_data.get("quantity") or 0}
        return {
            "per_category": {
                c.pk: self.cleaned_data.get(_field_name(c)) or 0 for c in self.categories
            }
        }


def _money(amount: Any) -> str:
    from publikum.bookings.presentation import money

    return money(amount)


class BookingForm(TicketsMixin, forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    language = forms.ChoiceField(label=_("Language of our e-mails"), choices=LANGUAGE_CHOICES)
    consents = forms.MultipleChoiceField(
        label=_("Would you also like to hear from us?"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    # Honeypot: hidden from people (and screen readers), filled in by form robots.
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def __init__(
        self,
        *args: Any,
        categories: list[PriceCategory],
        language: str,
        max_tickets: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.add_ticket_fields(categories, language, max_tickets)
        texts = purpose_texts()
        self.fields["consents"].choices = [(p, texts[p]) for p in Purpose.values]  # type: ignore[attr-defined]

    @property
    def is_robot(self) -> bool:
        return bool(self.data.get("website"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.clean_tickets()
        return cleaned


class WaitlistForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    language = forms.ChoiceField(label=_("Language of our e-mails"), choices=LANGUAGE_CHOICES)
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quantity"] = forms.IntegerField(
            label=_("How many tickets?"),
            min_value=1,
            max_value=settings.BOOKINGS_MAX_TICKETS,
            initial=1,
            widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "qty"}),
        )

    @property
    def is_robot(self) -> bool:
        return bool(self.data.get("website"))


class OfferForm(TicketsMixin, forms.Form):
    """Redeem a waiting-list offer: as many tickets as offered, in any price category."""

    def __init__(
        self,
        *args: Any,
        categories: list[PriceCategory],
        language: str,
        offered: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.add_ticket_fields(categories, language, offered)
        first = categories[0] if categories else None
        self.fields[_field_name(first)].initial = offered

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.clean_tickets()
        return cleaned


# --- staff -----------------------------------------------------------------------------------


class BookingFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), *BookingStatus.choices],
    )


class CheckInForm(forms.Form):
    code = forms.CharField(label=_("Booking code"), max_length=64)
