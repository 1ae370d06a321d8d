"""REST endpoint of discovery: recommendations for one contact, with explanations.

Every token may read (viewer and up). The endpoint calls the same service as the contact
page (`discovery.services.contact_recommendations`); answers give dates with the offset of
the organisation's time zone, titles and the explanation's `text` in the contact's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from publikum.core.api import ERRORS
from publikum.core.apikit import org_of
from publikum.discovery import services

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
