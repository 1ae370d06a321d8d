"""Forms of the staff pages. They shape input for the services, which do the real checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from publikum.core.errors import ValidationFailed
from publikum.core.models import Organisation
from publikum.programme.checks import MAX_CAPACITY
from publikum.programme.images import image_check
from publikum.programme.models import (
    AccessibilityFeature,
    ItemKind,
    ProgrammeItem,
    TargetGroup,
    Theme,
    Venue,
)
from publikum.programme.recurrence import MAX_DATES_PER_RULE, RecurrenceRule

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _datetime_field(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, input_formats=DATETIME_FORMATS, widget=LocalDateTimeInput()
    )


class ItemFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *ItemKind.choices]
    )
    when = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("", _("Everything")),
            ("upcoming", _("With upcoming dates")),
            ("past", _("Only past dates")),
            ("drafts", _("Drafts")),
        ],
    )


class ItemForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ItemKind.choices)
    title_de = forms.CharField(label=_("Title (German)"), max_length=200)
    title_en = forms.CharField(label=_("Title (English)"), max_length=200, required=False)
    summary_de = forms.CharField(
        label=_("Summary (German)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One or two sentences for lists and newsletters."),
    )
    summary_en = forms.CharField(
        label=_("Summary (English)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    description_de = forms.CharField(
        label=_("Description (German)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    description_en = forms.CharField(
        label=_("Description (English)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    slug = forms.SlugField(
        label=_("Address name (slug)"),
        required=False,
        max_length=120,
        help_text=_("Part of the public address; made from the German title when left empty."),
    )
    themes = forms.MultipleChoiceField(
        label=_("Themes"), required=False, widget=forms.CheckboxSelectMultiple
    )
    target_groups = forms.MultipleChoiceField(
        label=_("Target groups"),
        required=False,
        choices=TargetGroup.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    accessibility = forms.MultipleChoiceField(
        label=_("Accessibility"),
        required=False,
        choices=AccessibilityFeature.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    venue_id = forms.ChoiceField(label=_("Venue"), required=False)
    bookable = forms.BooleanField(
        label=_("Bookable through Publikum"),
        required=False,
        help_text=_("Visitors book seats of its dates; exhibitions usually are not bookable."),
    )
    published = forms.BooleanField(
        label=_("Published"),
        required=False,
        help_text=_("Drafts are visible to staff only."),
    )
    image = forms.ImageField(
        label=_("Image"),
        required=False,
        help_text=_("JPEG, PNG or WebP, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    image_alt_de = forms.CharField(
        label=_("Image description (German)"),
        max_length=300,
        required=False,
        help_text=_("Required with an image: what it shows, for people who cannot see it."),
    )
    image_alt_en = forms.CharField(
        label=_("Image description (English)"), max_length=300, required=False
    )

    def __init__(
        self, *args: Any, organisation: Organisation, language: str = "de", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["themes"].choices = [  # type: ignore[attr-defined]
            (t.slug, t.name(language)) for t in Theme.objects.filter(organisation=organisation)
        ]
        self.fields["venue_id"].choices = [  # type: ignore[attr-defined]
            ("", _("— no venue —")),
            *(
                (str(v.pk), v.name(language))
                for v in Venue.objects.filter(organisation=organisation)
            ),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        image = data.get("image")
        has_image = bool(image) if image is not None else bool(self.initial.get("image"))
        if image is False:
            has_image = False
        if has_image:
            for name in ("image_alt_de", "image_alt_en"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, _("Describe the image for people who cannot see it."))
        return data

    def clean_image(self) -> Any:
        image = self.cleaned_data.get("image")
        if image:  # a new upload; False means "remove", None "unchanged"
            try:
                image_check(image)
            except ValidationFailed as exc:
                problem = exc.fields.get("image", [""])[0]
                if problem == "larger than 5 MB":
                    raise forms.ValidationError(_("The image is larger than 5 MB.")) from exc
                if problem == "too many pixels":
                    raise forms.ValidationError(
                        _("The image has too many pixels; please upload a smaller one.")
                    ) from exc
                raise forms.ValidationError(_("Please upload a JPEG, PNG or WebP image.")) from exc
        return image

    def service_data(self) -> dict[str, Any]:
        """The `data` of `item_create`/`item_update`; the image only when it changes."""
        data = {k: v for k, v in self.cleaned_data.items() if k != "image"}
        data["venue_id"] = int(data["venue_id"]) if data.get("venue_id") else None
        image = self.cleaned_data.get("image")
        if image is False or image:
            data["image"] = image
        return data

    @staticmethod
    def initial_of(item: ProgrammeItem) -> dict[str, Any]:
        fields = [
            "kind",
            "title_de",
            "title_en",
            "summary_de",
            "summary_en",
            "description_de",
            "description_en",
            "slug",
            "target_groups",
            "accessibility",
            "bookable",
            "published",
            "image_alt_de",
            "image_alt_en",
        ]
        initial = {f: getattr(item, f) for f in fields}
        initial["themes"] = [t.slug for t in item.themes.all()]
        initial["venue_id"] = str(item.venue_id or "")
        initial["image"] = item.image or None
        return initial


class EuroField(forms.DecimalField):
    """An amount in euros; a decimal comma ("12,50") is read as well as a point."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().replace(",", ".")
        return super().to_python(value)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("step", None)
        return {**attrs, "inputmode": "decimal"}


class PriceForm(forms.Form):
    name_de = forms.CharField(label=_("Price category (German)"), max_length=100, required=False)
    name_en = forms.CharField(label=_("Price category (English)"), max_length=100, required=False)
    price_eur = EuroField(
        label=_("Price in €"),
        min_value=0,
        max_digits=8,
        decimal_places=2,
        required=False,
        widget=forms.TextInput(),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("price_eur") is not None and not data.get("name_de"):
            self.add_error("name_de", _("Give the price category a name."))
        return data


PriceFormSet = forms.formset_factory(PriceForm, extra=2, can_delete=True, max_num=20)


def price_rows(formset: Any) -> list[dict[str, Any]]:
    """The price list from a valid formset: filled rows not marked for deletion."""
    rows = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not data.get("name_de"):
            continue
        rows.append(
            {
                "name_de": data["name_de"],
                "name_en": data.get("name_en") or "",
                "price_eur": data.get("price_eur") or 0,
            }
        )
    return rows


class DateForm(forms.Form):
    starts_at = _datetime_field(_("Starts"))
    ends_at = _datetime_field(_("Ends"))
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=0,
        max_value=MAX_CAPACITY,
        help_text=_("Seats that can be booked; 0 for dates without booking."),
    )

    def __init__(self, *args: Any, new: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new = new

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        moved = starts is not None and starts != self.initial.get("starts_at")
        if starts is not None and (self.new or moved) and starts <= timezone.now():
            self.add_error("starts_at", _("A new date must lie in the future."))
        if starts is not None and ends is not None and ends < starts:
            self.add_error("ends_at", _("The date cannot end before it starts."))
        return data


class SeriesForm(forms.Form):
    FREQUENCIES = [
        ("weekly", _("Weekly")),
        ("daily", _("Daily")),
        ("monthly", _("Monthly (same day of the month)")),
    ]

    first_start = _datetime_field(_("First date and time"))
    duration_minutes = forms.IntegerField(
        label=_("Duration in minutes"), min_value=0, max_value=60 * 24 * 31, initial=90
    )
    freq = forms.ChoiceField(
        label=_("Repeats"), choices=FREQUENCIES, initial="weekly", widget=forms.RadioSelect
    )
    interval = forms.IntegerField(
        label=_("Every … (weeks, days or months)"), min_value=1, max_value=52, initial=1
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("On these weekdays (weekly only)"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Dates fall on the ticked weekdays from the first date on; none ticked: the "
            "weekday of the first date."
        ),
    )
    until = forms.DateField(
        label=_("Until (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    count = forms.IntegerField(
        label=_("or number of dates"), min_value=1, max_value=MAX_DATES_PER_RULE, required=False
    )
    capacity = forms.IntegerField(label=_("Capacity of each date"), min_value=0)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first = data.get("first_start")
        if first is not None and first <= timezone.now():
            self.add_error("first_start", _("A new date must lie in the future."))
        if first is not None and data.get("until") and data["until"] < first.date():
            self.add_error("until", _("The series cannot end before its first date."))
        if not data.get("until") and not data.get("count"):
            self.add_error("until", _("Give an end date or a number of dates."))
        elif data.get("until") and data.get("count"):
            self.add_error("count", _("Give either an end date or a number of dates, not both."))
        if data.get("freq") != "weekly" and data.get("weekdays"):
            data["weekdays"] = []
        return data

    def rule(self) -> RecurrenceRule:
        data = self.cleaned_data
        return RecurrenceRule(
            freq=data["freq"],
            interval=data["interval"],
            weekdays=list(data.get("weekdays") or []),
            until=data.get("until"),
            count=data.get("count"),
        )

    def first(self) -> datetime:
        return self.cleaned_data["first_start"]  # type: ignore[no-any-return]

    def duration(self) -> timedelta:
        return timedelta(minutes=self.cleaned_data["duration_minutes"])


class VenueForm(forms.Form):
    name_de = forms.CharField(label=_("Name (German)"), max_length=200)
    name_en = forms.CharField(label=_("Name (English)"), max_length=200, required=False)
    street = forms.CharField(label=_("Street"), max_length=200, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    country = forms.CharField(label=_("Country code"), max_length=2, initial="DE")
    latitude = forms.DecimalField(
        label=_("Latitude"), required=False, max_digits=9, decimal_places=6
    )
    longitude = forms.DecimalField(
        label=_("Longitude"), required=False, max_digits=9, decimal_places=6
    )
    directions_de = forms.CharField(
        label=_("Directions (German)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    directions_en = forms.CharField(
        label=_("Directions (English)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    is_main = forms.BooleanField(label=_("Main venue (the house's own address)"), required=False)

    @staticmethod
    def initial_of(venue: Venue) -> dict[str, Any]:
        return {name: getattr(venue, name) for name in VenueForm.base_fields}


class ThemeForm(forms.Form):
    name_de = forms.CharField(label=_("Name (German)"), max_length=100)
    name_en = forms.CharField(label=_("Name (English)"), max_length=100, required=False)
    slug = forms.SlugField(
        label=_("Slug"),
        max_length=60,
        required=False,
        help_text=_("Made from the German name when left empty."),
    )
