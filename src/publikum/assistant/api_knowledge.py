"""REST endpoints of the assistant's knowledge: entries, opening hours, exceptions, prices
and personal topics.

Every token may read; writing needs the role editor or higher. The endpoints call the same
checks as the staff pages (`assistant.knowledge`), so errors and audit entries are the
same. Ids of another organisation answer 404.
"""

import datetime as dt
from datetime import datetime, time
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import ConfigDict

from publikum.assistant import knowledge
from publikum.assistant.models import (
    KnowledgeEntry,
    OpeningException,
    PersonalTopic,
    PriceEntry,
)
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.errors import ValidationFailed
from publikum.core.models import Role

router = Router(tags=["knowledge"])

WRITE_ERRORS: dict[int, type[Schema]] = {**ERRORS, 409: ErrorOut}

TopicCode = Literal[
    "opening_hours",
    "prices",
    "address",
    "accessibility",
    "facilities",
    "groups",
    "tickets",
    "other",
]
HolidayRuleCode = Literal["closed", "sunday", "regular"]
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _actor(request: HttpRequest) -> knowledge.Actor:
    return knowledge.Actor(token=token_of(request))


def _phrases(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# --- entries -------------------------------------------------------------------------------


class EntryOut(Schema):
    id: int
    key: str
    topic: TopicCode
    question_de: str
    question_en: str
    answer_de: str
    answer_en: str
    phrases_de: list[str] = Field(description="More ways to ask, in German.")
    phrases_en: list[str] = Field(description="More ways to ask, in English.")
    active: bool
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_phrases_de(obj: KnowledgeEntry) -> list[str]:
        return _phrases(obj.phrases_de)

    @staticmethod
    def resolve_phrases_en(obj: KnowledgeEntry) -> list[str]:
        return _phrases(obj.phrases_en)


ENTRY_EXAMPLE: dict[str, Any] = {
    "key": "lockers",
    "topic": "facilities",
    "question_de": "Gibt es Schließfächer?",
    "question_en": "Are there lockers?",
    "answer_de": "Ja, im Untergeschoss gibt es 80 Schließfächer (Pfand 1 €).",
    "answer_en": "Yes, there are 80 lockers downstairs (€1 coin deposit).",
    "phrases_de": ["Spind", "Wo kann ich meinen Rucksack lassen?"],
    "phrases_en": ["luggage storage"],
}


class EntryIn(StrictSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [ENTRY_EXAMPLE]},  # type: ignore[list-item]
    )

    key: str = Field(
        default="",
        max_length=60,
        description="Optional stable name, unique in the organisation: a-z, 0-9, - and _.",
    )
    topic: TopicCode = "other"
    question_de: str = Field(max_length=300)
    question_en: str = Field(default="", max_length=300)
    answer_de: str = Field(max_length=knowledge.MAX_ANSWER)
    answer_en: str = Field(default="", max_length=knowledge.MAX_ANSWER)
    phrases_de: list[str] = Field(default=[], max_length=knowledge.MAX_PHRASE_LINES)
    phrases_en: list[str] = Field(default=[], max_length=knowledge.MAX_PHRASE_LINES)
    active: bool = True


class EntryPatch(StrictSchema):
    """Only the fields sent change; a phrases list replaces the whole list."""

    key: str | None = Field(default=None, max_length=60)
    topic: TopicCode | None = None
    question_de: str | None = Field(default=None, max_length=300)
    question_en: str | None = Field(default=None, max_length=300)
    answer_de: str | None = Field(default=None, max_length=knowledge.MAX_ANSWER)
    answer_en: str | None = Field(default=None, max_length=knowledge.MAX_ANSWER)
    phrases_de: list[str] | None = Field(default=None, max_length=knowledge.MAX_PHRASE_LINES)
    phrases_en: list[str] | None = Field(default=None, max_length=knowledge.MAX_PHRASE_LINES)
    active: bool | None = None


class EntryFilters(Schema):
    topic: TopicCode | None = None
    q: str | None = Field(default=None, max_length=200, description="Words in any text field.")
    active: bool | None = None


def _not_null(data: dict[str, Any], names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Refuse null for the fields of a PATCH (all of them, or `names`) that must have a
    value; leaving a field out is how a PATCH keeps it."""
    for name, value in data.items():
        if value is None and (names is None or name in names):
            raise ValidationFailed(f"{name} cannot be null.", fields={name: ["Cannot be null."]})
    return data


def _entry_data(payload: StrictSchema, *, partial: bool) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=partial)
    for name in ("phrases_de", "phrases_en"):
        if name in data:
            lines = data[name] or []
            if any("\n" in line or "\r" in line for line in lines):
                raise ValidationFailed(
                    f"{name}: one phrase per list item, without line breaks.",
                    fields={name: ["One phrase per list item, without line breaks."]},
                )
            data[name] = "\n".join(lines)
    return _not_null(data)


@router.get(
    "/knowledge",
    response={200: list[EntryOut], **ERRORS},
    summary="List knowledge entries",
    description="The organisation's question and answer entries, by topic and question.",
)
@paginate(LimitOffsetPagination)
def entries_list(request: HttpRequest, filters: Query[EntryFilters]) -> Any:
    return knowledge.entry_list(
        organisation=org_of(request),
        topic=filters.topic or "",
        query=filters.q or "",
        active=filters.active,
    )


@router.post(
    "/knowledge",
    response={201: EntryOut, **WRITE_ERRORS},
    summary="Create a knowledge entry (editor or higher)",
)
def entries_create(request: HttpRequest, payload: EntryIn) -> Any:
    require_role(request, Role.EDITOR)
    entry = knowledge.entry_create(
        organisation=org_of(request),
        data=_entry_data(payload, partial=False),
        actor=_actor(request),
    )
    return Status(201, entry)


# --- opening hours -------------------------------------------------------------------------


class SpanIO(StrictSchema):
    opens: time = Field(examples=["10:00"])
    closes: time = Field(examples=["18:00"], description="After `opens`.")


class DayOut(Schema):
    weekday: int = Field(description="0 = Monday … 6 = Sunday.")
    name: str
    spans: list[SpanIO] = Field(description="Empty: closed.")


class WeekOut(Schema):
    days: list[DayOut]
    holiday_rule: HolidayRuleCode = Field(
        description="Public holidays: closed, Sunday hours or regular hours."
    )


class DayIn(StrictSchema):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday.")
    spans: list[SpanIO] = Field(default=[], max_length=knowledge.MAX_SPANS_PER_DAY)


class WeekIn(StrictSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "days": [
                        {"weekday": d, "spans": [{"opens": "10:00", "closes": "18:00"}]}
                        for d in range(1, 7)
                    ],
                    "holiday_rule": "sunday",
                }
            ]
        },  # type: ignore[dict-item]
    )

    days: list[DayIn] = Field(
        max_length=7, description="The whole week; a weekday that is missing is closed."
    )
    holiday_rule: HolidayRuleCode | None = None


def _week_out(request: HttpRequest) -> dict[str, Any]:
    organisation = org_of(request)
    week = knowledge.week_of(organisation)
    return {
        "days": [
            {
                "weekday": day,
                "name": WEEKDAY_NAMES[day],
                "spans": [{"opens": o, "closes": c} for o, c in spans],
            }
            for day, spans in enumerate(week)
        ],
        "holiday_rule": knowledge.settings_of(organisation).holiday_rule,
    }


@router.get(
    "/knowledge/opening-hours",
    response={200: WeekOut, **ERRORS},
    summary="The regular opening hours and the public-holiday rule",
)
def hours_get(request: HttpRequest) -> Any:
    return _week_out(request)


@router.put(
    "/knowledge/opening-hours",
    response={200: WeekOut, **ERRORS},
    summary="Replace the regular week (editor or higher)",
)
def hours_put(request: HttpRequest, payload: WeekIn) -> Any:
    require_role(request, Role.EDITOR)
    seen: set[int] = set()
    for day in payload.days:
        if day.weekday in seen:
            raise ValidationFailed(
                f"days: weekday {day.weekday} appears twice.",
                fields={"days": [f"Weekday {day.weekday} appears twice."]},
            )
        seen.add(day.weekday)
    week: list[list[tuple[time, time]]] = [[] for _ in range(7)]
    for day in payload.days:
        week[day.weekday] = [(s.opens, s.closes) for s in day.spans]
    organisation = org_of(request)
    knowledge.week_set(organisation=organisation, week=week, actor=_actor(request))
    if payload.holiday_rule is not None:
        knowledge.settings_update(
            organisation=organisation,
            data={"holiday_rule": payload.holiday_rule},
            actor=_actor(request),
        )
    return _week_out(request)


# --- exceptions ----------------------------------------------------------------------------


class ExceptionOut(Schema):
    id: int
    date: dt.date
    closed: bool
    opens: time | None
    closes: time | None
    note_de: str
    note_en: str


class ExceptionIn(StrictSchema):
    date: dt.date
    closed: bool = Field(default=True, description="false: open from `opens` to `closes`.")
    opens: time | None = None
    closes: time | None = None
    note_de: str = Field(default="", max_length=300)
    note_en: str = Field(default="", max_length=300)


class ExceptionPatch(StrictSchema):
    date: dt.date | None = None
    closed: bool | None = None
    opens: time | None = None
    closes: time | None = None
    note_de: str | None = Field(default=None, max_length=300)
    note_en: str | None = Field(default=None, max_length=300)


class ExceptionFilters(Schema):
    from_: dt.date | None = Field(
        default=None, alias="from", description="Exceptions on or after this day."
    )


@router.get(
    "/knowledge/exceptions",
    response={200: list[ExceptionOut], **ERRORS},
    summary="Opening exceptions (closed days and other hours), by date",
)
def exceptions_list(request: HttpRequest, filters: Query[ExceptionFilters]) -> Any:
    rows = OpeningException.objects.filter(organisation=org_of(request))
    if filters.from_:
        rows = rows.filter(date__gte=filters.from_)
    return rows.order_by("date")


@router.post(
    "/knowledge/exceptions",
    response={201: ExceptionOut, **WRITE_ERRORS},
    summary="Add an opening exception (editor or higher); one per date",
)
def exceptions_create(request: HttpRequest, payload: ExceptionIn) -> Any:
    require_role(request, Role.EDITOR)
    row = knowledge.exception_create(
        organisation=org_of(request), data=payload.model_dump(), actor=_actor(request)
    )
    return Status(201, row)


@router.patch(
    "/knowledge/exceptions/{exception_id}",
    response={200: ExceptionOut, **WRITE_ERRORS},
    summary="Change an opening exception (editor or higher)",
)
def exceptions_update(request: HttpRequest, exception_id: int, payload: ExceptionPatch) -> Any:
    row = knowledge.exception_get(organisation=org_of(request), exception_id=exception_id)
    require_role(request, Role.EDITOR)
    # opens and closes may be null: the exception has no times (closed all day).
    data = _not_null(
        payload.model_dump(exclude_unset=True), names=("date", "closed", "note_de", "note_en")
    )
    return knowledge.exception_update(row=row, data=data, actor=_actor(request))


@router.delete(
    "/knowledge/exceptions/{exception_id}",
    response={204: None, **ERRORS},
    summary="Delete an opening exception (editor or higher)",
)
def exceptions_delete(request: HttpRequest, exception_id: int) -> Any:
    row = knowledge.exception_get(organisation=org_of(request), exception_id=exception_id)
    require_role(request, Role.EDITOR)
    knowledge.exception_delete(row=row, actor=_actor(request))
    return Status(204, None)


# --- prices --------------------------------------------------------------------------------


class PriceOut(Schema):
    id: int
    label_de: str
    label_en: str
    amount_eur: Decimal = Field(examples=["9.00"])
    note_de: str
    note_en: str
    position: int


class PriceIn(StrictSchema):
    label_de: str = Field(max_length=200, examples=["Erwachsene"])
    label_en: str = Field(default="", max_length=200, examples=["Adults"])
    amount_eur: Decimal = Field(ge=0, le=knowledge.MAX_PRICE, examples=["9.00"])
    note_de: str = Field(default="", max_length=300)
    note_en: str = Field(default="", max_length=300)
    position: int = Field(default=0, ge=0, le=9999)


class PricePatch(StrictSchema):
    label_de: str | None = Field(default=None, max_length=200)
    label_en: str | None = Field(default=None, max_length=200)
    amount_eur: Decimal | None = Field(default=None, ge=0, le=knowledge.MAX_PRICE)
    note_de: str | None = Field(default=None, max_length=300)
    note_en: str | None = Field(default=None, max_length=300)
    position: int | None = Field(default=None, ge=0, le=9999)


@router.get(
    "/knowledge/prices",
    response={200: list[PriceOut], **ERRORS},
    summary="Admission prices and reductions, in their order",
)
def prices_list(request: HttpRequest) -> Any:
    return PriceEntry.objects.filter(organisation=org_of(request))


@router.post(
    "/knowledge/prices",
    response={201: PriceOut, **WRITE_ERRORS},
    summary="Add a price (editor or higher)",
)
def prices_create(request: HttpRequest, payload: PriceIn) -> Any:
    require_role(request, Role.EDITOR)
    row = knowledge.price_create(
        organisation=org_of(request), data=payload.model_dump(), actor=_actor(request)
    )
    return Status(201, row)


@router.patch(
    "/knowledge/prices/{price_id}",
    response={200: PriceOut, **WRITE_ERRORS},
    summary="Change a price (editor or higher)",
)
def prices_update(request: HttpRequest, price_id: int, payload: PricePatch) -> Any:
    row = knowledge.price_get(organisation=org_of(request), price_id=price_id)
    require_role(request, Role.EDITOR)
    data = _not_null(payload.model_dump(exclude_unset=True))
    return knowledge.price_update(row=row, data=data, actor=_actor(request))


@router.delete(
    "/knowledge/prices/{price_id}",
    response={204: None, **ERRORS},
    summary="Delete a price (editor or higher)",
)
def prices_delete(request: HttpRequest, price_id: int) -> Any:
    row = knowledge.price_get(organisation=org_of(request), price_id=price_id)
    require_role(request, Role.EDITOR)
    knowledge.price_delete(row=row, actor=_actor(request))
    return Status(204, None)


# --- personal topics -----------------------------------------------------------------------


class PersonalTopicOut(Schema):
    id: int
    name_de: str
    name_en: str
    phrases: list[str]

    @staticmethod
    def resolve_phrases(obj: PersonalTopic) -> list[str]:
        return _phrases(obj.phrases)


class PersonalTopicIn(StrictSchema):
    name_de: str = Field(max_length=100, examples=["Beschwerde"])
    name_en: str = Field(default="", max_length=100, examples=["Complaint"])
    phrases: list[str] = Field(
        min_length=1, max_length=200, examples=[["beschwerde", "unzufrieden", "complaint"]]
    )


def _topic_data(payload: PersonalTopicIn) -> dict[str, Any]:
    if any("\n" in p or "\r" in p for p in payload.phrases):
        raise ValidationFailed(
            "phrases: one phrase per list item, without line breaks.",
            fields={"phrases": ["One phrase per list item, without line breaks."]},
        )
    return {
        "name_de": payload.name_de,
        "name_en": payload.name_en,
        "phrases": "\n".join(payload.phrases),
    }


@router.get(
    "/knowledge/personal-topics",
    response={200: list[PersonalTopicOut], **ERRORS},
    summary="Topics a person answers (messages about them go to the inbox)",
)
def topics_list(request: HttpRequest) -> Any:
    return PersonalTopic.objects.filter(organisation=org_of(request))


@router.post(
    "/knowledge/personal-topics",
    response={201: PersonalTopicOut, **WRITE_ERRORS},
    summary="Add a personal topic (editor or higher)",
)
def topics_create(request: HttpRequest, payload: PersonalTopicIn) -> Any:
    require_role(request, Role.EDITOR)
    row = knowledge.topic_create(
        organisation=org_of(request), data=_topic_data(payload), actor=_actor(request)
    )
    return Status(201, row)


@router.put(
    "/knowledge/personal-topics/{topic_id}",
    response={200: PersonalTopicOut, **WRITE_ERRORS},
    summary="Replace a personal topic (editor or higher)",
)
def topics_update(request: HttpRequest, topic_id: int, payload: PersonalTopicIn) -> Any:
    row = knowledge.topic_get(organisation=org_of(request), topic_id=topic_id)
    require_role(request, Role.EDITOR)
    return knowledge.topic_update(row=row, data=_topic_data(payload), actor=_actor(request))


@router.delete(
    "/knowledge/personal-topics/{topic_id}",
    response={204: None, **ERRORS},
    summary="Delete a personal topic (editor or higher)",
)
def topics_delete(request: HttpRequest, topic_id: int) -> Any:
    row = knowledge.topic_get(organisation=org_of(request), topic_id=topic_id)
    require_role(request, Role.EDITOR)
    knowledge.topic_delete(row=row, actor=_actor(request))
    return Status(204, None)


# --- one entry (after the fixed paths above, which `{knowledge_id}` would shadow) ---------------


@router.get(
    "/knowledge/{knowledge_id}",
    response={200: EntryOut, **ERRORS},
    summary="A knowledge entry",
)
def entries_get(request: HttpRequest, knowledge_id: int) -> Any:
    return knowledge.entry_get(organisation=org_of(request), entry_id=knowledge_id)


@router.patch(
    "/knowledge/{knowledge_id}",
    response={200: EntryOut, **WRITE_ERRORS},
    summary="Change a knowledge entry (editor or higher)",
)
def entries_update(request: HttpRequest, knowledge_id: int, payload: EntryPatch) -> Any:
    entry = knowledge.entry_get(organisation=org_of(request), entry_id=knowledge_id)
    require_role(request, Role.EDITOR)
    return knowledge.entry_update(
        entry=entry, data=_entry_data(payload, partial=True), actor=_actor(request)
    )


@router.delete(
    "/knowledge/{knowledge_id}",
    response={204: None, **ERRORS},
    summary="Delete a knowledge entry (editor or higher)",
)
def entries_delete(request: HttpRequest, knowledge_id: int) -> Any:
    entry = knowledge.entry_get(organisation=org_of(request), entry_id=knowledge_id)
    require_role(request, Role.EDITOR)
    knowledge.entry_delete(entry=entry, actor=_actor(request))
    return Status(204, None)
