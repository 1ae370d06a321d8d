"""Staff pages of the audience: CSV imports (upload, mapping, report) and duplicates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from publikum.audience import importing, selectors
from publikum.audience.duplicates import REASON_EMAIL, contact_merge, duplicate_candidates
from publikum.audience.models import Contact, ImportRun, ImportStatus
from publikum.core.errors import DomainError
from publikum.core.models import Role
from publikum.core.tenancy import StaffRequest, staff_view

# Room for the form's other fields around the file in a multipart body.
MULTIPART_SLACK = 16 * 1024
REJECTED_PER_PAGE = 100
PAIRS_PER_PAGE = 50


# --- forms ----------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    kind = forms.ChoiceField(
        label=_("The file contains"),
        choices=[("contacts", _("Contacts")), ("interactions", _("Visits and bookings"))],
    )
    preset = forms.ChoiceField(label=_("Column layout"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preset"].choices = [  # type: ignore[attr-defined]
            ("", _("Recognise from the column names")),
            *((p.name, p.label) for p in importing.PRESETS.values()),
        ]


class ImportMappingForm(forms.Form):
    """One select per column of the file, preselected with the guess."""

    def __init__(
        self, *args: Any, header: list[str], kind: str, guessed: dict[str, str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        choices = [("", _("— do not import —"))] + [
            (f.name, f.label) for f in importing.fields_for(kind)
        ]
        for index, label in enumerate(header):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=label, choices=choices, required=False, initial=guessed.get(label, "")
            )
        if kind == "contacts":
            self.fields["consent_source"] = forms.CharField(
                label=_("Source of the consent"),
                required=False,
                max_length=200,
                help_text=_(
                    "Where and how the people gave their consent, e.g. “Box office 2025, "
                    "newsletter tick box”. Without it, consent columns are ignored."
                ),
            )
        else:
            self.fields["interaction_kind"] = forms.ChoiceField(
                label=_("Rows without a kind column are"),
                choices=[("visit", _("Visits")), ("booking", _("Bookings"))],
            )

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"col_{i}"] for i in range(len(self.header))]

    def mapping(self) -> dict[str, str]:
        return {label: self.cleaned_data[f"col_{i}"] for i, label in enumerate(self.header)}


# --- upload with a size limit checked before the body is read ------------------------------------


class LimitedUploadHandler(FileUploadHandler):
    """Stops reading an upload once it passes the limit (a body without a usable length)."""

    def __init__(self, limit: int, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large_message(limit: int) -> str:
    return _t(
        "The file is larger than the limit of %(limit)s for imports. Split it into smaller "
        "files and import them one after the other."
    ) % {"limit": importing._megabytes(limit)}


@staff_view(Role.EDITOR)
@csrf_exempt
def import_upload(request: StaffRequest) -> HttpResponse:
    # The size must be checked before the body is read, and the CSRF check reads the body:
    # so CSRF is checked by `_upload` below, after the size check.
    limit = importing.import_max_bytes()
    if request.method == "POST":
        if _content_length(request) > limit + MULTIPART_SLACK:
            return render(
                request,
                "audience/import_upload.html",
                {
                    "form": ImportUploadForm(),
                    "limit": importing._megabytes(limit),
                    "problem": _too_large_message(limit),
                },
                status=413,
            )
        handler = LimitedUploadHandler(limit, request)
        request.upload_handlers = [handler, *request.upload_handlers]
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    staff: StaffRequest = request  # type: ignore[assignment]
    limit = importing.import_max_bytes()
    context: dict[str, Any] = {"limit": importing._megabytes(limit)}
    if request.method != "POST":
        context["form"] = ImportUploadForm()
        return render(request, "audience/import_upload.html", context)
    form = ImportUploadForm(request.POST, request.FILES)
    context["form"] = form
    handlers = [h for h in request.upload_handlers if isinstance(h, LimitedUploadHandler)]
    if handlers and handlers[0].exceeded:
        context |= {"form": ImportUploadForm(), "problem": _too_large_message(limit)}
        return render(request, "audience/import_upload.html", context, status=413)
    if form.is_valid():
        try:
            run = importing.import_upload(
                organisation=staff.organisation,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                preset=form.cleaned_data["preset"] or None,
                actor=staff.user,
            )
        except importing.UploadTooLarge:
            context["problem"] = _too_large_message(limit)
            return render(request, "audience/import_upload.html", context, status=413)
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("import_mapping", org=staff.organisation.slug, import_id=run.pk)
    return render(request, "audience/import_upload.html", context, status=422)


# --- runs ---------------------------------------------------------------------------------------


@staff_view(Role.EDITOR)
def import_list(request: StaffRequest) -> HttpResponse:
    runs = importing.import_list(organisation=request.organisation).filter(
        kind__in=importing.KINDS  # programme imports are listed on their own page
    )
    page = Paginator(runs, 30).get_page(request.GET.get("page"))
    return render(request, "audience/import_list.html", {"page": page})


@staff_view(Role.EDITOR)
def import_mapping(request: StaffRequest, import_id: int) -> HttpResponse:
    run = importing.import_get(organisation=request.organisation, import_id=import_id)
    org = request.organisation.slug
    if run.kind not in importing.KINDS:
        return redirect(f"{run.kind}_import_mapping", org=org, import_id=run.pk)
    if run.status != ImportStatus.PENDING:
        return redirect("import_detail", org=org, import_id=run.pk)
    if request.method == "POST" and "cancel" in request.POST:
        importing.import_cancel(run=run, actor=request.user)
        messages.info(request, _t("The import was cancelled and the file removed."))
        return redirect("imports", org=org)
    try:
        info = importing.run_file_info(run)
    except DomainError as exc:
        return render(
            request, "audience/import_detail.html", _detail_context(request, run, exc.message)
        )
    options = importing.run_options(run)
    initial = {"interaction_kind": options.get("interaction_kind", "visit")}
    form = ImportMappingForm(
        request.POST if request.method == "POST" else None,
        header=info.header,
        kind=run.kind,
        guessed=importing.run_columns(run),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            importing.import_start(
                run=run,
                mapping=form.mapping(),
                consent_source=form.cleaned_data.get("consent_source", ""),
                interaction_kind=form.cleaned_data.get("interaction_kind"),
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("import_detail", org=org, import_id=run.pk)
    return render(
        request,
        "audience/import_mapping.html",
        {
            "run": run,
            "form": form,
            "info": info,
            "encoding": importing.encoding_label(info.encoding),
            "delimiter": _delimiter_label(info.delimiter),
            "preset": importing.PRESETS.get(options.get("preset", "")),
        },
    )


def _delimiter_label(delimiter: str) -> str:
    labels = {",": _t("comma"), ";": _t("semicolon"), "\t": _t("tab")}
    return labels.get(delimiter, delimiter)


def _detail_context(request: StaffRequest, run: ImportRun, problem: str = "") -> dict[str, Any]:
    rejected = Paginator(run.rejected or [], REJECTED_PER_PAGE).get_page(request.GET.get("page"))
    return {
        "run": run,
        "problem": problem,
        "notes": importing.report_notes(run),
        "figures": importing.finished_figures(run) if run.status == ImportStatus.DONE else {},
        "rejected": rejected,
        "columns": [
            (
                column,
                importing.FIELDS_BY_NAME[name].label if name in importing.FIELDS_BY_NAME else name,
            )
            for column, name in importing.run_columns(run).items()
            if name
        ],
        "encoding": importing.encoding_label(run.encoding),
        "delimiter": _delimiter_label(run.delimiter),
        "running": run.status == ImportStatus.RUNNING,
    }


@staff_view(Role.EDITOR)
def import_detail(request: StaffRequest, import_id: int) -> HttpResponse:
    run = importing.import_get(organisation=request.organisation, import_id=import_id)
    if run.kind not in importing.KINDS:
        return redirect(
            f"{run.kind}_import_detail", org=request.organisation.slug, import_id=run.pk
        )
    return render(request, "audience/import_detail.html", _detail_context(request, run))


# --- duplicates ---------------------------------------------------------------------------------


@staff_view(Role.EDITOR)
def duplicate_list(request: StaffRequest) -> HttpResponse:
    pairs = duplicate_candidates(organisation=request.organisation)
    page = Paginator(pairs, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    ids = {p.first_id for p in page} | {p.second_id for p in page}
    contacts = {
        c.pk: c
        for c in selectors.contact_list(organisation=request.organisation).filter(pk__in=ids)
    }
    rows = [
        {
            "pair": p,
            "first": contacts.get(p.first_id),
            "second": contacts.get(p.second_id),
            "by_email": p.reason == REASON_EMAIL,
        }
        for p in page
    ]
    return render(
        request,
        "audience/duplicate_list.html",
        {"page": page, "rows": rows, "total": len(pairs)},
    )


COMPARED_FIELDS = (
    ("first_name", _("First name")),
    ("last_name", _("Last name")),
    ("organisation_name", _("Organisation name")),
    ("email", _("E-mail address")),
    ("phone", _("Phone")),
    ("postcode", _("Postcode")),
    ("birthday", _("Birthday")),
    ("language", _("Language")),
    ("lifecycle_stage", _("Lifecycle stage")),
    ("created_at", _("Created")),
)


def _shown(contact: Contact, name: str) -> str:
    value = getattr(contact, name)
    if name in ("language", "lifecycle_stage"):
        return str(getattr(contact, f"get_{name}_display")())
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return str(value or "")


def _summary(contact: Contact) -> dict[str, Any]:
    return {
        "contact": contact,
        "interactions": contact.interactions.count(),
        "consents": contact.consents.filter(granted=True).count(),
        "tags": ", ".join(contact.tags or []),
    }


@staff_view(Role.EDITOR)
def duplicate_merge(request: StaffRequest, keep_id: int, merge_id: int) -> HttpResponse:
    keep = selectors.contact_get(organisation=request.organisation, contact_id=keep_id)
    merge = selectors.contact_get(organisation=request.organisation, contact_id=merge_id)
    org = request.organisation.slug
    problem = ""
    if request.method == "POST":
        try:
            contact_merge(keep=keep, merge=merge, actor=request.user)
        except DomainError as exc:
            problem = exc.message
        else:
            messages.success(
                request,
                _t("The two contacts were merged; their timelines are joined here."),
            )
            return redirect("contact_detail", org=org, contact_id=keep.pk)
    rows = [
        (label, _shown(keep, name), _shown(merge, name), not getattr(keep, name))
        for name, label in COMPARED_FIELDS
    ]
    return render(
        request,
        "audience/duplicate_merge.html",
        {
            "keep": _summary(keep),
            "merge": _summary(merge),
            "rows": rows,
            "problem": problem
            or (_t("This is one and the same contact.") if keep == merge else ""),
        },
        status=400 if problem else 200,
    )


urlpatterns: list[URLPattern] = [
    path("imports/", import_list, name="imports"),
    path("imports/new/", import_upload, name="import_upload"),
    path("imports/<int:import_id>/", import_detail, name="import_detail"),
    path("imports/<int:import_id>/mapping/", import_mapping, name="import_mapping"),
    path("contacts/duplicates/", duplicate_list, name="duplicates"),
    path(
        "contacts/duplicates/<int:keep_id>/<int:merge_id>/",
        duplicate_merge,
        name="duplicate_merge",
    ),
]
