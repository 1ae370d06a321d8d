"""REST endpoints of discovery: recommendations for one contact, and what a website showed.

`GET /recommendations`: every token may read (viewer and up). It calls the same service as
the contact page (`discovery.services.contact_recommendations`); answers give dates with
the offset of the organisation's time zone, titles and the explanation's `text` in the
contact's language. Reading never writes: a staff tool probing the API leaves the
filter-bubble meter as it is.

`POST /recommendations/offers` (front desk and up, the role a website that books needs):
the website reports the list it put in front of the person, and each item becomes an
`Offer` of the channel `website` (`discovery.offers.offers_record`). A separate call rather
than a flag on the GET: the website knows what it displayed (it may cache a list, show only
part of it, or not show it at all), a GET stays free of side effects, and a read-only token
cannot write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from publikum.audience.models import Contact
from publikum.core.api import ERRORS
from publikum.core.apikit import StrictSchema, org_of, require_role
from publikum.core.errors import NotFound, ValidationFailed
from publikum.core.models import Organisation, Role
from publikum.discovery import services
from publikum.discovery.models import OfferChannel
from publikum.discovery.offers import OfferedItem, offers_record
from publikum.programme.models import Occurrence, ProgrammeItem
from publikum.programme.selectors import zone_of

router = Router(tags=["discovery"])


class RecommendationQuery(Schema):
    contact: int = Field(description="Id of the contact.")
    limit: int = Field(10, ge=1, le=services.MAX_LIMIT, description="How many items, 1 to 50.")
    horizon: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description=(
            "0 = only the familiar, 1 = mostly new; never the irrelevant. "
            "Default: the organisation's dial (Discovery settings)."
        ),
    )


class DateOut(Schema):
    id: int
    starts_at: datetime


class ExplanationPartOut(Schema):
    kind: str = Field(
        description="because_visited, new_for_you, interest, popular or also_popular."
    )
    item_ids: list[int] = Field(description="Past items the reason refers to.")
    themes: list[str] = Field(description="Theme slugs: new for the contact, or stated.")
    item_kinds: list[str] = Field(description="Kinds of event new for the contact.")


class ExplanationOut(Schema):
    language: str
    text: str = Field(description="The explanation in the contact's language.")
    text_de: str
    text_en: str
    parts: list[ExplanationPartOut]


class RecommendationOut(Schema):
    item: int
    slug: str
    title: str
    date: DateOut = Field(description="The item's next date: the one recommended.")
    score: float = Field(description="The model's raw score for this contact.")
    relevance: float = Field(description="0..1, relative to the contact's best candidate.")
    novelty: float = Field(description="0..1, how far outside what the contact attended.")
    explanation: ExplanationOut


class RecommendationsOut(Schema):
    contact: int
    horizon: float
    basis: str = Field(description="history, interests or popular: what the list rests on.")
    note: str = Field(description="Why the list is empty, short or a fallback; else empty.")
    source: str = Field(
        description="stored (the worker's precomputed list) or live (computed for this request)."
    )
    items: list[RecommendationOut]


@router.get(
    "/recommendations",
    response={200: RecommendationsOut, **ERRORS},
    summary="Upcoming dates recommended for a contact, with scores and explanations",
)
def recommendations_get(request: HttpRequest, query: Query[RecommendationQuery]) -> Any:
    result = services.contact_recommendations(
        organisation=org_of(request),
        contact_id=query.contact,
        limit=query.limit,
        horizon=query.horizon,
    )
    return {
        "contact": result.contact_id,
        "horizon": result.horizon,
        "basis": result.basis,
        "note": result.note,
        "source": result.source,
        "items": [
            {
                "item": rec.item_id,
                "slug": rec.slug,
                "title": rec.title,
                "date": {"id": rec.occurrence_id, "starts_at": rec.starts_at},
                "score": rec.score,
                "relevance": rec.relevance,
                "novelty": rec.novelty,
                "explanation": {
                    "language": result.language,
                    "text": rec.explanation.text(result.language),
                    "text_de": rec.explanation.texts["de"],
                    "text_en": rec.explanation.texts["en"],
                    "parts": [
                        {
                            "kind": part.kind,
                            "item_ids": [int(i) for i in part.item_ids],
                            "themes": list(part.themes),
                            "item_kinds": list(part.item_kinds),
                        }
                        for part in rec.explanation.parts
                    ],
                },
            }
            for rec in result.items
        ],
    }


# --- what a website showed ------------------------------------------------------------------

# One list a website shows holds at most what the GET can answer.
MAX_OFFERED = services.MAX_LIMIT
MAX_ID = 2**63 - 1  # the largest id a database column holds


class ShownItemIn(StrictSchema):
    item: int = Field(
        ge=1, le=MAX_ID, description="Programme item id, as `items[].item` of the GET answer."
    )
    occurrence: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="The date shown with it, as `items[].date.id`; null: none shown.",
    )
    relevance: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="`items[].relevance` of the GET answer; 0 when not given.",
    )


class ShownListIn(StrictSchema):
    contact: int = Field(description="Id of the contact the list was shown to.")
    items: list[ShownItemIn] = Field(
        description=f"The items shown, in the order shown (rank 1 first), 1 to {MAX_OFFERED}."
    )
    horizon: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="`horizon` of the GET answer the list came from; null: not known.",
    )


class OfferOut(Schema):
    item: int
    occurrence: int | None
    rank: int
    relevance: float
    outside_usual: bool = Field(
        description="None of the item's themes was among the contact's usual themes."
    )
    new_kind: bool = Field(description="The contact had never attended this kind of event.")


class OffersOut(Schema):
    contact: int
    channel: str
    offered_at: datetime
    horizon: float | None
    offers: list[OfferOut]


def _shown_contact(organisation: Organisation, contact_id: int) -> Contact:
    contact = Contact.objects.filter(
        organisation=organisation, pk=contact_id, erased_at__isnull=True
    ).first()
    if contact is None:
        raise NotFound("No contact with this id.")
    return contact


def _shown_items_check(organisation: Organisation, items: list[ShownItemIn]) -> None:
    """ValidationFailed naming every entry that is not an item (or a date of that item) of
    `organisation`, or that repeats an item; nothing is recorded then."""
    if not items:
        raise ValidationFailed(
            "Give the items the website showed: the list is empty.",
            fields={"items": ["at least one item"]},
        )
    if len(items) > MAX_OFFERED:
        raise ValidationFailed(
            f"A list shown holds at most {MAX_OFFERED} items, not {len(items)}.",
            fields={"items": [f"at most {MAX_OFFERED} items"]},
        )
    known_items = set(
        ProgrammeItem.objects.filter(
            organisation=organisation, pk__in={entry.item for entry in items}
        ).values_list("pk", flat=True)
    )
    wanted_dates = {entry.occurrence for entry in items if entry.occurrence is not None}
    date_items = dict(
        Occurrence.objects.filter(organisation=organisation, pk__in=wanted_dates).values_list(
            "pk", "item_id"
        )
    )
    fields: dict[str, list[str]] = {}
    unknown: list[str] = []
    first_at: dict[int, int] = {}
    for n, entry in enumerate(items):
        if entry.item not in known_items:
            fields[f"items.{n}.item"] = [f"no item {entry.item} in this organisation"]
            unknown.append(f"item {entry.item}")
        elif entry.item in first_at:
            fields[f"items.{n}.item"] = [
                f"item {entry.item} is already at index {first_at[entry.item]}"
            ]
        else:
            first_at[entry.item] = n
        if entry.occurrence is None:
            continue
        if entry.occurrence not in date_items:
            fields[f"items.{n}.occurrence"] = [f"no date {entry.occurrence} in this organisation"]
            unknown.append(f"date {entry.occurrence}")
        elif entry.item in known_items and date_items[entry.occurrence] != entry.item:
            fields[f"items.{n}.occurrence"] = [
                f"date {entry.occurrence} is not a date of item {entry.item}"
            ]
    if fields:
        named = f" Unknown: {', '.join(unknown)}." if unknown else ""
        raise ValidationFailed(
            f"Nothing was recorded: {len(fields)} of the entries cannot be offers.{named}",
            fields=fields,
        )


@router.post(
    "/recommendations/offers",
    response={201: OffersOut, **ERRORS},
    summary="Record the recommendations a website showed to a contact (front desk or higher)",
    description=(
        "Call it when the website displays a list it got from `GET /recommendations` (or "
        "part of it): each item becomes an offer of the channel `website`, counted by the "
        "filter-bubble meter on the discovery dashboard. Send the items in the order shown; "
        "ranks are their positions from 1. A list that is shown again is recorded again "
        "(each display is an offer). Reading recommendations records nothing."
    ),
)
def recommendations_offers_create(request: HttpRequest, payload: ShownListIn) -> Any:
    require_role(request, Role.FRONT_DESK)
    organisation = org_of(request)
    contact = _shown_contact(organisation, payload.contact)
    _shown_items_check(organisation, payload.items)
    offers = offers_record(
        organisation=organisation,
        contact=contact,
        items=[
            OfferedItem(
                item_id=entry.item,
                occurrence_id=entry.occurrence,
                rank=rank,
                relevance=entry.relevance,
            )
            for rank, entry in enumerate(payload.items, start=1)
        ],
        channel=OfferChannel.WEBSITE,
        horizon=payload.horizon,
    )
    return Status(
        201,
        {
            "contact": contact.pk,
            "channel": OfferChannel.WEBSITE.value,
            "offered_at": timezone.localtime(offers[0].offered_at, zone_of(organisation)),
            "horizon": payload.horizon,
            "offers": [
                {
                    "item": offer.item_id,
                    "occurrence": offer.occurrence_id,
                    "rank": offer.rank,
                    "relevance": offer.relevance,
                    "outside_usual": offer.outside_usual,
                    "new_kind": offer.new_kind,
                }
                for offer in offers
            ],
        },
    )
