"""The editor's forms: one per step type, and the journey's settings with the trigger's
settings as fields. A step form judges its step with the engine's validation of that step
alone (`step_problems`), so that what the editor accepts, the engine accepts."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from publikum.audience.models import LifecycleStage, Purpose, Segment
from publikum.core.models import Membership, Organisation, User
from publikum.discovery.forms import DialField
from publikum.journeys.engine.definition import MAX_TAG_LENGTH, TARGETS
from publikum.journeys.engine.validation import journey_validate
from publikum.journeys.models import EmailTemplate, Journey, Reentry, Trigger
from publikum.programme.models import Theme

# The step types in the order the "add a step" page offers them, with what each one does.
STEP_CHOICES: list[tuple[str, Any, Any]] = [
    ("email", gettext_lazy("Send a mail"), gettext_lazy("Send one of your mail templates.")),
    (
        "wait",
        gettext_lazy("Wait"),
        gettext_lazy("Wait for a while, or until a weekday and time."),
    ),
    (
        "branch",
        gettext_lazy("Branch: yes or no"),
        gettext_lazy(
            "Take one of two ways: did they click a link in the previous mail, are they in a "
            "segment?"
        ),
    ),
    ("tag", gettext_lazy("Add or remove a tag"), gettext_lazy("Mark the contact with a tag.")),
    (
        "interest",
        gettext_lazy("Change an interest"),
        gettext_lazy("Add or remove one of the contact's themes of interest."),
    ),
    (
        "task",
        gettext_lazy("Create a task for the team"),
        gettext_lazy("A to-do in the team's task list, for example “call to say thank you”."),
    ),
    (
        "webhook",
        gettext_lazy("Notify another system (webhook)"),
        gettext_lazy("Send the contact's details to an address on the internet."),
    ),
    (
        "split",
        gettext_lazy("A/B test"),
        gettext_lazy("Send a share of the contacts one way and the rest the other way."),
    ),
    ("end", gettext_lazy("End"), gettext_lazy("The journey ends here.")),
]
STEP_LABELS: dict[str, Any] = {kind: label for kind, label, _hint in STEP_CHOICES}


# --- the engine's judgement of one step -----------------------------------------------------


def step_problems(*, organisation: Organisation, fields: dict[str, Any]) -> list[str]:
    """What the engine's validation says about a step on its own, in the UI language.

    The step is validated in a scratch journey (not saved) in which each of its ways leads
    to an end, so that only its own settings are judged; where it stands in the flow is
    judged on the editor page.
    """
    kind = str(fields.get("type"))
    step = {"id": "step", **fields, **dict.fromkeys(TARGETS.get(kind, ()), "end")}
    scratch = Journey(
        organisation=organisation,
        trigger=Trigger.API,
        reentry=Reentry.ONCE,
        definition={"start": "step", "steps": [step, {"id": "end", "type": "end"}]},
    )
    return [p.message for p in journey_validate(scratch) if p.step == "step"]


# --- step forms -----------------------------------------------------------------------------

ADD_REMOVE = [("add", gettext_lazy("Add")), ("remove", gettext_lazy("Remove"))]


class StepForm(forms.Form):
    """The fields of one step type. `fieldsets` lays the form out; `to_fields` gives the
    step's JSON (without id and ways); `initial_from` reads a step back into the form."""

    kind: ClassVar[str] = ""
    fieldsets: ClassVar[list[tuple[Any, list[str]]]] = []
    # The field next to which the engine's objections are shown (None: above the form).
    engine_field: ClassVar[str | None] = None

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG003
        return {}

    def to_fields(self) -> dict[str, Any]:
        return {"type": self.kind}

    def engine_field_for(self) -> str | None:
        return self.engine_field

    def uses_engine(self) -> bool:
        """Whether the engine's check of the step alone can say more than the fields."""
        return True

    def check(self, data: dict[str, Any]) -> None:
        """Checks between fields, before the engine's (which needs a complete step)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.check(data)
        if not self.errors and self.uses_engine():
            for problem in step_problems(organisation=self.organisation, fields=self.to_fields()):
                self.add_error(self.engine_field_for(), problem)
        return data

    def layout(self) -> list[tuple[Any, list[forms.BoundField]]]:
        """The fieldsets with their bound fields, for the template."""
        return [(legend, [self[name] for name in names]) for legend, names in self.fieldsets]


WEEKDAYS = [
    ("0", gettext_lazy("Monday")),
    ("1", gettext_lazy("Tuesday")),
    ("2", gettext_lazy("Wednesday")),
    ("3", gettext_lazy("Thursday")),
    ("4", gettext_lazy("Friday")),
    ("5", gettext_lazy("Saturday")),
    ("6", gettext_lazy("Sunday")),
]


def _count(label: Any) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=0, required=False)


class WaitForm(StepForm):
    kind = "wait"
    mode = forms.ChoiceField(
        label=gettext_lazy("How long?"),
        choices=[
            ("duration", gettext_lazy("For a while")),
            ("until", gettext_lazy("Until a weekday and time")),
        ],
        widget=forms.RadioSelect,
        initial="duration",
    )
    days = _count(gettext_lazy("Days"))
    hours = _count(gettext_lazy("Hours"))
    minutes = _count(gettext_lazy("Minutes"))
    weekday = forms.TypedChoiceField(
        label=gettext_lazy("Weekday"),
        choices=[("", gettext_lazy("the next day at that time")), *WEEKDAYS],
        coerce=int,
        empty_value=None,
        required=False,
    )
    time = forms.TimeField(
        label=gettext_lazy("Time"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=gettext_lazy("In the house's time zone, e.g. 09:30."),
    )
    fieldsets = [
        (None, ["mode"]),
        (gettext_lazy("For a while"), ["days", "hours", "minutes"]),
        (gettext_lazy("Until a weekday and time"), ["weekday", "time"]),
    ]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        until = step.get("until")
        if isinstance(until, dict):
            weekday = until.get("weekday")
            return {
                "mode": "until",
                "weekday": "" if weekday is None else str(weekday),
                "time": until.get("time"),
            }
        raw = step.get("duration")
        duration: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return {"mode": "duration", **{k: duration.get(k) for k in ("days", "hours", "minutes")}}

    def to_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data.get("mode") == "until":
            moment = data.get("time")
            return {
                "type": "wait",
                "until": {
                    "weekday": data.get("weekday"),
                    "time": moment.strftime("%H:%M") if moment else "",
                },
            }
        parts = {k: data[k] for k in ("days", "hours", "minutes") if data.get(k)}
        return {"type": "wait", "duration": parts}

    def engine_field_for(self) -> str | None:
        return "time" if self.cleaned_data.get("mode") == "until" else "days"


class EmailForm(StepForm):
    kind = "email"
    template = forms.TypedChoiceField(
        label=gettext_lazy("Mail template"), coerce=int, empty_value=None
    )
    horizon = DialField(
        label=gettext_lazy("Horizon of the recommendations"),
        required=False,
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0", "max": "1"}),
        help_text=gettext_lazy(
            "For the “For you” blocks of this mail: from 0 (only what the person already "
            "likes) to 1 (mostly new to them, still relevant). Leave empty to use the "
            "house's setting."
        ),
    )
    fieldsets = [(None, ["template", "horizon"])]

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, organisation=organisation, **kwargs)
        self.fields["template"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a mail template")),
            *EmailTemplate.objects.filter(organisation=organisation)
            .order_by("name")
            .values_list("pk", "name"),
        ]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        return {"template": step.get("template"), "horizon": step.get("horizon")}

    def uses_engine(self) -> bool:
        # The template's own problems (syntax, unknown variables) are shown on the editor
        # page and the template's page: a step may name a template still being written.
        # That the template is one of this house's, the choice of the field ensures.
        return False

    def to_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"type": "email", "template": self.cleaned_data["template"]}
        if self.cleaned_data.get("horizon") is not None:
            fields["horizon"] = self.cleaned_data["horizon"]
        return fields


class JsonRulesField(forms.CharField):
    """Segment rules written as JSON (the "advanced" way of a branch)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6, "class": "code"}))
        kwargs.setdefault("max_length", 20_000)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON (line %(line)d, column %(col)d): %(msg)s")
                % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
            ) from exc


class BranchForm(StepForm):
    kind = "branch"
    condition = forms.ChoiceField(
        label=gettext_lazy("Take the “yes” way if"),
        choices=[
            ("clicked", gettext_lazy("they clicked a link in the previous mail")),
            ("opened", gettext_lazy("they opened the previous mail")),
            ("segment", gettext_lazy("they are in a segment")),
            ("rules", gettext_lazy("they match rules (advanced)")),
        ],
        widget=forms.RadioSelect,
        initial="clicked",
        help_text=gettext_lazy(
            "For the previous mail, put a wait between the mail and this branch: right "
            "after sending, nobody has clicked yet."
        ),
    )
    segment = forms.TypedChoiceField(
        label=gettext_lazy("Segment"), coerce=int, empty_value=None, required=False
    )
    rules = JsonRulesField(
        label=gettext_lazy("Rules as JSON"),
        required=False,
        help_text=gettext_lazy(
            'The rule language of segments, e.g. {"all": [{"tag": "vip"}]}; see docs/segments.md.'
        ),
    )
    fieldsets = [
        (None, ["condition"]),
        (gettext_lazy("If they are in a segment"), ["segment"]),
        (gettext_lazy("Advanced: rules"), ["rules"]),
    ]

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, organisation=organisation, **kwargs)
        self.fields["segment"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a segment")),
            *Segment.objects.filter(organisation=organisation)
            .order_by("name")
            .values_list("pk", "name"),
        ]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        raw = step.get("condition")
        condition: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if condition.get("previous_mail") in ("clicked", "opened"):
            return {"condition": condition["previous_mail"]}
        rules = condition.get("rules")
        if isinstance(rules, dict) and set(rules) == {"in_segment"}:
            return {"condition": "segment", "segment": rules["in_segment"]}
        return {
            "condition": "rules",
            "rules": json.dumps(rules, indent=2, ensure_ascii=False) if rules else "",
        }

    def uses_engine(self) -> bool:
        # "The previous mail" depends on where the branch stands (a mail before it): the
        # editor page says so; the choice itself is all there is to check here.
        return self.cleaned_data.get("condition") in ("segment", "rules")

    def engine_field_for(self) -> str | None:
        return "segment" if self.cleaned_data.get("condition") == "segment" else "rules"

    def to_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        condition = data.get("condition")
        if condition == "segment":
            return {"type": "branch", "condition": {"rules": {"in_segment": data.get("segment")}}}
        if condition == "rules":
            return {"type": "branch", "condition": {"rules": data.get("rules")}}
        return {"type": "branch", "condition": {"previous_mail": condition}}

    def check(self, data: dict[str, Any]) -> None:
        if data.get("condition") == "segment" and data.get("segment") is None:
            self.add_error("segment", _("Choose the segment."))
        elif data.get("condition") == "rules" and data.get("rules") is None and not self.errors:
            self.add_error("rules", _("Write the rules, or choose another condition."))


class TagForm(StepForm):
    kind = "tag"
    engine_field = "tag"
    action = forms.ChoiceField(
        label=gettext_lazy("What to do"),
        choices=ADD_REMOVE,
        widget=forms.RadioSelect,
        initial="add",
    )
    tag = forms.CharField(label=gettext_lazy("Tag"), max_length=MAX_TAG_LENGTH)
    fieldsets = [(None, ["action", "tag"])]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        action = "remove" if "remove" in step else "add"
        return {"action": action, "tag": step.get(action, "")}

    def to_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"type": "tag", data["action"]: data["tag"].strip()}


class InterestForm(StepForm):
    kind = "interest"
    engine_field = "theme"
    action = forms.ChoiceField(
        label=gettext_lazy("What to do"),
        choices=ADD_REMOVE,
        widget=forms.RadioSelect,
        initial="add",
    )
    theme = forms.ChoiceField(label=gettext_lazy("Theme"))
    fieldsets = [(None, ["action", "theme"])]

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, organisation=organisation, **kwargs)
        english = (translation.get_language() or "de").startswith("en")
        themes = Theme.objects.filter(organisation=organisation).order_by("name_de")
        self.fields["theme"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a theme")),
            *((t.slug, (t.name_en or t.name_de) if english else t.name_de) for t in themes),
        ]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        action = "remove" if "remove" in step else "add"
        return {"action": action, "theme": step.get(action, "")}

    def to_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"type": "interest", data["action"]: data["theme"]}


class TaskForm(StepForm):
    kind = "task"
    engine_field = "assignee"
    title = forms.CharField(label=gettext_lazy("Title"), max_length=300)
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    assignee = forms.ChoiceField(label=gettext_lazy("Assigned to"), required=False)
    notify = forms.BooleanField(
        label=gettext_lazy("Mail the task to the person it is assigned to"), required=False
    )
    due_days = forms.IntegerField(
        label=gettext_lazy("Due after (days)"),
        min_value=0,
        max_value=365,
        required=False,
        help_text=gettext_lazy("Empty: no due date."),
    )
    fieldsets = [(None, ["title", "notes", "assignee", "notify", "due_days"])]

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, organisation=organisation, **kwargs)
        members = (
            Membership.objects.filter(organisation=organisation, user__is_active=True)
            .select_related("user")
            .order_by("user__name", "user__email")
        )
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", _("the whole team (nobody in particular)")),
            *((m.user.email, _member_label(m.user)) for m in members),
        ]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        return {
            "title": step.get("title", ""),
            "notes": step.get("notes", ""),
            "assignee": step.get("assignee") or "",
            "notify": bool(step.get("notify")),
            "due_days": step.get("due_days"),
        }

    def to_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields: dict[str, Any] = {
            "type": "task",
            "title": data["title"].strip(),
            "assignee": data.get("assignee") or None,
            "notify": bool(data.get("notify")),
        }
        if data.get("notes"):
            fields["notes"] = data["notes"]
        if data.get("due_days") is not None:
            fields["due_days"] = data["due_days"]
        return fields


def _member_label(user: User) -> str:
    return f"{user.name} ({user.email})" if user.name else user.email


class WebhookForm(StepForm):
    kind = "webhook"
    engine_field = "url"
    url = forms.CharField(
        label=gettext_lazy("Address (https://…)"),
        max_length=2000,
        widget=forms.URLInput(attrs={"inputmode": "url"}),
    )
    secret = forms.CharField(
        label=gettext_lazy("Secret for the signature (optional)"),
        max_length=200,
        required=False,
        help_text=gettext_lazy(
            "The receiver checks the signature with it. Empty: a secret derived for this journey."
        ),
    )
    fieldsets = [(None, ["url", "secret"])]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        return {"url": step.get("url", ""), "secret": step.get("secret", "")}

    def to_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields: dict[str, Any] = {"type": "webhook", "url": data["url"].strip()}
        if data.get("secret"):
            fields["secret"] = data["secret"]
        return fields


class SplitForm(StepForm):
    kind = "split"
    engine_field = "percent_a"
    percent_a = forms.IntegerField(
        label=gettext_lazy("Share of way A (%)"),
        min_value=1,
        max_value=99,
        initial=50,
        help_text=gettext_lazy("The rest takes way B."),
    )
    metric = forms.ChoiceField(
        label=gettext_lazy("The better way is the one with more"),
        choices=[
            ("clicked", gettext_lazy("clicks in the mails")),
            ("booked", gettext_lazy("bookings afterwards")),
        ],
        initial="clicked",
    )
    fieldsets = [(None, ["percent_a", "metric"])]

    @classmethod
    def initial_from(cls, step: dict[str, Any]) -> dict[str, Any]:
        return {"percent_a": step.get("percent_a", 50), "metric": step.get("metric", "clicked")}

    def to_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"type": "split", "percent_a": data["percent_a"], "metric": data["metric"]}


class EndForm(StepForm):
    kind = "end"


STEP_FORMS: dict[str, type[StepForm]] = {
    form.kind: form
    for form in (
        WaitForm,
        EmailForm,
        BranchForm,
        TagForm,
        InterestForm,
        TaskForm,
        WebhookForm,
        SplitForm,
        EndForm,
    )
}


# --- the journey's settings -----------------------------------------------------------------

# For each trigger: (key in trigger_config, form field).
TRIGGER_SETTINGS: dict[str, list[tuple[str, str]]] = {
    Trigger.SUBSCRIBED: [("purpose", "purpose")],
    Trigger.DATE_PASSED: [("days_after", "days_after"), ("after", "after")],
    Trigger.BOOKED_DATE_AHEAD: [("days_before", "days_before")],
    Trigger.STAGE_CHANGED: [("from", "stage_from"), ("to", "stage_to")],
    Trigger.ENTERED_SEGMENT: [("segment", "segment")],
    Trigger.TAG_ADDED: [("tag", "tag")],
}


class JourneySettingsForm(forms.Form):
    """Name, trigger with its settings as fields, re-entry. The fields of every trigger are
    in the form (the page shows those of the chosen trigger); only the chosen trigger's are
    stored."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    trigger = forms.ChoiceField(label=gettext_lazy("Starts when"))
    purpose = forms.ChoiceField(
        label=gettext_lazy("Only subscriptions to"),
        choices=[("", gettext_lazy("any subscription")), *Purpose.choices],
        required=False,
    )
    days_after = forms.IntegerField(
        label=gettext_lazy("Days after"), min_value=0, max_value=60, initial=1, required=False
    )
    after = forms.ChoiceField(
        label=gettext_lazy("After"),
        choices=[
            ("visit", gettext_lazy("a visit (checked in or imported)")),
            ("booking", gettext_lazy("a booked date")),
        ],
        initial="visit",
        required=False,
    )
    days_before = forms.IntegerField(
        label=gettext_lazy("Days before the date"),
        min_value=0,
        max_value=60,
        initial=2,
        required=False,
    )
    stage_from = forms.ChoiceField(
        label=gettext_lazy("From stage"),
        choices=[("", gettext_lazy("any stage")), *LifecycleStage.choices],
        required=False,
    )
    stage_to = forms.ChoiceField(
        label=gettext_lazy("To stage"),
        choices=[("", gettext_lazy("Choose a stage")), *LifecycleStage.choices],
        required=False,
    )
    segment = forms.TypedChoiceField(
        label=gettext_lazy("Segment"), coerce=int, empty_value=None, required=False
    )
    tag = forms.CharField(label=gettext_lazy("Tag"), max_length=MAX_TAG_LENGTH, required=False)
    reentry = forms.ChoiceField(label=gettext_lazy("Can a contact enter again?"))
    reentry_days = forms.IntegerField(
        label=gettext_lazy("Again after how many days"),
        min_value=0,
        max_value=3650,
        initial=0,
        required=False,
        help_text=gettext_lazy("Only for “again after N days”."),
    )

    def __init__(
        self, *args: Any, organisation: Organisation, current_trigger: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # "An idea's status changed" waits for the ideas module: offered only to a journey
        # that already has it, so that its page does not silently change it.
        self.fields["trigger"].choices = [  # type: ignore[attr-defined]
            (value, label)
            for value, label in Trigger.choices
            if value != Trigger.IDEA_STATUS or current_trigger == Trigger.IDEA_STATUS
        ]
        self.fields["reentry"].choices = Reentry.choices  # type: ignore[attr-defined]
        self.fields["segment"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a segment")),
            *Segment.objects.filter(organisation=organisation)
            .order_by("name")
            .values_list("pk", "name"),
        ]

    @classmethod
    def initial_from(cls, journey: Journey) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": journey.name,
            "description": journey.description,
            "trigger": journey.trigger,
            "reentry": journey.reentry,
            "reentry_days": journey.reentry_days,
        }
        config = journey.trigger_config if isinstance(journey.trigger_config, dict) else {}
        for key, field in TRIGGER_SETTINGS.get(journey.trigger, []):
            if config.get(key) is not None:
                initial[field] = config[key]
        return initial

    def full_clean(self) -> None:
        """Only the chosen trigger's settings count: a leftover in the fields of another
        trigger (hidden on the page) must not keep the form from being saved."""
        super().full_clean()
        if self.is_bound:
            mine = {field for _key, field in TRIGGER_SETTINGS.get(self.chosen_trigger(), [])}
            for settings in TRIGGER_SETTINGS.values():
                for _key, field in settings:
                    if field not in mine:
                        self.errors.pop(field, None)

    def chosen_trigger(self) -> str:
        """The trigger whose settings the page shows: the one submitted, else the stored one."""
        if self.is_bound:
            return str(self.data.get("trigger") or self.initial.get("trigger") or "")
        return str(self.initial.get("trigger") or Trigger.SUBSCRIBED)

    def trigger_fieldsets(self) -> list[tuple[str, Any, list[forms.BoundField]]]:
        """(trigger, its label, its fields) for each trigger that has settings."""
        labels = dict(Trigger.choices)
        return [
            (trigger, labels[trigger], [self[field] for _key, field in settings])
            for trigger, settings in TRIGGER_SETTINGS.items()
        ]

    def config(self) -> dict[str, Any]:
        """The chosen trigger's settings, as `trigger_config` stores them (without "_" keys)."""
        data = self.cleaned_data
        config: dict[str, Any] = {}
        for key, field in TRIGGER_SETTINGS.get(data["trigger"], []):
            value = data.get(field)
            if isinstance(value, str):
                value = value.strip()
            if value not in (None, ""):
                config[key] = value
        return config
