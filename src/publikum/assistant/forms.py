"""Forms of the assistant's staff pages. They shape input for `assistant.knowledge`, which
does the real checks (the same for the API); the forms add what only a page needs: times
in pairs, weekday rows."""

from __future__ import annotations

from datetime import time
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from publikum.assistant.knowledge import KEY_CHARS, MAX_ANSWER, synonym_problems
from publikum.assistant.models import HolidayRule, Topic

WEEKDAYS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)
# The synonym checks of `knowledge.synonym_problems` in the page's language.
SYNONYM_MESSAGES = {
    "lines": lambda: gettext("At most %(max)s lines."),
    "empty": lambda: gettext("Line %(line)s: an empty word between commas."),
    "single": lambda: gettext(
        "Line %(line)s: a group needs at least two words, separated by commas."
    ),
    "long": lambda: gettext("Line %(line)s: a word is longer than %(max)s characters."),
    "twice": lambda: gettext("Line %(line)s: a word appears twice."),
}
TIME_FORMATS = ["%H:%M", "%H.%M", "%H"]


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%H:%M")


def _time(label: Any) -> forms.TimeField:
    return forms.TimeField(
        label=label, required=False, input_formats=TIME_FORMATS, widget=TimeInput()
    )


def _lines(rows: int = 6) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class EntryFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    topic = forms.ChoiceField(
        label=_("Topic"), required=False, choices=[("", _("All topics")), *Topic.choices]
    )


class EntryForm(forms.Form):
    topic = forms.ChoiceField(label=_("Topic"), choices=Topic.choices, initial=Topic.OTHER)
    key = forms.CharField(
        label=_("Key"),
        required=False,
        max_length=60,
        help_text=_(
            "Optional: a short stable name for the API and the evaluation, e.g. “lockers”. "
            "Lowercase letters, digits, hyphens and underscores."
        ),
    )
    question_de = forms.CharField(label=_("Question (German)"), max_length=300)
    answer_de = forms.CharField(label=_("Answer (German)"), max_length=MAX_ANSWER, widget=_lines())
    phrases_de = forms.CharField(
        label=_("Other ways to ask (German)"),
        required=False,
        widget=_lines(),
        help_text=_(
            "One per line, as visitors write: “Habt ihr Schließfächer?”, “Spind”, also "
            "without umlauts."
        ),
    )
    question_en = forms.CharField(label=_("Question (English)"), max_length=300, required=False)
    answer_en = forms.CharField(
        label=_("Answer (English)"), max_length=MAX_ANSWER, required=False, widget=_lines()
    )
    phrases_en = forms.CharField(
        label=_("Other ways to ask (English)"),
        required=False,
        widget=_lines(),
        help_text=_("One per line, e.g. “Are there lockers?”, “luggage storage”."),
    )
    active = forms.BooleanField(
        label=_("Active: the assistant uses this entry"), required=False, initial=True
    )

    def clean_key(self) -> str:
        key: str = self.cleaned_data.get("key", "").strip().lower()
        if key and not set(key) <= KEY_CHARS:
            raise forms.ValidationError(
                _("Use only lowercase letters, digits, hyphens and underscores.")
            )
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("answer_en") and not data.get("question_en"):
            self.add_error("question_en", _("Give the English question too."))
        if data.get("question_en") and not data.get("answer_en"):
            self.add_error("answer_en", _("Give the English answer too."))
        return data


class DayForm(forms.Form):
    """One weekday: up to two spans; no span means closed."""

    opens_1 = _time(_("Opens"))
    closes_1 = _time(_("Closes"))
    opens_2 = _time(_("Opens again"))
    closes_2 = _time(_("Closes again"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for n in (1, 2):
            opens, closes = data.get(f"opens_{n}"), data.get(f"closes_{n}")
            if (opens is None) != (closes is None) and not self.has_error(f"opens_{n}"):
                missing = f"closes_{n}" if closes is None else f"opens_{n}"
                if not self.has_error(missing):
                    self.add_error(missing, _("Give both times, or neither."))
            elif opens is not None and closes is not None and closes <= opens:
                self.add_error(f"closes_{n}", _("Must be after the opening time."))
        spans = self.spans()
        if len(spans) == 2 and spans[1][0] < spans[0][1] and spans[0][0] < spans[1][1]:
            self.add_error(None, _("The two spans overlap."))
        return data

    def spans(self) -> list[tuple[time, time]]:
        data = getattr(self, "cleaned_data", {})
        spans = []
        for n in (1, 2):
            opens, closes = data.get(f"opens_{n}"), data.get(f"closes_{n}")
            if opens is not None and closes is not None and closes > opens:
                spans.append((opens, closes))
        return sorted(spans)


WeekFormSet = forms.formset_factory(
    DayForm, extra=0, min_num=7, max_num=7, validate_min=True, validate_max=True
)


def week_initial(week: list[list[tuple[time, time]]]) -> list[dict[str, time]]:
    rows = []
    for spans in week:
        row: dict[str, time] = {}
        for n, (opens, closes) in enumerate(spans[:2], start=1):
            row[f"opens_{n}"], row[f"closes_{n}"] = opens, closes
        rows.append(row)
    return rows


class HolidayRuleForm(forms.Form):
    holiday_rule = forms.ChoiceField(
        label=_("On public holidays"),
        choices=HolidayRule.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Public holidays of the organisation's country and region. An exception for a "
            "date always wins."
        ),
    )


class ExceptionForm(forms.Form):
    date = forms.DateField(
        label=_("Date"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    closed = forms.BooleanField(label=_("Closed all day"), required=False, initial=True)
    opens = _time(_("Opens"))
    closes = _time(_("Closes"))
    note_de = forms.CharField(
        label=_("Note (German)"),
        max_length=300,
        required=False,
        help_text=_("Told to visitors, e.g. “Heiligabend”."),
    )
    note_en = forms.CharField(label=_("Note (English)"), max_length=300, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("closed"):
            for name in ("opens", "closes"):
                if data.get(name) is None and not self.has_error(name):
                    self.add_error(name, _("Give the time, or tick “Closed all day”."))
            opens, closes = data.get("opens"), data.get("closes")
            if opens is not None and closes is not None and closes <= opens:
                self.add_error("closes", _("Must be after the opening time."))
        return data


class PriceForm(forms.Form):
    label_de = forms.CharField(label=_("Label (German)"), max_length=200)
    label_en = forms.CharField(label=_("Label (English)"), max_length=200, required=False)
    amount_eur = forms.DecimalField(
        label=_("Amount in euros"),
        min_value=0,
        max_digits=7,
        decimal_places=2,
        help_text=_("0 for free admission."),
        localize=True,
    )
    note_de = forms.CharField(
        label=_("Note (German)"),
        max_length=300,
        required=False,
        help_text=_("Who gets it, what to show, e.g. “Studierende, bitte Ausweis zeigen”."),
    )
    note_en = forms.CharField(label=_("Note (English)"), max_length=300, required=False)
    position = forms.IntegerField(
        label=_("Position in the list"), min_value=0, max_value=9999, initial=0
    )


class PersonalTopicForm(forms.Form):
    name_de = forms.CharField(label=_("Name (German)"), max_length=100)
    name_en = forms.CharField(label=_("Name (English)"), max_length=100, required=False)
    phrases = forms.CharField(
        label=_("Words and phrases"),
        widget=_lines(8),
        help_text=_(
            "One per line, either language, e.g. “beschwerde”, “complaint”. A message with "
            "one of them goes to the inbox."
        ),
    )


class SettingsForm(forms.Form):
    enabled = forms.BooleanField(label=_("The assistant answers visitors"), required=False)
    greeting_de = forms.CharField(label=_("Greeting (German)"), max_length=300, required=False)
    greeting_en = forms.CharField(label=_("Greeting (English)"), max_length=300, required=False)
    reply_time_de = forms.CharField(
        label=_("Reply time after a hand-over (German)"),
        max_length=200,
        help_text=_("Completes “A colleague will answer …”, e.g. “innerhalb eines Werktags”."),
    )
    reply_time_en = forms.CharField(
        label=_("Reply time after a hand-over (English)"),
        max_length=200,
        help_text=_("E.g. “within one working day”."),
    )
    synonyms = forms.CharField(
        label=_("Synonyms"),
        required=False,
        widget=_lines(10),
        help_text=_(
            "One group of words that mean the same per line, separated by commas: “Kasse, "
            "Ticketschalter, Ticketkasse”. Lines starting with # are comments."
        ),
    )

    MANAGER_FIELDS = ("enabled", "greeting_de", "greeting_en")

    def __init__(self, *args: Any, manager: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not manager:
            for name in self.MANAGER_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Managers and owners change this.")

    def clean_synonyms(self) -> str:
        text: str = self.cleaned_data.get("synonyms", "")
        problems = [SYNONYM_MESSAGES[code]() % values for code, values in synonym_problems(text)]
        if problems:
            raise forms.ValidationError(problems)
        return text
