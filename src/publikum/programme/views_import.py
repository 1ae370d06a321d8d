"""Staff pages of the programme import: upload, column mapping or review, report, list.

Editors and above. An iCalendar file is imported at once (or, with "dry run", waits on its
review page with the report of a check); a CSV file waits for its column mapping, where
staff can check the result before anything is written. Times are shown in the
organisation's time zone.
"""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from publikum.audience.importing import (
    UploadTooLarge,
    encoding_label,
    import_get,
    import_max_bytes,
)
from publikum.audience.models import ImportRun, ImportStatus
from publikum.audience.views_imports import MULTIPART_SLACK, LimitedUploadHandler
from publikum.core.errors import DomainError, ValidationFailed
from publikum.core.models import Role
from publikum.core.tenancy import StaffRequest, ViewFunc, staff_view
from publikum.programme import import_csv, importing
from publikum.programme.checks import MAX_CAPACITY, zone_of
from publikum.programme.models import ItemKind

REJECTED_PER_PAGE = 100
RUNS_PER_PAGE = 30


def in_org_time(view: ViewFunc) -> ViewFunc:
    @functools.wraps(view)
    def wrapped(request: StaffRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(zone_of(request.organisation)):
            return view(request, *args, **kwargs)

    return wrapped


# --- forms ----------------------------------------------------------------------------------


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (.ics or .csv)"))
    file_format = forms.ChoiceField(
        label=_("Format"),
        required=False,
        choices=[
            ("", _("Recognise from the file")),
            ("ics", _("iCalendar (.ics)")),
            ("csv", _("CSV")),
        ],
    )
    default_kind = forms.ChoiceField(
        label=_("Kind of items whose kind the file does not name"),
        choices=ItemKind.choices,
        initial=ItemKind.PERFORMANCE,
    )
    capacity = forms.IntegerField(
        label=_("Capacity of new dates"),
        min_value=0,
        max_value=MAX_CAPACITY,
        help_text=_("Seats per date, unless the file gives a capacity (CSV)."),
    )
    preset = forms.ChoiceField(label=_("Column layout (CSV)"), required=False)
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file and show what would happen, import nothing yet"),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preset"].choices = [  # type: ignore[attr-defined]
            ("", _("Recognise from the column names")),
            *((p.name, p.label) for p in import_csv.PRESETS.values()),
        ]


class MappingForm(forms.Form):
    """One select per column of a CSV file, preselected with the guess."""

    def __init__(
        self, *args: Any, header: list[str], guessed: dict[str, str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        choices = [("", _("— do not import —"))] + [(f.name, f.label) for f in import_csv.FIELDS]
        for index, label in enumerate(header):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=label, choices=choices, required=False, initial=guessed.get(label, "")
            )

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"col_{i}"] for i in range(len(self.header))]

    def mapping(self) -> dict[str, str]:
        return {label: self.cleaned_data[f"col_{i}"] for i, label in enumerate(self.header)}


# --- upload and list -------------------------------------------------------------------------


def _too_large_message(limit: int) -> str:
    return _t(
        "The file is larger than the limit of %(limit)s for imports. Split it into smaller "
        "files and import them one after the other."
    ) % {"limit": f"{limit / (1024 * 1024):.1f} MB"}


@staff_view(Role.EDITOR)
@csrf_exempt
def programme_import(request: StaffRequest) -> HttpResponse:
    # The size is checked before the body is read, and the CSRF check reads the body: so
    # CSRF is checked by `_upload` below, after the size check (as for contact imports).
    if request.method == "POST":
        limit = import_max_bytes()
        content_length = request.META.get("CONTENT_LENGTH") or "0"
        if content_length.isdigit() and int(content_length) > limit + MULTIPART_SLACK:
            return _upload_page(request, UploadForm(), _too_large_message(limit), status=413)
        request.upload_handlers = [LimitedUploadHandler(limit, request), *request.upload_handlers]
    return _upload(request)


def _upload_page(
    request: HttpRequest, form: UploadForm, problem: str = "", status: int = 200
) -> HttpResponse:
    staff: StaffRequest = request  # type: ignore[assignment]
    page = Paginator(
        importing.programme_import_list(organisation=staff.organisation), RUNS_PER_PAGE
    ).get_page(request.GET.get("page"))
    with timezone.override(zone_of(staff.organisation)):
        return render(
            request,
            "programme/import_upload.html",
            {
                "form": form,
                "problem": problem,
                "page": page,
                "limit": f"{import_max_bytes() / (1024 * 1024):.1f} MB",
            },
            status=status,
        )


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    staff: StaffRequest = request  # type: ignore[assignment]
    if request.method != "POST":
        return _upload_page(request, UploadForm())
    limit = import_max_bytes()
    form = UploadForm(request.POST, request.FILES)  # reads the body
    handlers = [h for h in request.upload_handlers if isinstance(h, LimitedUploadHandler)]
    if handlers and handlers[0].exceeded:
        return _upload_page(request, UploadForm(), _too_large_message(limit), status=413)
    if form.is_valid():
        data = form.cleaned_data
        try:
            run = importing.programme_import_upload(
                organisation=staff.organisation,
                upload=data["file"],
                file_format=data["file_format"],
                default_kind=data["default_kind"],
                capacity=data["capacity"],
                preset=data["preset"] or None,
                dry_run=data["dry_run"],
                actor=staff.user,
            )
        except UploadTooLarge:
            return _upload_page(request, form, _too_large_message(limit), status=413)
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            org = staff.organisation.slug
            if run.status == ImportStatus.PENDING:
                return redirect("programme_import_mapping", org=org, import_id=run.pk)
            return redirect("programme_import_detail", org=org, import_id=run.pk)
    return _upload_page(request, form, status=422)


# --- mapping or review ---------------------------------------------------------------------------


def _other_kind(run: ImportRun, page: str) -> HttpResponse | None:
    """A contacts import has its own pages."""
    if run.kind == importing.KIND:
        return None
    org = run.organisation.slug
    return redirect(page, org=org, import_id=run.pk)


@staff_view(Role.EDITOR)
@in_org_time
def programme_import_mapping(request: StaffRequest, import_id: int) -> HttpResponse:
    run = import_get(organisation=request.organisation, import_id=import_id)
    if (elsewhere := _other_kind(run, "import_mapping")) is not None:
        return elsewhere
    org = request.organisation.slug
    if run.status != ImportStatus.PENDING:
        return redirect("programme_import_detail", org=org, import_id=run.pk)
    if request.method == "POST" and "cancel" in request.POST:
        importing.programme_import_cancel(run=run, actor=request.user)
        messages.info(request, _t("The import was cancelled and the file removed."))
        return redirect("programme_import", org=org)
    context: dict[str, Any] = {"run": run, "options": importing.run_options(run)}
    try:
        form = _mapping_form(request, run, context)
        if request.method == "POST":
            mapping = form.mapping() if form is not None else None
            if "check" in request.POST:
                preview = importing.programme_import_check(run=run, mapping=mapping)
                context["check_html"] = _check_html(request, preview)
            else:
                importing.programme_import_start(run=run, mapping=mapping, actor=request.user)
                return redirect("programme_import_detail", org=org, import_id=run.pk)
        elif context["options"].dry_run and form is None:
            preview = importing.programme_import_check(run=run)
            context["check_html"] = _check_html(request, preview)
    except DomainError as exc:
        context["problem"] = exc.message
        return render(request, "programme/import_mapping.html", context, status=422)
    return render(request, "programme/import_mapping.html", context)


def _check_html(request: StaffRequest, preview: ImportRun) -> str:
    return render_to_string("programme/import_report.html", report_context(preview), request)


def _mapping_form(
    request: StaffRequest, run: ImportRun, context: dict[str, Any]
) -> MappingForm | None:
    """The mapping form of a CSV run (None for iCalendar), bound on POST and checked."""
    options = context["options"]
    context["ics"] = options.format == "ics"
    if options.format != "csv":
        return None
    info = importing.run_file_info(run)
    form = MappingForm(
        request.POST if request.method == "POST" else None,
        header=info.header,
        guessed=importing.run_columns(run),
    )
    context |= {
        "form": form,
        "info": info,
        "encoding": encoding_label(info.encoding),
        "delimiter": _delimiter_label(info.delimiter),
        "preset": import_csv.PRESETS.get(options.preset),
    }
    if request.method == "POST" and not form.is_valid():
        raise ValidationFailed(_t("Choose a field or “do not import” for every column."))
    return form


def _delimiter_label(delimiter: str) -> str:
    labels = {",": _t("comma"), ";": _t("semicolon"), "\t": _t("tab")}
    return labels.get(delimiter, delimiter)


# --- report ---------------------------------------------------------------------------------


def report_context(run: ImportRun, page_number: str | None = None) -> dict[str, Any]:
    """What the report partial shows, for a run or the unsaved run of a check."""
    report = importing.run_report(run)
    options = importing.run_options(run)

    def entries(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "where": importing.where(run, int(e["row"])),
                "label": e.get("label", ""),
                "why": " ".join(e.get("errors", [])),
            }
            for e in items
        ]

    rejected = Paginator(run.rejected or [], REJECTED_PER_PAGE).get_page(page_number)
    return {
        "report_run": run,
        "figures": report,
        "format_label": _t("iCalendar") if options.format == "ics" else _t("CSV"),
        "counted": _t("Events") if options.format == "ics" else _t("Rows"),
        "file_notes": report.get("file_notes", []),
        "notes": entries(report.get("notes", [])),
        "rejected": rejected,
        "rejected_entries": entries(list(rejected.object_list)),
        "dry_run": run.pk is None,
    }


@staff_view(Role.EDITOR)
@in_org_time
def programme_import_detail(request: StaffRequest, import_id: int) -> HttpResponse:
    run = import_get(organisation=request.organisation, import_id=import_id)
    if (elsewhere := _other_kind(run, "import_detail")) is not None:
        return elsewhere
    options = importing.run_options(run)
    columns = [
        (column, import_csv.FIELDS_BY_NAME[name].label)
        for column, name in importing.run_columns(run).items()
        if name in import_csv.FIELDS_BY_NAME
    ]
    context = {
        "run": run,
        "options": options,
        "kind_label": ItemKind(options.default_kind).label
        if options.default_kind in ItemKind.values
        else options.default_kind,
        "columns": columns,
        "encoding": encoding_label(run.encoding) if run.encoding else "",
        "delimiter": _delimiter_label(run.delimiter),
        "running": run.status == ImportStatus.RUNNING,
        **report_context(run, request.GET.get("page")),
    }
    return render(request, "programme/import_detail.html", context)
