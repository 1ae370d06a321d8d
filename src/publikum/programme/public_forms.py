"""The filter form of the public programme: a GET form, every field optional."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from publikum.programme.models import AccessibilityFeature, ItemKind, TargetGroup, Theme
from publikum.programme.selectors import ProgrammeFilters

# A visitor may look a few years ahead; a wider span only makes the query slower.
MAX_SPAN = timedelta(days=3 * 366)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class ProgrammeFilterForm(forms.Form):
    """Field names are the query parameters: ?from=2026-05-01&to=...&kind=...&theme=..."""

    kind = forms.ChoiceField(label=_("What"), required=False)
    theme = forms.ChoiceField(label=_("Theme"), required=False)
    group = forms.ChoiceField(label=_("For whom"), required=False)
    access = forms.ChoiceField(label=_("Accessibility"), required=False)

    def __init__(self, data: Any, *, themes: Iterable[Theme], language: str) -> None:
        super().__init__(data)
        # "from" is a Python keyword, so the date fields are added here.
        self.fields = {
            "from": forms.DateField(
                label=pgettext_lazy("date range", "From"), required=False, widget=DateInput()
            ),
            "to": forms.DateField(
                label=pgettext_lazy("date range", "Until"), required=False, widget=DateInput()
            ),
            **self.fields,
        }
        everything = [("", _("All"))]
        self.fields["kind"].choices = everything + list(ItemKind.choices)  # type: ignore[attr-defined]
        self.fields["theme"].choices = everything + [  # type: ignore[attr-defined]
            (theme.slug, theme.name(language)) for theme in themes
        ]
        self.fields["group"].choices = everything + list(TargetGroup.choices)  # type: ignore[attr-defined]
        self.fields["access"].choices = everything + list(AccessibilityFeature.choices)  # type: ignore[attr-defined]

    def full_clean(self) -> None:
        super().full_clean()
        # Screen readers announce the error with the field it belongs to.
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"id_{name}_error"}
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("from"), data.get("to")
        if start and end and end < start:
            self.add_error("to", _("The end date must not be before the start date."))
        elif start and end and end - start > MAX_SPAN:
            self.add_error("to", _("Please choose a span of at most three years."))
        return data

    def filters(self) -> ProgrammeFilters:
        """The filters of the valid fields; a field with an error does not filter."""
        self.is_valid()
        data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        return ProgrammeFilters(
            date_from=data.get("from"),
            date_to=data.get("to"),
            kind=data.get("kind") or "",
            theme=data.get("theme") or "",
            target_group=data.get("group") or "",
            accessibility=data.get("access") or "",
        )
