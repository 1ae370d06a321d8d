"""REST endpoints for contacts, their timeline and consents."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from publikum.audience import selectors, services
from publikum.audience.models import Contact
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.models import Role

router = Router(tags=["contacts"])


class ContactOut(Schema):
    id: int
    kind: str
    first_name: str
    last_name: str
    organisation_name: str
    email: str
    phone: str
    language: str
    postcode: str
    birthday: date | None
    interests: list[str]
    tags: list[str]
    notes: str
    lifecycle_stage: str
    rfm: dict[str, int]
    last_visit_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_interests(obj: Contact) -> list[str]:
        return [t.slug for t in obj.interests.all()]

    @staticmethod
    def resolve_rfm(obj: Contact) -> dict[str, int]:
        return {
            "recency": obj.rfm_recency,
            "frequency": obj.rfm_frequency,
            "monetary": obj.rfm_monetary,
        }


class ContactIn(StrictSchema):
    kind: Literal["person", "organisation"] = "person"
    first_name: str = ""
    last_name: str = ""
    organisation_name: str = ""
    email: str = ""
    phone: str = ""
    language: Literal["de", "en"] = "de"
    postcode: str = ""
    birthday: date | None = None
    interests: list[str] = []
    tags: list[str] = []
    notes: str = ""


class ContactPatch(StrictSchema):
    kind: Literal["person", "organisation"] | None = None
    first_name: str | None = None
    last_name: str | None = None
    organisation_name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: Literal["de", "en"] | None = None
    postcode: str | None = None
    birthday: date | None = None
    interests: list[str] | None = None
    tags: list[str] | None = None
    notes: str | None = None


class ContactFilters(Schema):
    q: str | None = None
    stage: Literal["none", "new", "regular", "loyal", "lapsing", "lapsed"] | None = None
    tag: str | None = None
    interest: str | None = None
    consent: Literal["newsletter", "offers", "feedback"] | None = None


class InteractionOut(Schema):
    id: int
    kind: str
    occurred_at: datetime
    item_id: int | None
    occurrence_id: int | None
    quantity: int
    amount_eur: Decimal
    summary: str
    data: dict[str, Any]


class ConsentOut(Schema):
    channel: str
    purpose: str
    granted: bool
    source: str
    wording: str
    granted_at: datetime | None
    withdrawn_at: datetime | None


class ConsentIn(StrictSchema):
    channel: str
    purpose: str
    granted: bool
    source: str
    wording: str = ""


def _contacts(request: HttpRequest) -> Any:
    return selectors.contact_list(organisation=org_of(request)).prefetch_related("interests")


@router.get("/contacts", response={200: list[ContactOut], **ERRORS}, summary="List contacts")
@paginate(LimitOffsetPagination)
def contacts_list(request: HttpRequest, filters: Query[ContactFilters]) -> Any:
    return (
        selectors.contact_list(
            organisation=org_of(request), filters=filters.model_dump(exclude_none=True)
        )
        .prefetch_related("interests")
        .order_by("id")
    )


@router.post(
    "/contacts",
    response={201: ContactOut, **ERRORS, 409: ErrorOut},
    summary="Create a contact (editor or higher)",
)
def contacts_create(request: HttpRequest, payload: ContactIn) -> Any:
    require_role(request, Role.EDITOR)
    contact = services.contact_create(
        organisation=org_of(request), token=token_of(request), source="api", **payload.model_dump()
    )
    return Status(201, contact)


@router.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, summary="A contact")
def contacts_get(request: HttpRequest, contact_id: int) -> Any:
    return selectors.contact_get(organisation=org_of(request), contact_id=contact_id)


@router.patch(
    "/contacts/{contact_id}",
    response={200: ContactOut, **ERRORS, 409: ErrorOut},
    summary="Change a contact (editor or higher)",
)
def contacts_update(request: HttpRequest, contact_id: int, payload: ContactPatch) -> Any:
    contact = selectors.contact_get(organisation=org_of(request), contact_id=contact_id)
    require_role(request, Role.EDITOR)
    return services.contact_update(
        contact=contact, token=token_of(request), **payload.model_dump(exclude_unset=True)
    )


@router.delete(
    "/contacts/{contact_id}",
    response={204: None, **ERRORS},
    summary="Delete a contact with its timeline (manager or higher)",
)
def contacts_delete(request: HttpRequest, contact_id: int) -> Any:
    contact = selectors.contact_get(organisation=org_of(request), contact_id=contact_id)
    require_role(request, Role.MANAGER)
    services.contact_delete(contact=contact, token=token_of(request))
    return Status(204, None)


@router.get(
    "/contacts/{contact_id}/timeline",
    response={200: list[InteractionOut], **ERRORS},
    summary="The contact's timeline, newest first",
)
@paginate(LimitOffsetPagination)
def contacts_timeline(request: HttpRequest, contact_id: int) -> Any:
    contact = selectors.contact_get(organisation=org_of(request), contact_id=contact_id)
    return selectors.timeline(contact=contact)


@router.get(
    "/contacts/{contact_id}/consents",
    response={200: list[ConsentOut], **ERRORS},
    summary="Consents per channel and purpose",
)
def contacts_consents(request: HttpRequest, contact_id: int) -> Any:
    contact = selectors.contact_get(organisation=org_of(request), contact_id=contact_id)
    return list(selectors.consents_of(contact=contact))


@router.post(
    "/contacts/{contact_id}/consents",
    response={200: ConsentOut, **ERRORS},
    summary="Record a consent or its withdrawal (editor or higher)",
)
def contacts_consent_set(request: HttpRequest, contact_id: int, payload: ConsentIn) -> Any:
    contact = selectors.contact_get(organisation=org_of(request), contact_id=contact_id)
    require_role(request, Role.EDITOR)
    return services.consent_set(contact=contact, token=token_of(request), **payload.model_dump())
