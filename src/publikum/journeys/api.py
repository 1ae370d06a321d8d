"""REST endpoints of journeys, newsletters and outgoing messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from publikum.audience.models import Contact
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.errors import NotFound
from publikum.core.models import Role
from publikum.core.services import audit_log
from publikum.journeys import newsletters
from publikum.journeys.models import Journey, Message, Newsletter, Reentry, Trigger

router = Router(tags=["journeys"])

DEFINITION_DESCRIPTION = """The steps (docs/journeys.md): `{"start": "s1", "steps": [...]}`.
Each step has an `id` and a `type` (wait, email, branch, tag, interest, task, webhook,
split, end) and names the step after it (`next`; a branch has `yes`/`no`, a split `a`/`b`).
A journey is checked when it is switched on: unknown steps, steps never reached, loops
without a wait, missing templates and unsafe webhook addresses are refused with 422."""


class JourneyOut(Schema):
    id: int
    name: str
    description: str
    trigger: str
    trigger_config: dict[str, Any]
    status: str
    reentry: str
    reentry_days: int
    definition: dict[str, Any]
    created_at: datetime


class JourneyIn(StrictSchema):
    name: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    trigger: Trigger
    trigger_config: dict[str, Any] = Field(default_factory=dict)
    reentry: Reentry = Reentry.ONCE
    reentry_days: int = Field(0, ge=0, le=3650)
    definition: dict[str, Any] = Field(..., description=DEFINITION_DESCRIPTION)


class TriggerIn(StrictSchema):
    contact: int
    context: dict[str, Any] = Field(default_factory=dict)


class TriggerOut(Schema):
    entered: bool
    run: int | None


class DryRunEntry(Schema):
    when: datetime | None
    step: str
    what: str


class NewsletterOut(Schema):
    id: int
    name: str
    template: int = Field(..., alias="template_id")
    segment: int | None = Field(None, alias="segment_id")
    status: str
    scheduled_at: datetime | None
    queued: int
    results: dict[str, int]


class NewsletterIn(StrictSchema):
    name: str = Field(..., min_length=1, max_length=200)
    template: int
    segment: int


class ScheduleIn(StrictSchema):
    at: datetime | None = Field(None, description="When to send; null or missing: now.")


class MessageOut(Schema):
    id: int
    key: str
    contact: int | None = Field(None, alias="contact_id")
    kind: str
    purpose: str
    status: str
    reason: str
    journey: int | None = Field(None, alias="journey_id")
    step_id: str
    newsletter: int | None = Field(None, alias="newsletter_id")
    subject: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str
    clicked_at: datetime | None


def _journey(request: HttpRequest, journey_id: int) -> Journey:
    journey = Journey.objects.filter(organisation=org_of(request), pk=journey_id).first()
    if journey is None:
        raise NotFound("No such journey.")
    return journey


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    contact = Contact.objects.filter(
        organisation=org_of(request), pk=contact_id, erased_at__isnull=True
    ).first()
    if contact is None:
        raise NotFound("No such contact.")
    return contact


@router.get("/journeys", response={200: list[JourneyOut], **ERRORS}, summary="List journeys")
@paginate(LimitOffsetPagination)
def journeys_list(request: HttpRequest) -> Any:
    return Journey.objects.filter(organisation=org_of(request)).order_by("id")


@router.post(
    "/journeys",
    response={201: JourneyOut, **ERRORS},
    summary="Create a journey as a draft (editor or higher)",
)
def journeys_create(request: HttpRequest, payload: JourneyIn) -> Any:
    require_role(request, Role.EDITOR)
    journey = Journey.objects.create(organisation=org_of(request), **payload.model_dump())
    audit_log(org_of(request), "journeys.saved", token=token_of(request), data={"id": journey.pk})
    return Status(201, journey)


@router.get("/journeys/{journey_id}", response={200: JourneyOut, **ERRORS}, summary="A journey")
def journeys_get(request: HttpRequest, journey_id: int) -> Any:
    return _journey(request, journey_id)


def _act(request: HttpRequest, journey_id: int, action: str) -> Journey:
    from publikum.journeys import engine

    journey = _journey(request, journey_id)
    require_role(request, Role.EDITOR)
    actions: dict[str, Callable[..., Any]] = {
        "activate": engine.journey_activate,
        "pause": engine.journey_pause,
        "resume": engine.journey_resume,
        "archive": engine.journey_archive,
    }
    actions[action](journey=journey)  # the service writes the audit entry
    journey.refresh_from_db()
    return journey


@router.post(
    "/journeys/{journey_id}/activate",
    response={200: JourneyOut, **ERRORS, 409: ErrorOut},
    summary="Switch a journey on after checking it (editor or higher)",
)
def journeys_activate(request: HttpRequest, journey_id: int) -> Any:
    return _act(request, journey_id, "activate")


@router.post(
    "/journeys/{journey_id}/pause",
    response={200: JourneyOut, **ERRORS, 409: ErrorOut},
    summary="Pause a journey: nobody moves on until it is resumed (editor or higher)",
)
def journeys_pause(request: HttpRequest, journey_id: int) -> Any:
    return _act(request, journey_id, "pause")


@router.post(
    "/journeys/{journey_id}/resume",
    response={200: JourneyOut, **ERRORS, 409: ErrorOut},
    summary="Resume a paused journey (editor or higher)",
)
def journeys_resume(request: HttpRequest, journey_id: int) -> Any:
    return _act(request, journey_id, "resume")


@router.post(
    "/journeys/{journey_id}/archive",
    response={200: JourneyOut, **ERRORS, 409: ErrorOut},
    summary="Archive a journey; contacts waiting in it leave (editor or higher)",
)
def journeys_archive(request: HttpRequest, journey_id: int) -> Any:
    return _act(request, journey_id, "archive")


@router.post(
    "/journeys/{journey_id}/contacts",
    response={202: TriggerOut, **ERRORS, 409: ErrorOut},
    summary="Start a contact on a journey whose trigger is 'API call' (editor or higher); "
    "with an Idempotency-Key header a repeated call enters nobody again",
)
def journeys_trigger(request: HttpRequest, journey_id: int, payload: TriggerIn) -> Any:
    from publikum.journeys.triggers import trigger_api

    journey = _journey(request, journey_id)
    require_role(request, Role.EDITOR)
    contact = _contact(request, payload.contact)
    run = trigger_api(
        journey=journey,
        contact=contact,
        context=payload.context,
        key=request.headers.get("Idempotency-Key", "")[:150],
    )
    return Status(202, {"entered": run is not None, "run": run.pk if run else None})


@router.get(
    "/journeys/{journey_id}/dry-run",
    response={200: list[DryRunEntry], **ERRORS},
    summary="What the journey would do with a contact, without sending or changing anything",
)
def journeys_dry_run(request: HttpRequest, journey_id: int, contact: int) -> Any:
    from publikum.journeys.engine import simulate

    journey = _journey(request, journey_id)
    person = _contact(request, contact)
    return [
        {"when": e.when, "step": e.step_id, "what": e.what}
        for e in simulate(journey=journey, contact=person, now=timezone.now())
    ]


def _newsletter_out(newsletter: Newsletter) -> dict[str, Any]:
    return {
        "id": newsletter.pk,
        "name": newsletter.name,
        "template_id": newsletter.template_id,
        "segment_id": newsletter.segment_id,
        "status": newsletter.status,
        "scheduled_at": newsletter.scheduled_at,
        "queued": newsletter.queued,
        "results": newsletters.newsletter_results(newsletter=newsletter),
    }


@router.get("/newsletters", response={200: list[NewsletterOut], **ERRORS}, summary="Newsletters")
def newsletters_list(request: HttpRequest) -> Any:
    return [
        _newsletter_out(n)
        for n in Newsletter.objects.filter(organisation=org_of(request)).order_by("-id")[:200]
    ]


@router.post(
    "/newsletters",
    response={201: NewsletterOut, **ERRORS},
    summary="Create a newsletter draft: a marketing template for a segment (editor or higher)",
)
def newsletters_create(request: HttpRequest, payload: NewsletterIn) -> Any:
    require_role(request, Role.EDITOR)
    newsletter = newsletters.newsletter_create(
        organisation=org_of(request),
        name=payload.name,
        template_id=payload.template,
        segment_id=payload.segment,
    )
    return Status(201, _newsletter_out(newsletter))


@router.get(
    "/newsletters/{newsletter_id}",
    response={200: NewsletterOut, **ERRORS},
    summary="A newsletter with its results",
)
def newsletters_get(request: HttpRequest, newsletter_id: int) -> Any:
    return _newsletter_out(
        get_object_or_404(Newsletter, organisation=org_of(request), pk=newsletter_id)
    )


@router.post(
    "/newsletters/{newsletter_id}/schedule",
    response={200: NewsletterOut, **ERRORS, 409: ErrorOut},
    summary="Send now or at a time (editor or higher); refused for a segment matching nobody",
)
def newsletters_schedule(request: HttpRequest, newsletter_id: int, payload: ScheduleIn) -> Any:
    newsletter = get_object_or_404(Newsletter, organisation=org_of(request), pk=newsletter_id)
    require_role(request, Role.EDITOR)
    return _newsletter_out(newsletters.newsletter_schedule(newsletter=newsletter, at=payload.at))


@router.get(
    "/messages",
    response={200: list[MessageOut], **ERRORS},
    summary="Outgoing messages, newest first; filter by contact, status, journey or newsletter",
)
@paginate(LimitOffsetPagination)
def messages_list(
    request: HttpRequest,
    contact: int | None = None,
    status: str | None = None,
    journey: int | None = None,
    newsletter: int | None = None,
) -> Any:
    messages = Message.objects.filter(organisation=org_of(request))
    if contact is not None:
        messages = messages.filter(contact_id=contact)
    if status:
        messages = messages.filter(status=status)
    if journey is not None:
        messages = messages.filter(journey_id=journey)
    if newsletter is not None:
        messages = messages.filter(newsletter_id=newsletter)
    return messages.order_by("-id")
