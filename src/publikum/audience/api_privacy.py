"""REST endpoints of the audience: export and erasure of one person, the retention rule."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from publikum.audience import privacy, selectors
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.models import Role

router = Router(tags=["privacy"])


class ContactExportOut(Schema):
    format: str
    exported_at: datetime
    organisation: dict[str, str]
    profile: dict[str, Any]
    interests: list[dict[str, str]]
    tags: list[str]
    consents: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    subscription_requests: list[dict[str, Any]]
    lifecycle_history: list[dict[str, Any]]
    other_modules: dict[str, Any]


class ErasedOut(Schema):
    id: int
    erased_at: datetime


class RetentionOut(Schema):
    retention_months: int
    would_delete: int


class RetentionIn(StrictSchema):
    retention_months: int


class RetentionAppliedOut(Schema):
    retention_months: int
    deleted: int


@router.get(
    "/contacts/{contact_id}/export",
    response={200: ContactExportOut, **ERRORS},
    summary="Everything kept about one person, as JSON (manager or higher)",
    description=(
        "Profile, interests, tags, consents with source, wording and times, the timeline, "
        "subscription requests and lifecycle history. Leaves an audit entry "
        "`audience.contact.exported` with the contact id only."
    ),
)
def contacts_export(request: HttpRequest, contact_id: int) -> Any:
    contact = selectors.contact_get(organisation=org_of(request), contact_id=contact_id)
    require_role(request, Role.MANAGER)
    return privacy.contact_export(contact=contact, token=token_of(request))


@router.post(
    "/contacts/{contact_id}/erase",
    response={200: ErasedOut, **ERRORS, 409: ErrorOut},
    summary="Erase one person's personal data, keep aggregates (manager or higher)",
    description=(
        "Clears names, e-mail, phone, postcode, birthday, notes, tags and interests; deletes "
        "consents and subscription requests; keeps the timeline without summaries and data. "
        "Cannot be undone; a second call answers 409."
    ),
)
def contacts_erase(request: HttpRequest, contact_id: int) -> Any:
    contact = selectors.contact_get(organisation=org_of(request), contact_id=contact_id)
    require_role(request, Role.MANAGER)
    erased = privacy.contact_erase(contact=contact, token=token_of(request))
    return {"id": erased.pk, "erased_at": erased.erased_at}


@router.get(
    "/retention",
    response={200: RetentionOut, **ERRORS},
    summary="The retention rule and a dry run: how many contacts it would delete now",
)
def retention_get(request: HttpRequest) -> Any:
    require_role(request, Role.MANAGER)
    organisation = org_of(request)
    months = privacy.retention_months_of(organisation=organisation)
    return {
        "retention_months": months,
        "would_delete": privacy.retention_dry_run(organisation=organisation, months=months),
    }


@router.put(
    "/retention",
    response={200: RetentionOut, **ERRORS},
    summary="Set the retention rule in months, 0 = off (manager or higher)",
)
def retention_put(request: HttpRequest, payload: RetentionIn) -> Any:
    require_role(request, Role.MANAGER)
    organisation = org_of(request)
    privacy.retention_set(organisation=organisation, months=payload.retention_months)
    return {
        "retention_months": payload.retention_months,
        "would_delete": privacy.retention_dry_run(
            organisation=organisation, months=payload.retention_months
        ),
    }


@router.post(
    "/retention/apply",
    response={200: RetentionAppliedOut, **ERRORS},
    summary="Apply the saved retention rule now (manager or higher)",
)
def retention_apply(request: HttpRequest) -> Any:
    require_role(request, Role.MANAGER)
    organisation = org_of(request)
    deleted = privacy.retention_apply(organisation=organisation, token=token_of(request))
    return {
        "retention_months": privacy.retention_months_of(organisation=organisation),
        "deleted": deleted,
    }
