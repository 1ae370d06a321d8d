"""Precomputed lists: their stored form, the marks that say whether one is fresh, and how a
request reads one back.

The worker writes one `StoredList` per contact (`discovery.precompute`);
`services.recommendations_for` asks `stored_answer` first and answers from the list when it
is fresh and fits the request, else it computes live. A list is fresh while

- its horizon is the one asked for (the house's dial unless the request names one);
- the programme is the one it was computed on (`programme.selectors.programme_version`);
- the contact's newest visit, booking or cancellation is the one it was computed after
  (`history_mark`, the id of that timeline entry; 0 for none);
- the contact's stated interests are the ones it was computed for (`interests`).

This module imports nothing of `services`, which imports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from publikum.audience.models import Interaction, InteractionKind
from publikum.core.models import Organisation
from publikum.discovery import rerank
from publikum.discovery.models import StoredList
from publikum.discovery.recommender import Recommendation
from publikum.programme.models import Occurrence, OccurrenceStatus, ProgrammeItem
from publikum.programme.selectors import programme_version

# How many picks a stored list holds: any request for up to this many is served from it.
LIST_LENGTH = 20
# The timeline entries the model learns from (services.HISTORY_KINDS): a new one of these
# makes the contact's list stale.
HISTORY_KINDS = (
    InteractionKind.VISIT,
    InteractionKind.BOOKING,
    InteractionKind.BOOKING_CANCELLED,
)
HORIZON_TOLERANCE = 1e-9
# Scores are stored rounded: four decimals say all a list needs and keep the rows small.
DIGITS = 4
SOURCE_STORED = "stored"
SOURCE_LIVE = "live"


# --- the stored form of a list -------------------------------------------------------------
#
# `StoredList.items` is a JSON array with one array per pick, in rank order:
#
#     [item, occurrence, score, relevance, novelty, reasons]
#
# item and occurrence are ids, the three figures are rounded to DIGITS decimals and reasons
# is the explanation: one array per part, [kind, item_ids, themes, item_kinds] with empty
# arrays at the end left out (["popular"], ["because_visited", [12]], ["interest", [],
# ["musik"]]). Arrays instead of objects with long keys: under a third of the JSON text and
# half the time for PostgreSQL to write it (docs/discovery.md, "Precomputed lists").
# What a pick rests on (history, interests, popular) is the list's `basis`.


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored pick, read back."""

    item: int
    occurrence: int
    score: float
    relevance: float
    novelty: float
    parts: tuple[rerank.ExplanationPart, ...]

    def recommendation(self, basis: str) -> Recommendation:
        """The pick as the library's `Recommendation`."""
        return Recommendation(
            item=str(self.item),
            score=self.score,
            relevance=self.relevance,
            novelty=self.novelty,
            basis=basis,
            explanation=self.parts,
        )


def reasons_json(parts: Iterable[rerank.ExplanationPart]) -> str:
    """An explanation in its stored form, as JSON text."""
    out = []
    for part in parts:
        fields: list[Any] = [
            part.kind,
            [int(i) for i in part.item_ids],
            list(part.themes),
            list(part.item_kinds),
        ]
        while len(fields) > 1 and not fields[-1]:
            fields.pop()
        out.append(fields)
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def entry_head(item_id: str, occurrence_id: int) -> str:
    """The start of a pick's JSON text, the same in every list that holds the pick."""
    return f"[{int(item_id)},{int(occurrence_id)},"


# The JSON text of every figure from 0 to 1 at DIGITS decimals, as `repr` writes it.
_UNIT_TEXTS = np.array(
    [repr(v) for v in (np.arange(10**DIGITS + 1) / 10**DIGITS).tolist()], dtype=object
)


def lists_json(
    *,
    heads: Sequence[str],
    picks: np.ndarray,
    scores: np.ndarray,
    relevance: np.ndarray,
    novelty: np.ndarray,
    reasons: np.ndarray,
    explanations: Sequence[str],
) -> list[str]:
    """Lists as `StoredList.items` holds them, one per row of the arrays (users x k):
    `picks` index `heads` (`entry_head` of each candidate; -1: no pick), `reasons` index
    `explanations` (`reasons_json` of each). Relevance and novelty lie in 0..1.

    Everything but one string format per pick is done per array: the rounding, and the
    text of relevance and novelty looked up rather than written (a batch formats two
    million picks)."""

    # np.round(x, DIGITS) is rint(x * 10**DIGITS) / 10**DIGITS: the same figures.
    def unit(values: np.ndarray) -> list[Any]:
        index = np.rint(np.clip(values, 0.0, 1.0) * 10**DIGITS).astype(np.int64)
        return _UNIT_TEXTS[index].tolist()

    rows = zip(
        picks.tolist(),
        np.round(scores, DIGITS).tolist(),
        unit(relevance),
        unit(novelty),
        reasons.tolist(),
        strict=True,
    )
    return [
        "["
        + ",".join(
            [
                f"{heads[j]}{score!r},{rel},{nov},{explanations[n]}]"
                for j, score, rel, nov, n in zip(*row, strict=True)
                if j >= 0
            ]
        )
        + "]"
        for row in rows
    ]


def recommendations_json(recs: Sequence[Recommendation], occurrences: Mapping[str, int]) -> str:
    """Picks as `StoredList.items` holds them; `occurrences` maps their item ids to the
    date each is recommended for."""
    count = len(recs)
    return lists_json(
        heads=[entry_head(r.item, occurrences[r.item]) for r in recs],
        picks=np.arange(count)[None, :],
        scores=np.array([[r.score for r in recs]]).reshape(1, count),
        relevance=np.array([[r.relevance for r in recs]]).reshape(1, count),
        novelty=np.array([[r.novelty for r in recs]]).reshape(1, count),
        reasons=np.arange(count)[None, :],
        explanations=[reasons_json(r.explanation) for r in recs],
    )[0]


def _part(fields: Sequence[Any]) -> rerank.ExplanationPart:
    kind, item_ids, themes, item_kinds = (*fields, [], [], [])[:4]
    return rerank.ExplanationPart(
        kind=str(kind),
        item_ids=tuple(str(i) for i in item_ids),
        themes=tuple(str(t) for t in themes),
        item_kinds=tuple(str(k) for k in item_kinds),
    )


def entries_of(items: Any) -> list[Entry] | None:
    """A stored list read back, or None when it is not in this form (written by an older
    version: the next batch rewrites it, the live path answers meanwhile)."""
    try:
        return [
            Entry(
                item=int(item),
                occurrence=int(occurrence),
                score=float(score),
                relevance=float(relevance),
                novelty=float(novelty),
                parts=tuple(_part(fields) for fields in reasons),
            )
            for item, occurrence, score, relevance, novelty, reasons in items
        ]
    except (TypeError, ValueError):
        return None


def interests_key(slugs: Iterable[str]) -> str:
    """Stated interests as `StoredList.interests` holds them: slugs sorted, joined by ","."""
    return ",".join(sorted(slugs))


# --- marks ---------------------------------------------------------------------------------


def newest_history_id(*, organisation: Organisation) -> int:
    """The id of the organisation's newest visit, booking or cancellation (0: none)."""
    found = Interaction.objects.filter(organisation=organisation, kind__in=HISTORY_KINDS).aggregate(
        last=Max("id")
    )["last"]
    return int(found or 0)


def history_marks(
    *,
    organisation: Organisation,
    contact_ids: Iterable[int] | None = None,
    up_to: int | None = None,
) -> dict[int, int]:
    """Contact id -> id of their newest visit, booking or cancellation; contacts without
    one are left out. `up_to`: only entries with an id up to this."""
    rows = Interaction.objects.filter(organisation=organisation, kind__in=HISTORY_KINDS)
    if contact_ids is not None:
        rows = rows.filter(contact_id__in=list(contact_ids))
    if up_to is not None:
        rows = rows.filter(id__lte=up_to)
    return dict(
        rows.values("contact_id").annotate(last=Max("id")).values_list("contact_id", "last")
    )


def stale_contacts(*, organisation: Organisation, after: int, limit: int) -> list[int]:
    """Contacts (not erased) with a visit, booking or cancellation newer than the entry
    `after` whose list does not know it yet (another mark, or no list); at most `limit`,
    in id order. One query, over the entries since `after` only."""
    listed = StoredList.objects.filter(contact_id=OuterRef("contact_id")).values("history_mark")
    rows = (
        Interaction.objects.filter(
            organisation=organisation,
            kind__in=HISTORY_KINDS,
            id__gt=after,
            contact__erased_at__isnull=True,
        )
        .values("contact_id")
        .annotate(last=Max("id"), listed=Subquery(listed[:1]))
        .filter(Q(listed__isnull=True) | ~Q(listed=F("last")))
        .order_by("contact_id")
        .values_list("contact_id", flat=True)
    )
    return list(rows[:limit])


def _current_mark() -> Coalesce:
    newest = (
        Interaction.objects.filter(contact_id=OuterRef("contact_id"), kind__in=HISTORY_KINDS)
        .order_by("-id")
        .values("id")[:1]
    )
    return Coalesce(Subquery(newest), 0)


# --- reading one back ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAnswer:
    """A fresh stored list, cut to the request: the picks in rank order, what they rest on,
    the date of each pick and the titles of the picks and of the past items the
    explanations name (item id -> slug, German title, English title)."""

    basis: str
    recs: list[Recommendation]
    dates: dict[str, tuple[int, datetime]]
    titles: dict[str, tuple[str, str, str]]


def _fresh(
    row: Mapping[str, Any], organisation: Organisation, horizon: float, interests: str
) -> bool:
    """Not empty, at this horizon, for these interests, after the contact's newest history
    entry, on the current programme (checked last: it costs two aggregates)."""
    return (
        bool(row["items"])
        and abs(row["horizon"] - horizon) <= HORIZON_TOLERANCE
        and row["interests"] == interests
        and row["history_mark"] == row["current_mark"]
        and row["programme_version"] == programme_version(organisation=organisation)
    )


def stored_answer(
    *,
    organisation: Organisation,
    contact_id: int,
    horizon: float,
    limit: int,
    interests: str,
    now: datetime | None = None,
) -> StoredAnswer | None:
    """The contact's stored list cut to `limit`, or None when the request must be computed
    live: no list, another horizon, a limit beyond the list, a programme, history or stated
    interests (`interests_key` of the contact's current ones) that changed since, or too
    few of its dates still ahead.

    Dates that began since the batch (or were cancelled or sold out) are dropped here; when
    that leaves fewer than `limit` picks of a full list, None (the live path answers).
    An empty list is None too: the live path says why it is empty. Costs five queries (the
    list with the contact's current mark, the programme version's two aggregates, the
    dates, the titles) and no fitted model.
    """
    if limit > LIST_LENGTH:
        return None
    row = (
        StoredList.objects.filter(organisation=organisation, contact_id=contact_id)
        .annotate(current_mark=_current_mark())
        .values(
            "horizon",
            "basis",
            "items",
            "programme_version",
            "history_mark",
            "interests",
            "current_mark",
        )
        .first()
    )
    if row is None or not _fresh(row, organisation, horizon, interests):
        return None
    entries = entries_of(row["items"])
    if entries is None:
        return None
    now = now or timezone.now()
    ahead = dict(
        Occurrence.objects.filter(
            organisation=organisation,
            pk__in=[e.occurrence for e in entries],
            status=OccurrenceStatus.SCHEDULED,
            starts_at__gt=now,
        ).values_list("pk", "starts_at")
    )
    kept = [e for e in entries if e.occurrence in ahead]
    # A list shorter than LIST_LENGTH holds everything that fits: any limit gets all of it.
    complete = len(entries) < LIST_LENGTH and len(kept) == len(entries)
    if len(kept) < limit and not complete:
        return None
    kept = kept[:limit]
    basis = str(row["basis"])
    recs = [e.recommendation(basis) for e in kept]
    wanted = {rec.item for rec in recs} | {
        i for rec in recs for part in rec.explanation for i in part.item_ids
    }
    titles = {
        str(pk): (slug, title_de, title_en or title_de)
        for pk, slug, title_de, title_en in ProgrammeItem.objects.filter(
            organisation=organisation, pk__in=[int(i) for i in wanted]
        ).values_list("pk", "slug", "title_de", "title_en")
    }
    if any(rec.item not in titles for rec in recs):
        return None  # an item deleted since: the programme version says so too
    return StoredAnswer(
        basis=basis,
        recs=recs,
        dates={str(e.item): (e.occurrence, ahead[e.occurrence]) for e in kept},
        titles=titles,
    )
