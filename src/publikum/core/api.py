"""REST endpoints of the core: the token's organisation, members, audit log, failed jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from publikum.core import selectors, services
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.models import Role

router = Router(tags=["organisation"])


class OrganisationOut(Schema):
    slug: str
    name: str
    kind: str
    language: str
    timezone: str
    city: str
    website: str
    description_de: str
    description_en: str


class OrganisationPatch(StrictSchema):
    name: str | None = None
    kind: (
        Literal["museum", "theatre", "orchestra", "festival", "library", "venue", "other"] | None
    ) = None
    language: Literal["de", "en"] | None = None
    timezone: str | None = None
    city: str | None = None
    website: str | None = None
    description_de: str | None = None
    description_en: str | None = None


class TokenInfoOut(Schema):
    name: str
    role: str
    prefix: str
    organisation: str


class MemberOut(Schema):
    email: str
    name: str
    role: str


class AuditOut(Schema):
    id: int
    created_at: datetime
    action: str
    actor: str
    object_type: str
    object_id: str
    data: dict[str, Any]


class FailedJobOut(Schema):
    id: int
    task_path: str
    attempts: int
    error: str
    failed_at: datetime


ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
}


@router.get(
    "/organisation",
    response={200: OrganisationOut, **ERRORS},
    summary="The organisation this token belongs to",
)
def organisation_get(request: HttpRequest) -> Any:
    return org_of(request)


@router.patch(
    "/organisation",
    response={200: OrganisationOut, **ERRORS},
    summary="Change the organisation's settings (manager or owner)",
)
def organisation_patch(request: HttpRequest, payload: OrganisationPatch) -> Any:
    require_role(request, Role.MANAGER)
    changes = payload.model_dump(exclude_unset=True)
    return services.organisation_update(
        organisation=org_of(request), token=token_of(request), **changes
    )


@router.get("/token", response={200: TokenInfoOut, **ERRORS}, summary="The token in use")
def token_get(request: HttpRequest) -> Any:
    token = token_of(request)
    return {
        "name": token.name,
        "role": token.role,
        "prefix": token.prefix,
        "organisation": token.organisation.slug,
    }


@router.get("/members", response={200: list[MemberOut], **ERRORS}, summary="Staff members")
@paginate(LimitOffsetPagination)
def members_list(request: HttpRequest) -> Any:
    return [
        {"email": m.user.email, "name": m.user.name, "role": m.role}
        for m in selectors.member_list(organisation=org_of(request))
    ]


@router.get(
    "/audit-log",
    response={200: list[AuditOut], **ERRORS},
    summary="Audit log, newest first (owner)",
)
@paginate(LimitOffsetPagination)
def audit_list(request: HttpRequest) -> Any:
    require_role(request, Role.OWNER)
    return [
        {
            "id": e.id,
            "created_at": e.created_at,
            "action": e.action,
            "actor": e.actor_label,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "data": e.data,
        }
        for e in selectors.audit_list(organisation=org_of(request))[:1000]
    ]


@router.get(
    "/jobs/failed",
    response={200: list[FailedJobOut], **ERRORS},
    summary="Background jobs that failed after their last retry (manager or owner)",
)
@paginate(LimitOffsetPagination)
def failed_jobs(request: HttpRequest) -> Any:
    require_role(request, Role.MANAGER)
    return selectors.failed_job_list(organisation=org_of(request))
