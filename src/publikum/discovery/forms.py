"""The house's dial on the discovery dashboard."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class DialField(forms.FloatField):
    """A number from 0 to 1; a decimal comma (German "0,3") is read as a point."""

    def to_python(self, value: object) -> float | None:  # type: ignore[override]
        if isinstance(value, str):
            value = value.strip().replace(",", ".")
        return super().to_python(value)


class HorizonForm(forms.Form):
    horizon = DialField(
        label=pgettext_lazy("discovery dial", "Horizon"),
        min_value=0.0,
        max_value=1.0,
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
        help_text=_(
            "0 offers only the familiar: more of the themes and kinds each person already "
            "comes to. 1 offers mostly what is new to them, as long as it still fits. "
            "Most houses start around 0.3."
        ),
        error_messages={
            "required": _("Enter a number between 0 and 1."),
            "invalid": _("Enter a number between 0 and 1, such as 0.3."),
        },
    )
