"""Staff pages of the audience: segments, their rule editor with a live count, CSV export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from publikum.audience import segments as seg
from publikum.audience.models import (
    Channel,
    Contact,
    ContactKind,
    EmailStatus,
    InteractionKind,
    LifecycleStage,
    Purpose,
    Segment,
)
from publikum.core.errors import DomainError, ValidationFailed
from publikum.core.models import Organisation, Role, role_at_least
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.programme.models import Theme

MAX_COUNT_BODY = 256 * 1024
EXPORT_CHUNK = 2000
EXPORT_COLUMNS = (
    "id",
    "kind",
    "first_name",
    "last_name",
    "organisation_name",
    "email",
    "email_status",
    "phone",
    "language",
    "postcode",
    "birthday",
    "lifecycle_stage",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "visits_12m",
    "last_visit_at",
    "interests",
    "tags",
    "created_at",
)
# Cells a spreadsheet would run as a formula: exported with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class SegmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    rules = forms.CharField(
        label=gettext_lazy("Rules as JSON"),
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        help_text=gettext_lazy(
            'For example {"all": [{"field": "language", "op": "eq", "value": "en"}, '
            '{"activity": "visit", "min": 3, "months": 12}]}. See the documentation of segments.'
        ),
    )

    def clean_rules(self) -> Any:
        text = self.cleaned_data["rules"]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON: %(msg)s at line %(line)d, column %(col)d.")
                % {"msg": exc.msg, "line": exc.lineno, "col": exc.colno}
            ) from exc


def _language() -> str:
    return (get_language() or "de")[:2]


def _can_edit(request: StaffRequest) -> bool:
    return role_at_least(request.membership.role, Role.EDITOR)


# --- list, detail ----------------------------------------------------------------------------


@staff_view(Role.VIEWER)
def segment_list(request: StaffRequest) -> HttpResponse:
    segments = list(seg.segment_list(organisation=request.organisation))
    counts = seg.segment_counts(segments=segments)
    rows = [(s, counts.get(s.pk)) for s in segments]
    return render(
        request, "audience/segment_list.html", {"rows": rows, "can_edit": _can_edit(request)}
    )


@staff_view(Role.VIEWER)
def segment_detail(request: StaffRequest, segment_id: int) -> HttpResponse:
    segment = seg.segment_get(organisation=request.organisation, segment_id=segment_id)
    error = ""
    count: int | None = None
    preview: list[Contact] = []
    try:
        count = seg.segment_count(segment=segment)
        preview = seg.segment_preview(segment=segment) if count else []
    except ValidationFailed as exc:
        error = exc.message
    return render(
        request,
        "audience/segment_detail.html",
        {
            "segment": segment,
            "count": count,
            "preview": preview,
            "error": error,
            "description": _describe(request.organisation, segment.rules),
            "can_edit": _can_edit(request),
        },
    )


def _describe(organisation: Organisation, rules: Any) -> seg.RuleText:
    language = _language()
    themes = {t.slug: t.name(language) for t in Theme.objects.filter(organisation=organisation)}
    names = dict(Segment.objects.filter(organisation=organisation).values_list("pk", "name"))
    return seg.describe_rules(rules, themes=themes, segments=names)


# --- create, edit, delete --------------------------------------------------------------------


@staff_view(Role.EDITOR)
def segment_create(request: StaffRequest) -> HttpResponse:
    return _edit(request, None)


@staff_view(Role.EDITOR)
def segment_edit(request: StaffRequest, segment_id: int) -> HttpResponse:
    segment = seg.segment_get(organisation=request.organisation, segment_id=segment_id)
    return _edit(request, segment)


def _edit(request: StaffRequest, segment: Segment | None) -> HttpResponse:
    initial = {
        "name": segment.name if segment else "",
        "description": segment.description if segment else "",
        "rules": json.dumps(segment.rules if segment else {"all": []}, ensure_ascii=False),
    }
    form = SegmentForm(request.POST or None, initial=initial)
    count: int | None = None
    if request.method == "POST" and request.POST.get("action") == "count":
        count = _count_form(request, form, segment)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if segment is None:
                segment = seg.segment_create(
                    organisation=request.organisation,
                    name=data["name"],
                    description=data["description"],
                    rules=data["rules"],
                    actor=request.user,
                )
                messages.success(request, _("The segment has been created."))
            else:
                seg.segment_update(
                    segment=segment,
                    name=data["name"],
                    description=data["description"],
                    rules=data["rules"],
                    actor=request.user,
                )
                messages.success(request, _("The segment has been saved."))
        except DomainError as exc:
            _add_errors(form, exc)
        else:
            return redirect("segment_detail", org=request.organisation.slug, segment_id=segment.pk)
    return render(
        request,
        "audience/segment_form.html",
        {
            "form": form,
            "segment": segment,
            "count": count,
            "catalogue": editor_catalogue(request.organisation, segment),
        },
    )


def _count_form(request: StaffRequest, form: SegmentForm, segment: Segment | None) -> int | None:
    """The "Count contacts" button: counts the rules without saving; only they must be valid."""
    form.is_valid()
    for name in ("name", "description"):
        form.errors.pop(name, None)
    if "rules" not in form.cleaned_data:
        return None
    try:
        return seg.rules_count(
            organisation=request.organisation, rules=form.cleaned_data["rules"], segment=segment
        )
    except DomainError as exc:
        _add_errors(form, exc)
        return None


def _add_errors(form: SegmentForm, exc: DomainError) -> None:
    placed = False
    for name, errors in exc.fields.items():
        target = name if name in form.fields else "rules" if name.startswith("rules") else None
        if target is None:
            continue
        for error in errors:
            form.add_error(target, f"{name}: {error}" if target == "rules" else error)
        placed = True
    if not placed:
        form.add_error(None, exc.message)


@staff_view(Role.EDITOR)
def segment_delete(request: StaffRequest, segment_id: int) -> HttpResponse:
    segment = seg.segment_get(organisation=request.organisation, segment_id=segment_id)
    error = ""
    if request.method == "POST":
        try:
            seg.segment_delete(segment=segment, actor=request.user)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("The segment has been deleted."))
            return redirect("segments", org=request.organisation.slug)
    return render(
        request, "audience/segment_confirm_delete.html", {"segment": segment, "error": error}
    )


# --- the live count ----------------------------------------------------------------------------


@staff_view(Role.VIEWER)
def segment_count_preview(request: StaffRequest) -> HttpResponse:
    """POST {"rules": tree, "segment_id": id or null} → {"count": N} or {"error": ...}.

    The editor calls it while the rules change; CSRF-protected like every staff POST.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        rules, segment = _count_request(request)
        count = seg.rules_count(organisation=request.organisation, rules=rules, segment=segment)
    except _BadRequest as exc:
        return JsonResponse({"error": exc.message, "fields": {}}, status=exc.status)
    except ValidationFailed as exc:
        return JsonResponse({"error": exc.message, "fields": exc.fields}, status=422)
    return JsonResponse({"count": count})


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _count_request(request: StaffRequest) -> tuple[Any, Segment | None]:
    if len(request.body) > MAX_COUNT_BODY:
        raise _BadRequest(_("The rules are too large."), 413)
    try:
        body = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        body = None
    if not isinstance(body, dict) or "rules" not in body:
        raise _BadRequest(_('Send the rules as JSON: {"rules": {...}}.'))
    segment_id = body.get("segment_id")
    if segment_id is None:
        return body["rules"], None
    if not isinstance(segment_id, int) or isinstance(segment_id, bool):
        raise _BadRequest(_("segment_id is a number."))
    try:
        segment = seg.segment_get(organisation=request.organisation, segment_id=segment_id)
    except Http404 as exc:
        raise _BadRequest(_("No segment with this id."), 404) from exc
    return body["rules"], segment


# --- CSV export --------------------------------------------------------------------------------


class _Echo:
    """A file-like object for csv.writer that hands each row back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _export_rows(contacts: Iterator[Contact]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for c in contacts:
        yield writer.writerow(
            [
                c.pk,
                c.kind,
                _cell(c.first_name),
                _cell(c.last_name),
                _cell(c.organisation_name),
                _cell(c.email),
                c.email_status,
                _cell(c.phone),
                c.language,
                _cell(c.postcode),
                c.birthday.isoformat() if c.birthday else "",
                c.lifecycle_stage,
                c.rfm_recency,
                c.rfm_frequency,
                c.rfm_monetary,
                c.visits_12m,
                c.last_visit_at.isoformat() if c.last_visit_at else "",
                "; ".join(t.slug for t in c.interests.all()),
                _cell("; ".join(c.tags or [])),
                c.created_at.isoformat(),
            ]
        )


@staff_view(Role.VIEWER)
def segment_export(request: StaffRequest, segment_id: int) -> HttpResponse:
    """The segment's contacts as CSV, streamed in chunks so that memory stays bounded."""
    segment = seg.segment_get(organisation=request.organisation, segment_id=segment_id)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    try:
        # Compiled before the response starts, so that broken rules give a page, not a
        # half-written file.
        contacts = seg.segment_contacts(segment=segment)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect("segment_detail", org=request.organisation.slug, segment_id=segment.pk)
    columns = [c for c in EXPORT_COLUMNS if c not in {"interests"}]
    rows = (
        contacts.only(*columns)
        .prefetch_related(Prefetch("interests", queryset=Theme.objects.only("id", "slug")))
        .order_by("id")
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    seg.segment_exported(segment=segment, actor=request.user)
    filename = f"segment-{slugify(segment.name) or segment.pk}-{timezone.localdate():%Y-%m-%d}.csv"
    response = StreamingHttpResponse(_export_rows(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # staff_view is typed for HttpResponse; a streaming response is served the same way.
    return cast(HttpResponse, response)


# --- what the rule editor offers -------------------------------------------------------------


def _choice(
    name: str, choices: list[tuple[Any, Any]], *, label: str = "", json_values: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "choice",
        "label": label,
        "json": json_values,
        "choices": [[str(v), str(lbl)] for v, lbl in choices],
    }


def _input(name: str, kind: str, *, label: str = "", optional: bool = False, **extra: Any) -> Any:
    return {"name": name, "type": kind, "label": label, "optional": optional, **extra}


def _field_entry(spec: seg.FieldSpec, group: str, choices: list[tuple[Any, Any]]) -> Any:
    ops = []
    for op in spec.ops:
        if spec.kind in {"choice", "int"} and choices:
            value_input = _choice("value", choices, json_values=spec.kind == "int")
            if op == "in":
                value_input["type"] = "choices"
        elif spec.kind == "text":
            value_input = _input("value", "texts" if op == "in" else "text", maxlength=10)
            if op == "in":
                value_input["label"] = _("separated by commas")
        elif spec.kind == "int":
            value_input = _input("value", "int", min=spec.minimum, max=spec.maximum)
        elif spec.kind == "number":
            value_input = _input("value", "number", min=0)
        else:
            value_input = _input("value", "date")
        ops.append(
            {
                "op": op,
                "label": seg.field_op_label(op),
                "set": {"op": op},
                "inputs": [value_input],
            }
        )
    return {
        "key": spec.name,
        "label": seg.field_label(spec.name),
        "group": group,
        "base": {"field": spec.name},
        "ops": ops,
    }


def editor_catalogue(organisation: Organisation, segment: Segment | None) -> dict[str, Any]:
    """Fields, operators and values for the editor's menus, translated, as JSON."""
    language = _language()
    themes = [(t.slug, t.name(language)) for t in Theme.objects.filter(organisation=organisation)]
    others = seg.segment_list(organisation=organisation)
    if segment is not None:
        others = others.exclude(pk=segment.pk)
    segment_choices = [(s.pk, s.name) for s in others.only("id", "name")]
    months = {
        "label": _("months"),
        "prefix": _("in the last"),
        "aria": _("in the last … months (empty: ever)"),
        "placeholder": _("ever"),
    }
    contact, relation, activity = _("Contact"), _("Relationship"), _("Activity")
    choices: dict[str, list[tuple[Any, Any]]] = {
        "kind": list(ContactKind.choices),
        "language": [("de", "Deutsch"), ("en", "English")],
        "email_status": list(EmailStatus.choices),
        "lifecycle_stage": list(LifecycleStage.choices),
        "birthday_month": [(m, _month_name(m)) for m in range(1, 13)],
    }
    groups = {
        "kind": contact,
        "language": contact,
        "postcode": contact,
        "birthday_month": contact,
        "email_status": contact,
        "created_at": contact,
    }
    fields: list[dict[str, Any]] = [
        _field_entry(spec, groups.get(name, relation), choices.get(name, []))
        for name, spec in seg.FIELDS.items()
    ]
    fields.append(
        {
            "key": "has_email",
            "label": _("E-mail address"),
            "group": contact,
            "base": {},
            "ops": [
                {"op": "yes", "label": _("exists"), "set": {"has_email": True}, "inputs": []},
                {"op": "no", "label": _("is missing"), "set": {"has_email": False}, "inputs": []},
            ],
        }
    )
    fields.append(
        {
            "key": "tag",
            "label": _("Tag"),
            "group": contact,
            "base": {},
            "ops": [{"op": "has", "label": _("has"), "set": {}, "inputs": [_input("tag", "text")]}],
        }
    )
    if themes:
        fields.append(
            {
                "key": "interest",
                "label": _("Interest"),
                "group": contact,
                "base": {},
                "ops": [
                    {
                        "op": "has",
                        "label": _("includes"),
                        "set": {},
                        "inputs": [_choice("interest", themes)],
                    }
                ],
            }
        )
    consent_choices = [
        (
            json.dumps({"channel": c.value, "purpose": p.value}),
            f"{c.label} · {p.label}",
        )
        for c in Channel
        for p in Purpose
    ]
    fields.append(
        {
            "key": "consent",
            "label": _("Consent"),
            "group": contact,
            "base": {},
            "ops": [
                {
                    "op": "granted",
                    "label": _("granted for"),
                    "set": {},
                    "inputs": [_choice("consent", consent_choices, json_values=True)],
                }
            ],
        }
    )
    for kind in (InteractionKind.VISIT, InteractionKind.BOOKING, *_other_activities()):
        fields.append(
            {
                "key": f"activity:{kind.value}",
                "label": str(kind.label),
                "group": activity,
                "base": {"activity": kind.value},
                "ops": [
                    {
                        "op": "min",
                        "label": _("at least"),
                        "set": {},
                        "inputs": [
                            _input("min", "int", label=_("times"), optional=True, min=1),
                            _input("months", "int", optional=True, min=1, **months),
                        ],
                    },
                    {
                        "op": "none_in_months",
                        "label": _("none in the last"),
                        "set": {},
                        "inputs": [_input("none_in_months", "int", label=_("months"), min=1)],
                    },
                    {
                        "op": "none_since",
                        "label": _("none since"),
                        "set": {},
                        "inputs": [_input("none_since", "date")],
                    },
                ],
            }
        )
    if themes:
        fields.append(
            {
                "key": "attended_theme",
                "label": _("Attended an event of the theme"),
                "group": activity,
                "base": {},
                "ops": [
                    {
                        "op": "theme",
                        "label": _("theme"),
                        "set": {},
                        "inputs": [
                            _choice("attended_theme", themes),
                            _input("months", "int", optional=True, min=1, **months),
                        ],
                    }
                ],
            }
        )
    if segment_choices:
        fields.append(
            {
                "key": "in_segment",
                "label": _("Segment"),
                "group": _("Segments"),
                "base": {},
                "ops": [
                    {
                        "op": "in",
                        "label": _("contains the contact"),
                        "set": {},
                        "inputs": [_choice("in_segment", segment_choices, json_values=True)],
                    }
                ],
            }
        )
    return {
        "fields": fields,
        "strings": {
            "all": _("all of these rules"),
            "any": _("any of these rules"),
            "none": _("none of these rules"),
            "match": _("Contacts who match"),
            "addRule": _("Add rule"),
            "addGroup": _("Add group"),
            "remove": _("Remove"),
            "removeGroup": _("Remove group"),
            "field": _("Field"),
            "operator": _("Operator"),
            "value": _("Value"),
            "raw": _("Rule as JSON"),
            "counting": _("Counting…"),
            "count": _("%(n)s contacts match these rules."),
            "countOne": _("1 contact matches these rules."),
            "failed": _("The count failed; try again."),
            "empty": _("No rules yet: every contact matches. Add a rule."),
        },
    }


def _other_activities() -> list[InteractionKind]:
    shown = {InteractionKind.VISIT, InteractionKind.BOOKING}
    return [k for k in InteractionKind if k not in shown]


def _month_name(month: int) -> str:
    names = (
        _("January"),
        _("February"),
        _("March"),
        _("April"),
        _("May"),
        _("June"),
        _("July"),
        _("August"),
        _("September"),
        _("October"),
        _("November"),
        _("December"),
    )
    return str(names[month - 1])


urlpatterns: list[URLPattern] = [
    path("segments/", segment_list, name="segments"),
    path("segments/new/", segment_create, name="segment_create"),
    path("segments/count/", segment_count_preview, name="segment_count_preview"),
    path("segments/<int:segment_id>/", segment_detail, name="segment_detail"),
    path("segments/<int:segment_id>/edit/", segment_edit, name="segment_edit"),
    path("segments/<int:segment_id>/delete/", segment_delete, name="segment_delete"),
    path("segments/<int:segment_id>/export/", segment_export, name="segment_export"),
]
