"""REST endpoints of the inbox: list, get, reply, assign, close.

Every token may read; replying, assigning and closing need front desk or higher. A
conversation of another organisation answers 404, as one that does not exist.
"""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate
from pydantic import Field

from publikum.conversations import selectors, services
from publikum.conversations.models import Conversation, Message, Note
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.errors import NotFound
from publikum.core.models import Role

router = Router(tags=["conversations"])

WRITE_ERRORS: dict[int, type[Schema]] = {**ERRORS, 503: ErrorOut}
MAX_ID = 2**63 - 1


class ConversationOut(Schema):
    id: int
    channel: str
    status: str
    language: str
    subject: str
    visitor_name: str
    visitor_email: str
    contact_id: int | None
    assigned_to_id: int | None = Field(description="The user id of the assigned member.")
    handoff_reason: str
    handed_over_at: datetime | None
    awaiting_since: datetime | None
    first_response_at: datetime | None
    created_at: datetime
    last_message_at: datetime

    @staticmethod
    def resolve_id(obj: Conversation) -> int:
        return obj.pk


class MessageOut(Schema):
    id: int
    author: str
    text: str
    language: str
    intent: str
    confidence: float | None
    user_id: int | None
    delivery: str
    created_at: datetime

    @staticmethod
    def resolve_id(obj: Message) -> int:
        return obj.pk


class NoteOut(Schema):
    id: int
    text: str
    user_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_id(obj: Note) -> int:
        return obj.pk


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut]
    notes: list[NoteOut]

    @staticmethod
    def resolve_messages(obj: Conversation) -> list[Message]:
        return list(obj.messages.all())

    @staticmethod
    def resolve_notes(obj: Conversation) -> list[Note]:
        return list(obj.notes.all())


class ConversationFilters(Schema):
    status: Literal["assistant", "open", "waiting", "done"] | None = None
    channel: Literal["assistant", "email", "form", "social"] | None = None


class ReplyIn(StrictSchema):
    text: str = Field(description="The reply; at most 4000 characters.")
    done: bool = Field(default=False, description="Mark the conversation done after sending.")


class AssignIn(StrictSchema):
    user: int | None = Field(description="A member's user id, or null for nobody.")


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    conversation = (
        selectors.conversation_of(organisation=org_of(request), conversation_id=conversation_id)
        if 0 < conversation_id <= MAX_ID
        else None
    )
    if conversation is None:
        raise NotFound("There is no such conversation.")
    return conversation


@router.get(
    "/conversations",
    response={200: list[ConversationOut], **ERRORS},
    summary="List conversations: overdue first, then the longest waiting, then the newest",
)
@paginate(PageNumberPagination, page_size=50)
def conversations_list(request: HttpRequest, filters: Query[ConversationFilters]) -> Any:
    return selectors.conversation_list(
        organisation=org_of(request),
        status=filters.status or "all",
        channel=filters.channel or "",
    )


@router.get(
    "/conversations/{conversation_id}",
    response={200: ConversationDetailOut, **ERRORS},
    summary="A conversation with its messages and internal notes",
)
def conversations_get(request: HttpRequest, conversation_id: int) -> Any:
    return _conversation(request, conversation_id)


@router.post(
    "/conversations/{conversation_id}/reply",
    response={201: MessageOut, **WRITE_ERRORS},
    summary="Reply to the visitor (front desk or higher)",
    description=(
        "The reply goes to the web chat while the visitor is there, else by e-mail over "
        "SMTP. 422 when neither reaches the visitor (no address), 503 `mail_not_sent` when "
        "the mail server refused (nothing was stored)."
    ),
)
def conversations_reply(request: HttpRequest, conversation_id: int, payload: ReplyIn) -> Any:
    conversation = _conversation(request, conversation_id)
    require_role(request, Role.FRONT_DESK)
    message = services.staff_reply(
        conversation=conversation,
        user=None,
        text=payload.text,
        done=payload.done,
        token=token_of(request),
    )
    return Status(201, message)


@router.post(
    "/conversations/{conversation_id}/assign",
    response={200: ConversationOut, **WRITE_ERRORS},
    summary="Assign to a member of the organisation, or to nobody (front desk or higher)",
)
def conversations_assign(request: HttpRequest, conversation_id: int, payload: AssignIn) -> Any:
    conversation = _conversation(request, conversation_id)
    require_role(request, Role.FRONT_DESK)
    return services.conversation_assign(
        conversation=conversation, user_id=payload.user, token=token_of(request)
    )


@router.post(
    "/conversations/{conversation_id}/close",
    response={200: ConversationOut, **WRITE_ERRORS},
    summary="Mark a conversation done (front desk or higher)",
)
def conversations_close(request: HttpRequest, conversation_id: int) -> Any:
    conversation = _conversation(request, conversation_id)
    require_role(request, Role.FRONT_DESK)
    return services.conversation_status_set(
        conversation=conversation, status="done", token=token_of(request)
    )
