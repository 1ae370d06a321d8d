"""Staff pages of journeys: the list with the ready-made library, a journey as a readable
flow with its results per step, the editor, the dry run; mail templates with a preview;
newsletters; the team's tasks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from publikum.audience.models import Contact, Purpose, Segment
from publikum.core.errors import DomainError
from publikum.core.models import Role, role_at_least
from publikum.core.services import audit_log
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.journeys import editor, library, newsletters
from publikum.journeys.editor import STEP_FORMS
from publikum.journeys.engine.definition import steps_of
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    JourneyRun,
    JourneyStatus,
    Message,
    MessageKind,
    MessageStatus,
    Newsletter,
    Reentry,
    RunStatus,
    StaffTask,
    StepEvent,
    TaskStatus,
    Trigger,
)
from publikum.journeys.presentation import flow
from publikum.journeys.results import (
    CONVERSION_DAYS,
    SPLIT_MIN_PER_WAY,
    conversions_by_step,
    split_results,
)

MAX_JSON = 200_000


def _can_edit(request: StaffRequest) -> bool:
    return role_at_least(request.membership.role, Role.EDITOR)


def _template_names(organisation: Any) -> dict[int, str]:
    return dict(EmailTemplate.objects.filter(organisation=organisation).values_list("pk", "name"))


# --- journeys -------------------------------------------------------------------------------


@staff_view(Role.VIEWER)
def journey_list(request: StaffRequest) -> HttpResponse:
    journeys = (
        Journey.objects.filter(organisation=request.organisation)
        .exclude(status=JourneyStatus.ARCHIVED)
        .annotate(
            entered=Count("runs", distinct=True),
            waiting=Count("runs", filter=Q(runs__status=RunStatus.WAITING), distinct=True),
        )
        .order_by("name")
    )
    sent = dict(
        Message.objects.filter(organisation=request.organisation, status=MessageStatus.SENT)
        .exclude(journey=None)
        .values_list("journey")
        .annotate(n=Count("pk"))
        .values_list("journey", "n")
    )
    installed = set(
        Journey.objects.filter(organisation=request.organisation)
        .exclude(template_key="")
        .values_list("template_key", flat=True)
    )
    return render(
        request,
        "journeys/journey_list.html",
        {
            "rows": [(j, sent.get(j.pk, 0)) for j in journeys],
            "library": [r for key, r in library.LIBRARY.items() if key not in installed],
            "can_edit": _can_edit(request),
        },
    )


@staff_view(Role.EDITOR)
def journey_install(request: StaffRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        journey = library.library_install(
            organisation=request.organisation, key=request.POST.get("key", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("journeys", org=request.organisation.slug)
    audit_log(
        request.organisation,
        "journeys.installed",
        actor=request.user,
        data={"id": journey.pk, "key": journey.template_key},
    )
    messages.success(
        request,
        _("“%(name)s” was added as a draft. Check it, then switch it on.") % {"name": journey.name},
    )
    return redirect("journey_detail", org=request.organisation.slug, journey_id=journey.pk)


def _results(journey: Journey) -> dict[str, dict[str, int]]:
    """Figures per step: waiting there, events, messages by status, clicks."""
    out: dict[str, dict[str, int]] = {}

    def add(step_id: str, key: str, n: int) -> None:
        out.setdefault(step_id, {})[key] = out.get(step_id, {}).get(key, 0) + int(n)

    for step_id, n in (
        JourneyRun.objects.filter(journey=journey, status=RunStatus.WAITING)
        .values_list("step_id")
        .annotate(n=Count("pk"))
        .values_list("step_id", "n")
    ):
        add(step_id, "waiting", n)
    for step_id, event, n in (
        StepEvent.objects.filter(journey=journey)
        .values_list("step_id", "event")
        .annotate(n=Count("pk"))
        .values_list("step_id", "event", "n")
    ):
        add(step_id, event, n)
    for step_id, status, n, clicked, unsubscribed in (
        Message.objects.filter(journey=journey)
        .values_list("step_id", "status")
        .annotate(
            n=Count("pk"),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
        )
        .values_list("step_id", "status", "n", "clicked", "unsubscribed")
    ):
        add(step_id, f"mail_{status}", n)
        add(step_id, "clicked", clicked)
        add(step_id, "unsubscribed", unsubscribed)
    for step_id, n in conversions_by_step(Message.objects.filter(journey=journey)).items():
        add(step_id, "converted", n)
    return out


def _problems(journey: Journey) -> list[str]:
    from publikum.journeys.engine import journey_validate

    return [str(p) for p in journey_validate(journey)]


@staff_view(Role.VIEWER)
def journey_detail(request: StaffRequest, journey_id: int) -> HttpResponse:
    journey = get_object_or_404(Journey, organisation=request.organisation, pk=journey_id)
    results = _results(journey)
    rows = flow(journey.definition or {}, _template_names(request.organisation))
    splits = {
        str(step.get("id")): split_results(journey, step)
        for step in (journey.definition or {}).get("steps") or []
        if isinstance(step, dict) and step.get("type") == "split"
    }
    runs = dict(
        JourneyRun.objects.filter(journey=journey)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    peak = max([r.get("waiting", 0) + r.get("mail_sent", 0) for r in results.values()] + [1])
    dry_run: list[Any] | None = None
    dry_contact: Contact | None = None
    query = request.GET.get("contact", "").strip()
    if query:
        dry_contact, dry_run = _dry_run(request, journey, query)
    return render(
        request,
        "journeys/journey_detail.html",
        {
            "journey": journey,
            "rows": [(row, results.get(row.step_id, {})) for row in rows],
            "runs": {status: runs.get(status, 0) for status in RunStatus.values},
            "entered": sum(runs.values()),
            "peak": peak,
            "problems": _problems(journey),
            "can_edit": _can_edit(request),
            "query": query,
            "dry_run": dry_run,
            "dry_contact": dry_contact,
            "conversion_days": CONVERSION_DAYS,
            "splits": splits,
            "split_min": SPLIT_MIN_PER_WAY,
        },
    )


def _dry_run(
    request: StaffRequest, journey: Journey, query: str
) -> tuple[Contact | None, list[Any] | None]:
    from publikum.journeys.engine import simulate

    contacts = Contact.objects.filter(organisation=request.organisation, erased_at__isnull=True)
    contact = (
        contacts.filter(pk=int(query)).first()
        if query.isdigit()
        else contacts.filter(email__iexact=query).first()
    )
    if contact is None:
        messages.error(request, _("No contact with this e-mail address or number."))
        return None, None
    try:
        return contact, list(simulate(journey=journey, contact=contact, now=timezone.now()))
    except DomainError as exc:
        messages.error(request, exc.message)
        return contact, None


@staff_view(Role.EDITOR)
def journey_action(request: StaffRequest, journey_id: int, action: str) -> HttpResponse:
    from publikum.journeys import engine

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    journey = get_object_or_404(Journey, organisation=request.organisation, pk=journey_id)
    actions: dict[str, tuple[Callable[..., Any], str]] = {
        "activate": (engine.journey_activate, _("The journey is on.")),
        "pause": (
            engine.journey_pause,
            _("The journey is paused: nobody moves on until you resume it."),
        ),
        "resume": (engine.journey_resume, _("The journey runs again.")),
        "archive": (engine.journey_archive, _("The journey was archived.")),
    }
    if action not in actions:
        return HttpResponse(status=404)
    func, done = actions[action]
    try:
        func(journey=journey, actor=request.user)  # the service writes the audit entry
    except DomainError as exc:
        messages.error(request, exc.message)
        for problems in exc.fields.values():
            for problem in problems:
                messages.error(request, problem)
    else:
        messages.success(request, done)
    if action == "archive":
        return redirect("journeys", org=request.organisation.slug)
    return redirect("journey_detail", org=request.organisation.slug, journey_id=journey.pk)


class JsonField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 16, "class": "code"}))
        kwargs.setdefault("max_length", MAX_JSON)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text:
            return {} if not isinstance(self.initial, list) else []
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON (line %(line)d, column %(col)d): %(msg)s")
                % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
            ) from exc


class JourneyForm(forms.Form):
    """A whole journey as JSON: the advanced page for power users."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    trigger = forms.ChoiceField(label=gettext_lazy("Starts when"), choices=Trigger.choices)
    trigger_config = JsonField(
        label=gettext_lazy("Trigger details (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "code"}),
    )
    reentry = forms.ChoiceField(label=gettext_lazy("Re-entry"), choices=Reentry.choices)
    reentry_days = forms.IntegerField(
        label=gettext_lazy("Days before re-entry"), min_value=0, max_value=3650, initial=0
    )
    definition = JsonField(label=gettext_lazy("Steps (JSON)"))


def _journey(request: StaffRequest, journey_id: int) -> Journey:
    return get_object_or_404(Journey, organisation=request.organisation, pk=journey_id)


def _editor_url(journey: Journey, step_id: str = "") -> str:
    url = reverse(
        "journey_edit", kwargs={"org": journey.organisation.slug, "journey_id": journey.pk}
    )
    return f"{url}#step-{step_id}" if step_id else url


def _saved(request: StaffRequest, journey: Journey) -> None:
    messages.success(request, _("Saved."))
    if journey.status in (JourneyStatus.ACTIVE, JourneyStatus.PAUSED):
        messages.info(request, _("Changes apply to contacts at their next step."))


def _refused(request: StaffRequest, form: forms.Form, exc: DomainError) -> None:
    """A service's refusal shown above the form, with each problem it names."""
    form.add_error(None, exc.message)
    for problems in exc.fields.values():
        for problem in problems:
            if problem not in exc.message:
                form.add_error(None, problem)


@staff_view(Role.EDITOR)
def journey_create(request: StaffRequest) -> HttpResponse:
    """A new journey: its settings first, then its steps in the editor. The JSON page of a
    new journey (`?json=1`) posts here as well; its form is the one with a definition."""
    if request.GET.get("json") or "definition" in request.POST:
        return _json_page(request, None)
    return _settings_page(request, None)


@staff_view(Role.EDITOR)
def journey_edit(request: StaffRequest, journey_id: int) -> HttpResponse:
    """The editor: the journey's settings, and its steps in order with their actions."""
    return _settings_page(request, _journey(request, journey_id))


def _settings_page(request: StaffRequest, journey: Journey | None) -> HttpResponse:
    organisation = request.organisation
    initial = (
        editor.JourneySettingsForm.initial_from(journey)
        if journey is not None
        else {"trigger": Trigger.SUBSCRIBED, "reentry": Reentry.ONCE}
    )
    current = journey.trigger if journey is not None else ""
    if request.method == "POST" and request.POST.get("action") == "trigger":
        # "Show the settings of this trigger" (the page without JavaScript): nothing saved.
        form = editor.JourneySettingsForm(
            initial={**initial, **request.POST.dict()},
            organisation=organisation,
            current_trigger=current,
        )
    else:
        form = editor.JourneySettingsForm(
            request.POST or None,
            initial=initial,
            organisation=organisation,
            current_trigger=current,
        )
    if request.method == "POST" and request.POST.get("action") != "trigger" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = editor.journey_settings_save(
                organisation=organisation,
                journey=journey,
                actor=request.user,
                name=data["name"],
                description=data["description"],
                trigger=data["trigger"],
                config=form.config(),
                reentry=data["reentry"],
                reentry_days=data.get("reentry_days") or 0,
            )
        except DomainError as exc:
            _refused(request, form, exc)
        else:
            _saved(request, saved)
            return redirect(_editor_url(saved))
    context: dict[str, Any] = {"form": form, "journey": journey}
    if journey is not None:
        context.update(_editor_context(journey))
    return render(
        request,
        "journeys/journey_form.html",
        context,
        status=400 if form.is_bound and form.errors else 200,
    )


def _editor_context(journey: Journey) -> dict[str, Any]:
    """The steps in the order of the flow, each with its problems and where steps can be
    added; problems of the journey as a whole."""
    from publikum.journeys.engine import journey_validate

    problems = journey_validate(journey)
    by_step: dict[str, list[str]] = {}
    for problem in problems:
        by_step.setdefault(problem.step, []).append(problem.message)
    adds = {
        "branch": [
            ("yes", _("Add a step on the “yes” way")),
            ("no", _("Add a step on the “no” way")),
        ],
        "split": [("a", _("Add a step on way A")), ("b", _("Add a step on way B"))],
    }
    rows = []
    for row in flow(journey.definition or {}, _template_names(journey.organisation)):
        if row.seen:
            ways: list[tuple[str, str]] = []
        elif row.kind in adds:
            ways = adds[row.kind]
        elif row.kind in STEP_FORMS and row.kind != "end":
            ways = [("next", _("Add a step after this one"))]
        else:
            ways = []
        rows.append(
            {
                "row": row,
                "problems": [] if row.seen else by_step.pop(row.step_id, []),
                "adds": ways,
                "editable": not row.seen and row.kind in STEP_FORMS and row.kind != "end",
                "deletable": not row.seen,
            }
        )
    general = by_step.pop("", [])
    # Problems of steps the flow does not show (a step without id, say): listed as they are.
    general += [str(p) for p in problems if p.step in by_step]
    return {
        "rows": rows,
        "general_problems": general,
        "problem_count": len(problems),
        "is_live": journey.status in (JourneyStatus.ACTIVE, JourneyStatus.PAUSED),
        "is_archived": journey.status == JourneyStatus.ARCHIVED,
    }


@staff_view(Role.EDITOR)
def journey_edit_json(request: StaffRequest, journey_id: int) -> HttpResponse:
    """Advanced: the whole journey as JSON."""
    return _json_page(request, _journey(request, journey_id))


def _json_page(request: StaffRequest, journey: Journey | None) -> HttpResponse:
    initial: dict[str, Any] = {
        "trigger": Trigger.SUBSCRIBED,
        "definition": json.dumps(editor.blank_definition(), indent=2),
    }
    if journey is not None:
        initial = {
            "name": journey.name,
            "description": journey.description,
            "trigger": journey.trigger,
            "trigger_config": json.dumps(
                {k: v for k, v in journey.trigger_config.items() if not str(k).startswith("_")},
                ensure_ascii=False,
            ),
            "reentry": journey.reentry,
            "reentry_days": journey.reentry_days,
            "definition": json.dumps(journey.definition, indent=2, ensure_ascii=False),
        }
    form = JourneyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not isinstance(data["definition"], dict) or not isinstance(data["trigger_config"], dict):
            form.add_error("definition", _("Steps and trigger details must be JSON objects."))
        else:
            try:
                saved = editor.journey_json_save(
                    organisation=request.organisation,
                    journey=journey,
                    actor=request.user,
                    values=data,
                )
            except DomainError as exc:
                _refused(request, form, exc)
            else:
                _saved(request, saved)
                return redirect(
                    "journey_detail", org=request.organisation.slug, journey_id=saved.pk
                )
    return render(
        request,
        "journeys/step_json.html",
        {"form": form, "journey": journey, "templates": _template_names(request.organisation)},
    )


def _step_page(
    request: StaffRequest,
    journey: Journey,
    form: editor.StepForm,
    *,
    step_id: str = "",
    position: editor.Position | None = None,
) -> HttpResponse:
    return render(
        request,
        "journeys/step_form.html",
        {
            "journey": journey,
            "form": form,
            "kind": form.kind,
            "kind_label": editor.STEP_LABELS[form.kind],
            "step_id": step_id,
            "position": position,
            "after_text": _after_text(journey, position) if position is not None else "",
            "is_live": journey.status in (JourneyStatus.ACTIVE, JourneyStatus.PAUSED),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@staff_view(Role.EDITOR)
def journey_step_add(request: StaffRequest, journey_id: int) -> HttpResponse:
    """Add a step: first its type (`?type=`), then its form. `after` and `way` say where:
    after that step on that way ("next", "yes", "no", "a", "b"), or at the start."""
    journey = _journey(request, journey_id)
    source = request.POST if request.method == "POST" else request.GET
    position = editor.Position.parse(source.get("after", ""), source.get("way", ""))
    try:
        follower = editor.target_at(journey.definition or {}, position)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_editor_url(journey))
    kind = source.get("type", "")
    if kind not in STEP_FORMS or (kind == "end" and follower):
        choices = [c for c in editor.STEP_CHOICES if c[0] != "end" or not follower]
        return render(
            request,
            "journeys/step_choose.html",
            {
                "journey": journey,
                "position": position,
                "choices": choices,
                "error": _("Choose what should happen here.") if "choose" in source else "",
                "after_text": _after_text(journey, position),
            },
            status=400 if "choose" in source else 200,
        )
    form = STEP_FORMS[kind](
        request.POST if request.method == "POST" else None, organisation=request.organisation
    )
    if request.method == "POST" and form.is_valid():
        try:
            new_id = editor.journey_step_add(
                journey=journey, actor=request.user, position=position, fields=form.to_fields()
            )
        except DomainError as exc:
            _refused(request, form, exc)
        else:
            _saved(request, journey)
            return redirect(_editor_url(journey, new_id))
    return _step_page(request, journey, form, position=position)


def _after_text(journey: Journey, position: editor.Position) -> str:
    """Where a new step goes, in words: "at the start", "after: Wait 3 days"."""
    from publikum.journeys.presentation import describe_step

    if not position.after:
        return _("At the start of the journey")
    step = steps_of(journey.definition).get(position.after, {})
    text = describe_step(step, _template_names(journey.organisation))
    ways = {
        "yes": _("On the “yes” way of: %(step)s"),
        "no": _("On the “no” way of: %(step)s"),
        "a": _("On way A of: %(step)s"),
        "b": _("On way B of: %(step)s"),
    }
    return ways.get(position.way, _("After: %(step)s")) % {"step": text}


@staff_view(Role.EDITOR)
def journey_step_edit(request: StaffRequest, journey_id: int, step_id: str) -> HttpResponse:
    journey = _journey(request, journey_id)
    step = steps_of(journey.definition).get(step_id)
    if step is None:
        raise Http404("No such step.")
    form_class = STEP_FORMS.get(str(step.get("type")))
    if form_class is None:
        messages.error(request, _("This step can only be changed on the JSON page."))
        return redirect("journey_edit_json", org=request.organisation.slug, journey_id=journey.pk)
    form = form_class(
        request.POST if request.method == "POST" else None,
        initial=form_class.initial_from(step),
        organisation=request.organisation,
    )
    if request.method == "POST" and form.is_valid():
        try:
            editor.journey_step_update(
                journey=journey, actor=request.user, step_id=step_id, fields=form.to_fields()
            )
        except DomainError as exc:
            _refused(request, form, exc)
        else:
            _saved(request, journey)
            return redirect(_editor_url(journey, step_id))
    return _step_page(request, journey, form, step_id=step_id)


@staff_view(Role.EDITOR)
def journey_step_delete(request: StaffRequest, journey_id: int, step_id: str) -> HttpResponse:
    """Delete a step after asking; for a branch or split, which of its ways stays."""
    from publikum.journeys.presentation import describe_step

    journey = _journey(request, journey_id)
    steps = steps_of(journey.definition)
    step = steps.get(step_id)
    if step is None:
        raise Http404("No such step.")
    error = ""
    if request.method == "POST":
        try:
            removed = editor.journey_step_delete(
                journey=journey,
                actor=request.user,
                step_id=step_id,
                keep=request.POST.get("keep", ""),
            )
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(
                request,
                ngettext("%(n)d step deleted.", "%(n)d steps deleted.", len(removed))
                % {"n": len(removed)},
            )
            if journey.status in (JourneyStatus.ACTIVE, JourneyStatus.PAUSED):
                messages.info(request, _("Changes apply to contacts at their next step."))
            return redirect(_editor_url(journey))
    names = _template_names(request.organisation)
    way_labels = {"yes": _("Keep the “yes” way"), "no": _("Keep the “no” way"),
                  "a": _("Keep way A"), "b": _("Keep way B"), "": ""}  # fmt: skip
    choices = [
        {
            "way": way,
            "label": way_labels[way],
            "gone": [(sid, describe_step(steps[sid], names)) for sid in removed if sid != step_id],
        }
        for way, removed in editor.deletion_preview(journey.definition, step_id).items()
    ]
    return render(
        request,
        "journeys/step_delete.html",
        {
            "journey": journey,
            "step_id": step_id,
            "step_text": describe_step(step, names),
            "choices": choices,
            "choose": editor.must_choose_way(step),
            "error": error,
            "is_live": journey.status in (JourneyStatus.ACTIVE, JourneyStatus.PAUSED),
        },
        status=400 if error else 200,
    )


# --- mail templates -------------------------------------------------------------------------


@staff_view(Role.VIEWER)
def template_list(request: StaffRequest) -> HttpResponse:
    templates = EmailTemplate.objects.filter(organisation=request.organisation).order_by("name")
    return render(
        request,
        "journeys/template_list.html",
        {"templates": templates, "can_edit": _can_edit(request)},
    )


class TemplateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=MessageKind.choices)
    purpose = forms.ChoiceField(
        label=gettext_lazy("Consent needed"),
        choices=[("", gettext_lazy("none (transactional)")), *Purpose.choices],
        required=False,
    )
    subject_de = forms.CharField(label=gettext_lazy("Subject (German)"), max_length=300)
    subject_en = forms.CharField(
        label=gettext_lazy("Subject (English)"), max_length=300, required=False
    )
    preheader_de = forms.CharField(
        label=gettext_lazy("Preview text (German)"), max_length=300, required=False
    )
    preheader_en = forms.CharField(
        label=gettext_lazy("Preview text (English)"), max_length=300, required=False
    )
    blocks = JsonField(
        label=gettext_lazy("Blocks (JSON)"),
        initial=[],
        help_text=gettext_lazy(
            "A list of blocks, each with a type: heading, text, personal, image, button, "
            "events (upcoming dates), for_you (each person's own recommendations with the "
            "reason for each: count 1 to 6, horizon 0 to 1 or left out), occurrence (the "
            "booked date). The fields of each type are described in docs/email-content.md."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == MessageKind.MARKETING and not data.get("purpose"):
            self.add_error("purpose", _("A marketing mail needs the consent it is sent under."))
        if data.get("kind") == MessageKind.TRANSACTIONAL:
            data["purpose"] = ""
        if "blocks" in data and not isinstance(data["blocks"], list):
            self.add_error("blocks", _("Blocks must be a JSON list."))
        return data


def _preview(template: EmailTemplate) -> dict[str, Any]:
    """The template rendered for a sample person in both languages, or its problems."""
    from publikum.journeys.content import TemplateProblem, render_preview, template_problems

    out: dict[str, Any] = {"problems": [str(p) for p in template_problems(template)]}
    for language in ("de", "en"):
        try:
            out[language] = render_preview(template, language=language)
        except TemplateProblem as exc:
            out[language] = None
            if str(exc) not in out["problems"]:
                out["problems"].append(str(exc))
    return out


@staff_view(Role.EDITOR)
def template_edit(request: StaffRequest, template_id: int | None = None) -> HttpResponse:
    template = (
        get_object_or_404(EmailTemplate, organisation=request.organisation, pk=template_id)
        if template_id
        else None
    )
    initial: dict[str, Any] = {
        "kind": MessageKind.MARKETING,
        "purpose": "newsletter",
        "blocks": "[]",
    }
    if template is not None:
        initial = {
            name: getattr(template, name)
            for name in (
                "name",
                "kind",
                "purpose",
                "subject_de",
                "subject_en",
                "preheader_de",
                "preheader_en",
            )
        }
        initial["blocks"] = json.dumps(template.blocks, indent=2, ensure_ascii=False)
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        taken = EmailTemplate.objects.filter(organisation=request.organisation, name=data["name"])
        if template is not None:
            taken = taken.exclude(pk=template.pk)
        if taken.exists():
            form.add_error("name", _("Another template has this name."))
        else:
            template = template or EmailTemplate(organisation=request.organisation)
            for name, value in data.items():
                setattr(template, name, value)
            template.save()
            messages.success(request, _("Saved."))
            return redirect("template_edit", org=request.organisation.slug, template_id=template.pk)
    preview = _preview(template) if template is not None else None
    return render(
        request,
        "journeys/template_form.html",
        {"form": form, "template": template, "preview": preview},
    )


# --- newsletters ----------------------------------------------------------------------------


class NewsletterForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    template = forms.TypedChoiceField(label=gettext_lazy("Mail template"), coerce=int)
    segment = forms.TypedChoiceField(label=gettext_lazy("Segment"), coerce=int)

    def __init__(self, *args: Any, organisation: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = list(  # type: ignore[attr-defined]
            EmailTemplate.objects.filter(organisation=organisation, kind=MessageKind.MARKETING)
            .order_by("name")
            .values_list("pk", "name")
        )
        self.fields["segment"].choices = list(  # type: ignore[attr-defined]
            Segment.objects.filter(organisation=organisation)
            .order_by("name")
            .values_list("pk", "name")
        )


@staff_view(Role.VIEWER)
def newsletter_list(request: StaffRequest) -> HttpResponse:
    form = NewsletterForm(organisation=request.organisation)
    return render(
        request,
        "journeys/newsletter_list.html",
        {
            "newsletters": Newsletter.objects.filter(organisation=request.organisation)
            .select_related("template", "segment")
            .order_by("-created_at"),
            "form": form,
            "can_edit": _can_edit(request),
        },
    )


@staff_view(Role.EDITOR)
def newsletter_create(request: StaffRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = NewsletterForm(request.POST, organisation=request.organisation)
    if form.is_valid():
        try:
            newsletter = newsletters.newsletter_create(
                organisation=request.organisation,
                name=form.cleaned_data["name"],
                template_id=form.cleaned_data["template"],
                segment_id=form.cleaned_data["segment"],
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            return redirect(
                "newsletter_detail", org=request.organisation.slug, newsletter_id=newsletter.pk
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("newsletters", org=request.organisation.slug)


@staff_view(Role.VIEWER)
def newsletter_detail(request: StaffRequest, newsletter_id: int) -> HttpResponse:
    newsletter = get_object_or_404(
        Newsletter.objects.select_related("template", "segment"),
        organisation=request.organisation,
        pk=newsletter_id,
    )
    return render(
        request,
        "journeys/newsletter_detail.html",
        {
            "newsletter": newsletter,
            "results": newsletters.newsletter_results(newsletter=newsletter),
            "can_edit": _can_edit(request),
        },
    )


@staff_view(Role.EDITOR)
def newsletter_action(request: StaffRequest, newsletter_id: int, action: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    newsletter = get_object_or_404(Newsletter, organisation=request.organisation, pk=newsletter_id)
    try:
        if action == "send":
            newsletters.newsletter_schedule(newsletter=newsletter, at=None, actor=request.user)
            messages.success(request, _("The newsletter is being sent."))
        elif action == "schedule":
            at = _parse_local(request, request.POST.get("at", ""))
            newsletters.newsletter_schedule(newsletter=newsletter, at=at, actor=request.user)
            messages.success(request, _("The newsletter is scheduled."))
        elif action == "cancel":
            newsletters.newsletter_cancel(newsletter=newsletter, actor=request.user)
            messages.success(request, _("The newsletter was stopped."))
        else:
            return HttpResponse(status=404)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("newsletter_detail", org=request.organisation.slug, newsletter_id=newsletter.pk)


def _parse_local(request: StaffRequest, value: str) -> datetime:
    from zoneinfo import ZoneInfo

    from publikum.core.errors import ValidationFailed

    try:
        naive = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(_("Give a date and time, e.g. 2026-12-01 10:00.")) from exc
    return naive.replace(tzinfo=ZoneInfo(request.organisation.timezone))


# --- the team's tasks -----------------------------------------------------------------------


@staff_view(Role.VIEWER)
def task_list(request: StaffRequest) -> HttpResponse:
    if request.method == "POST":
        if not role_at_least(request.membership.role, Role.FRONT_DESK):
            return HttpResponse(status=403)
        raw = request.POST.get("task", "")
        task = get_object_or_404(
            StaffTask, organisation=request.organisation, pk=int(raw) if raw.isdigit() else 0
        )
        task.status = TaskStatus.DONE if task.status == TaskStatus.OPEN else TaskStatus.OPEN
        task.save(update_fields=["status"])
        return redirect("staff_tasks", org=request.organisation.slug)
    tasks = (
        StaffTask.objects.filter(organisation=request.organisation)
        .select_related("contact", "assignee", "journey")
        .order_by("status", "due_on", "-created_at")[:500]
    )
    return render(request, "journeys/task_list.html", {"tasks": tasks})
