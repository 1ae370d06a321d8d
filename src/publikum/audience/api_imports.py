"""REST endpoints of the audience: CSV imports (upload, then the run with its report)."""

import json
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status, UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate

from publikum.audience import importing
from publikum.audience.models import ImportRun
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.errors import DomainError, ValidationFailed
from publikum.core.models import Role

router = Router(tags=["imports"])


class RejectedRowOut(Schema):
    row: int
    errors: list[str]


class ImportOut(Schema):
    id: int
    kind: str
    filename: str
    status: str
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    interaction_kind: str | None
    consent_source: str
    total_rows: int
    created_count: int
    updated_count: int
    rejected_count: int
    rejected: list[RejectedRowOut]
    notes: list[str]
    error: str
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_mapping(obj: ImportRun) -> dict[str, str]:
        return importing.run_columns(obj)

    @staticmethod
    def resolve_interaction_kind(obj: ImportRun) -> str | None:
        if obj.kind != "interactions":
            return None
        return importing.run_options(obj).get("interaction_kind")

    @staticmethod
    def resolve_notes(obj: ImportRun) -> list[str]:
        return importing.report_notes(obj)


class ImportIn(StrictSchema):
    kind: Literal["contacts", "interactions"] = "contacts"
    mapping: str | None = None
    consent_source: str = ""
    preset: Literal["generic", "pretix", "eventim", "civicrm"] | None = None
    interaction_kind: Literal["visit", "booking"] | None = None


def _parse_mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"The mapping is not valid JSON ({exc.msg}).", fields={"mapping": ["invalid JSON"]}
        ) from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | None) for k, v in value.items()
    ):
        raise ValidationFailed(
            'The mapping must be a JSON object of column → field, e.g. {"E-Mail": "email"}.',
            fields={"mapping": ["an object of strings"]},
        )
    return {k: v or "" for k, v in value.items()}


def _reject_unknown_fields(request: HttpRequest) -> None:
    # ninja flattens a form schema into single fields, so `extra="forbid"` does not reach
    # multipart bodies; a typo in a field name must still be an error, not silence.
    allowed = set(ImportIn.model_fields)
    unknown = sorted((set(request.POST) - allowed) | (set(request.FILES) - {"file"}))
    if unknown:
        listed = ", ".join(f"{name}: unknown field" for name in unknown)
        raise ValidationFailed(
            f"The request has invalid fields ({listed}).",
            fields={name: ["unknown field"] for name in unknown},
        )


@router.post(
    "/imports",
    response={202: ImportOut, **ERRORS, 413: ErrorOut},
    summary="Upload a CSV file to import (editor or higher)",
    description=(
        "Multipart form: `file` (CSV: UTF-8, Windows-1252 or UTF-16; comma, semicolon or tab), "
        "`kind` (`contacts` or `interactions`), optional `preset` (column layout: `generic`, "
        "`pretix`, `eventim`, `civicrm`), optional `mapping` (JSON object column → field; "
        '`""` ignores a column; columns not named keep the guessed field), `consent_source` '
        "(consent columns are imported only with it) and `interaction_kind` (`visit` or "
        "`booking` for rows without a kind column). The import runs as a background job: "
        "poll `GET /imports/{id}` until `status` is `done` or `failed`."
    ),
)
def imports_create(request: HttpRequest, file: File[UploadedFile], payload: Form[ImportIn]) -> Any:
    require_role(request, Role.EDITOR)
    _reject_unknown_fields(request)
    mapping = _parse_mapping(payload.mapping)
    run = importing.import_upload(
        organisation=org_of(request),
        upload=file,
        kind=payload.kind,
        preset=payload.preset,
        token=token_of(request),
    )
    try:
        run = importing.import_start(
            run=run,
            mapping=mapping,
            consent_source=payload.consent_source,
            interaction_kind=payload.interaction_kind,
            token=token_of(request),
        )
    except DomainError:
        importing.import_cancel(run=run)
        raise
    run.refresh_from_db()
    return Status(202, run)


@router.get(
    "/imports",
    response={200: list[ImportOut], **ERRORS},
    summary="Imports, newest first (editor or higher)",
)
@paginate(LimitOffsetPagination)
def imports_list(request: HttpRequest) -> Any:
    require_role(request, Role.EDITOR)
    return importing.import_list(organisation=org_of(request))


@router.get(
    "/imports/{import_id}",
    response={200: ImportOut, **ERRORS},
    summary="An import with its report: counts and every rejected row (editor or higher)",
)
def imports_get(request: HttpRequest, import_id: int) -> Any:
    run = importing.import_get(organisation=org_of(request), import_id=import_id)
    require_role(request, Role.EDITOR)
    return run
