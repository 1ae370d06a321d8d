"""REST endpoints of the audience: segments defined by a JSON rule tree, counted in SQL."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from publikum.audience import segments as seg
from publikum.audience.api import ContactOut
from publikum.core.api import ERRORS
from publikum.core.apikit import ErrorOut, StrictSchema, org_of, require_role, token_of
from publikum.core.models import Role

router = Router(tags=["segments"])

RULES_DESCRIPTION = """A rule tree (see docs/segments.md). A node is a group or a leaf.

Groups: `{"all": [rule, ...]}` (every rule holds; an empty list matches everyone),
`{"any": [rule, ...]}` (at least one holds; empty matches nobody), `{"not": rule}`.
At most 6 levels of groups and 100 leaves.

Leaves:

| leaf | meaning |
|---|---|
| `{"field": F, "op": OP, "value": V}` | a contact field, see below |
| `{"tag": "vip"}` | has the tag (case-insensitive) |
| `{"interest": "fotografie"}` | interested in the theme (slug) |
| `{"consent": {"channel": "email", "purpose": "newsletter"}}` | consent granted |
| `{"has_email": true}` | has an e-mail address (false: has none) |
| `{"activity": "visit", "min": 3, "months": 12}` | at least 3 visits in 12 months (1) |
| `{"activity": "visit", "none_since": "2026-01-01"}` | no visit since that day (2) |
| `{"activity": "visit", "none_in_months": 6}` | no visit in the last 6 months (2) |
| `{"attended_theme": "fotografie", "months": 24}` | visited an event of the theme (3) |
| `{"in_segment": 12}` | member of another segment of the organisation (no cycles) |

(1) `min` defaults to 1; without `months` the whole history counts. (2) Also true for
people who never visited. (3) `months` is optional. `activity` is one of visit, booking,
email_sent, email_opened, email_clicked, subscribed, unsubscribed, message, idea, vote, pledge.

Fields and operators: `kind`, `language`, `email_status`, `lifecycle_stage`: eq, ne, in;
`postcode`: eq, prefix, in; `birthday_month` (1-12): eq, in; `created_at`,
`last_visit_at` (YYYY-MM-DD): before, after (after = on that day or later);
`rfm_recency`, `rfm_frequency`, `rfm_monetary` (0-5), `visits_12m`, `bookings_12m`:
eq, gte, lte; `spend_12m` (EUR): gte, lte. `in` takes a list.

An invalid tree answers 422; `error.fields` maps the path of each bad node
(e.g. `rules.all[1].any[0]`) to what is wrong with it."""

RULES_EXAMPLE = {
    "all": [
        {"field": "language", "op": "eq", "value": "en"},
        {"consent": {"channel": "email", "purpose": "newsletter"}},
        {"activity": "visit", "min": 3, "months": 12},
        {"not": {"tag": "press"}},
        {
            "any": [
                {"interest": "fotografie"},
                {"field": "lifecycle_stage", "op": "in", "value": ["loyal", "regular"]},
            ]
        },
    ]
}


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    rules: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SegmentIn(StrictSchema):
    name: str = Field(..., max_length=200, examples=["Loyal English speakers"])
    description: str = Field("", max_length=2000)
    rules: dict[str, Any] = Field(..., description=RULES_DESCRIPTION, examples=[RULES_EXAMPLE])


class SegmentPatch(StrictSchema):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    rules: dict[str, Any] | None = Field(
        None, description=RULES_DESCRIPTION, examples=[RULES_EXAMPLE]
    )


class RulesIn(StrictSchema):
    rules: dict[str, Any] = Field(..., description=RULES_DESCRIPTION, examples=[RULES_EXAMPLE])


class CountOut(Schema):
    count: int


@router.get("/segments", response={200: list[SegmentOut], **ERRORS}, summary="List segments")
@paginate(LimitOffsetPagination)
def segments_list(request: HttpRequest) -> Any:
    return seg.segment_list(organisation=org_of(request))


@router.post(
    "/segments",
    response={201: SegmentOut, **ERRORS, 409: ErrorOut},
    summary="Create a segment from a rule tree (editor or higher)",
)
def segments_create(request: HttpRequest, payload: SegmentIn) -> Any:
    require_role(request, Role.EDITOR)
    segment = seg.segment_create(
        organisation=org_of(request), token=token_of(request), **payload.model_dump()
    )
    return Status(201, segment)


@router.post(
    "/segments/count",
    response={200: CountOut, **ERRORS},
    summary="Count the contacts an unsaved rule tree matches",
)
def segments_count_rules(request: HttpRequest, payload: RulesIn) -> Any:
    return {"count": seg.rules_count(organisation=org_of(request), rules=payload.rules)}


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERRORS}, summary="A segment")
def segments_get(request: HttpRequest, segment_id: int) -> Any:
    return seg.segment_get(organisation=org_of(request), segment_id=segment_id)


@router.patch(
    "/segments/{segment_id}",
    response={200: SegmentOut, **ERRORS, 409: ErrorOut},
    summary="Change a segment's name, description or rules (editor or higher)",
)
def segments_update(request: HttpRequest, segment_id: int, payload: SegmentPatch) -> Any:
    segment = seg.segment_get(organisation=org_of(request), segment_id=segment_id)
    require_role(request, Role.EDITOR)
    return seg.segment_update(
        segment=segment, token=token_of(request), **payload.model_dump(exclude_unset=True)
    )


@router.delete(
    "/segments/{segment_id}",
    response={204: None, **ERRORS, 409: ErrorOut},
    summary="Delete a segment no other segment uses (editor or higher)",
)
def segments_delete(request: HttpRequest, segment_id: int) -> Any:
    segment = seg.segment_get(organisation=org_of(request), segment_id=segment_id)
    require_role(request, Role.EDITOR)
    seg.segment_delete(segment=segment, token=token_of(request))
    return Status(204, None)


@router.get(
    "/segments/{segment_id}/count",
    response={200: CountOut, **ERRORS},
    summary="How many contacts the segment has now (one SQL query)",
)
def segments_count(request: HttpRequest, segment_id: int) -> Any:
    segment = seg.segment_get(organisation=org_of(request), segment_id=segment_id)
    return {"count": seg.segment_count(segment=segment)}


@router.get(
    "/segments/{segment_id}/contacts",
    response={200: list[ContactOut], **ERRORS},
    summary="The segment's contacts, by id",
)
@paginate(LimitOffsetPagination)
def segments_contacts(request: HttpRequest, segment_id: int) -> Any:
    segment = seg.segment_get(organisation=org_of(request), segment_id=segment_id)
    return seg.segment_contacts(segment=segment).prefetch_related("interests").order_by("id")
