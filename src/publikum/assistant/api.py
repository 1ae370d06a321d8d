"""The assistant's public API: the widget sends a visitor's messages and polls for replies.

No token: anyone on the organisation's website may talk to its assistant. The conversation
id (192 random bits) is the visitor's only key; an id of another organisation answers 404
like an unknown one. Requests are limited per client address and per conversation. The
JSON body needs no CSRF token: no cookie authenticates these calls.

The widget runs on the institution's own website, another origin than this server, so these
endpoints answer CORS for any origin (`Access-Control-Allow-Origin: *`), including the
OPTIONS preflight a JSON POST needs. That is safe because nothing here uses cookies or other
credentials: the conversation id in the request is the only key, and the widget sends its
requests with `credentials: "omit"`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.decorators import decorate_view

from publikum.assistant import services
from publikum.assistant.models import AssistantSettings
from publikum.core.apikit import ErrorOut, StrictSchema
from publikum.core.errors import NotFound
from publikum.core.models import Organisation
from publikum.core.ratelimit import client_ip, hit, too_many

router = Router(auth=None, tags=["assistant (public)"])

# Visitors type; the widget polls every few seconds while it is open.
RATE_POST_IP = "30/m"
RATE_POST_CONVERSATION = "20/m"
RATE_GET_IP = "120/m"
# One open widget polls every few seconds; a few tabs of one conversation stay below this.
RATE_GET_CONVERSATION = "60/m"
RATE_PREFLIGHT_IP = "120/m"
# Browsers keep a preflight answer at most this long (Chromium caps it at 2 hours).
CORS_MAX_AGE = 7200

MESSAGES_PATH = "/public/{org}/assistant/messages"
CONVERSATION_PATH = "/public/{org}/assistant/conversations/{public_id}"

PUBLIC_ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


class MessageIn(StrictSchema):
    conversation: str | None = Field(
        default=None, max_length=64, description="The id from the first reply; null to start."
    )
    text: str = Field(description="The visitor's message (at most 4000 characters).")


class ReplyTextOut(Schema):
    text: str
    language: str


class MessageOut(Schema):
    conversation: str
    reply: ReplyTextOut
    intent: str
    confidence: float
    sources: list[dict[str, Any]]
    handoff: bool
    booking: dict[str, Any] | None
    options: list[dict[str, str]]
    message_ids: list[int] = Field(
        description="Ids of the visitor's message and of the reply this request stored. "
        "A client marks them shown and keeps polling from its previous cursor: a staff "
        "reply stored meanwhile has a lower id than the reply."
    )
    last_message: int = Field(
        description="Highest message id of the conversation (deprecated for polling: "
        "messages below it may not have been fetched yet)."
    )


class TranscriptMessageOut(Schema):
    id: int
    author: str
    text: str
    at: datetime


class TranscriptOut(Schema):
    conversation: str
    status: str
    handoff: bool
    messages: list[TranscriptMessageOut]


def _organisation(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise NotFound("There is no such organisation.")
    enabled = (
        AssistantSettings.objects.filter(organisation=organisation)
        .values_list("enabled", flat=True)
        .first()
    )
    if enabled is False:
        raise NotFound("This organisation's assistant is switched off.")
    return organisation


def _cors_headers(response: HttpResponse) -> HttpResponse:
    # Any origin, and no Access-Control-Allow-Credentials: these endpoints read no cookie
    # and no Authorization header, so a page on another site learns nothing it could not
    # learn by sending the same request itself.
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = str(CORS_MAX_AGE)
    return response


def cors(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """CORS headers on every answer of an operation, errors included (the widget reads the
    error code of a 422 or 429 from another origin too)."""

    @functools.wraps(run)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _cors_headers(run(request, *args, **kwargs))

    return wrapped


def _preflight(request: HttpRequest) -> HttpResponse:
    if _limited(request, "assistant-preflight", client_ip(request), RATE_PREFLIGHT_IP):
        return too_many(request)
    return HttpResponse(status=204)


def _limited(request: HttpRequest, scope: str, key: str, rate: str) -> bool:
    return bool(settings.RATELIMIT_ENABLE) and not hit(scope, key, rate)


@router.api_operation(["OPTIONS"], MESSAGES_PATH, include_in_schema=False)
@decorate_view(cors)
def message_preflight(request: HttpRequest, org: str) -> HttpResponse:
    return _preflight(request)


@router.post(
    MESSAGES_PATH,
    response={200: MessageOut, **PUBLIC_ERRORS},
    summary="Send a visitor's message to the assistant",
    url_name="assistant_public_message",
)
@decorate_view(cors)
def message_post(request: HttpRequest, org: str, payload: MessageIn) -> Any:
    """Starts a conversation when `conversation` is null. The reply says what the
    assistant understood (intent, confidence), where the answer came from (sources), whether
    a person takes over (handoff) and, after a booking dialogue, the booking."""
    if _limited(request, "assistant-ip", client_ip(request), RATE_POST_IP):
        return too_many(request)
    if payload.conversation and _limited(
        request, "assistant-conversation", payload.conversation, RATE_POST_CONVERSATION
    ):
        return too_many(request)
    organisation = _organisation(org)
    conversation, reply = services.message_post(
        organisation=organisation,
        conversation_id=payload.conversation,
        text=payload.text,
        link_base=request.build_absolute_uri("/"),
    )
    last = conversation.messages.order_by("-pk").values_list("pk", flat=True).first() or 0
    return {
        "conversation": conversation.public_id,
        "reply": {"text": reply.text, "language": reply.language},
        "intent": reply.intent,
        "confidence": round(float(reply.confidence), 4),
        "sources": reply.sources,
        "handoff": reply.handoff,
        "booking": reply.booking,
        "options": reply.options,
        "message_ids": reply.message_ids,
        "last_message": last,
    }


class AfterIn(Schema):
    after: int = Field(default=0, ge=0, le=2**63 - 1)


@router.api_operation(["OPTIONS"], CONVERSATION_PATH, include_in_schema=False)
@decorate_view(cors)
def conversation_preflight(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    return _preflight(request)


@router.get(
    CONVERSATION_PATH,
    response={200: TranscriptOut, **PUBLIC_ERRORS},
    summary="Messages of a conversation after a message id (the widget polls this)",
)
@decorate_view(cors)
def conversation_get(
    request: HttpRequest, org: str, public_id: str, query: Query[AfterIn]
) -> Any | HttpResponse:
    if _limited(request, "assistant-poll", client_ip(request), RATE_GET_IP):
        return too_many(request)
    # Per conversation too: many addresses polling one id are limited together.
    key = hashlib.sha256(public_id.encode()).hexdigest()[:32]
    if _limited(request, "assistant-poll-conversation", key, RATE_GET_CONVERSATION):
        return too_many(request)
    organisation = _organisation(org)
    conversation = services.conversation_of(organisation=organisation, public_id=public_id)
    services.visitor_seen(conversation)
    return {
        "conversation": conversation.public_id,
        "status": conversation.status,
        "handoff": services.with_staff(conversation),
        "messages": services.transcript(conversation, after=query.after),
    }
