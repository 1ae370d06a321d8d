from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from publikum.audience.models import ContactKind, LifecycleStage, Purpose
from publikum.programme.models import Theme


class ContactFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    stage = forms.ChoiceField(
        label=_("Lifecycle stage"),
        required=False,
        choices=[("", _("All stages")), *LifecycleStage.choices],
    )
    consent = forms.ChoiceField(
        label=_("E-mail consent"),
        required=False,
        choices=[("", _("Any")), *Purpose.choices],
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    # The page after / before the contact with this id (the links of the list carry them).
    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    FILTERS = ("q", "stage", "consent", "tag")


class ContactForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactKind.choices)
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    organisation_name = forms.CharField(
        label=_("Organisation name"),
        max_length=200,
        required=False,
        help_text=_("For schools, tour operators and other organisations."),
    )
    email = forms.EmailField(label=_("E-mail address"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    language = forms.ChoiceField(
        label=_("Language"), choices=[("de", "Deutsch"), ("en", "English")]
    )
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    birthday = forms.DateField(
        label=_("Birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    interests = forms.MultipleChoiceField(
        label=_("Interests"), required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, organisation: Any, language: str = "de", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["interests"].choices = [  # type: ignore[attr-defined]
            (t.slug, t.name(language)) for t in Theme.objects.filter(organisation=organisation)
        ]

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in data.get("tags", "").split(",") if t.strip()]
        return data
