"""Recommendations from an organisation's own data: the Django side of the discovery library.

The library (`recommender`, `rerank`) works on plain data. This module builds that data
from the organisation's rows, fits one model per organisation, keeps it in this process and
serves one contact at a time to the API (`discovery.api`) and the contact page:

- past items: programme items with a date that has begun, or with visits or bookings;
- interactions: visits (weight 2) and bookings (weight 1, minus cancellations) of contacts
  that were not erased; a visit weighs more because it shows the person came;
- candidates: published, bookable items with a scheduled date ahead, one per item (its next
  date);
- the person: the contact's stated interests and language.

The fitted model lives in a process-local cache, one entry per organisation. An entry is
refitted when the programme changes (`programme.selectors.programme_version`), when it is
older than `CACHE_TTL_SECONDS`, or when visits or bookings were added and it is older than
`MIN_REFIT_SECONDS`; until then a contact whose timeline changed is served from their
current history (`Model.recommend(history=...)`), so one busy evening of bookings does not
refit on every request.

A request is first answered from the contact's precomputed list (`discovery.stored`,
written by the worker's `discovery.precompute`) when that is fresh and long enough; the
fitted model here serves the rest (`ContactRecommendations.source` says which answered).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from publikum.audience.models import Contact, Interaction, InteractionKind
from publikum.core.errors import DomainError, NotFound, ValidationFailed
from publikum.core.models import Organisation
from publikum.discovery import rerank, stored
from publikum.discovery.data import Interaction as Visit
from publikum.discovery.data import Item, Person
from publikum.discovery.models import DEFAULT_HORIZON, DiscoverySettings
from publikum.discovery.recommender import (
    BASIS_HISTORY,
    BASIS_INTERESTS,
    BASIS_POPULAR,
    CandidateSet,
    Model,
    ModelConfig,
    Recommendation,
    fit,
)
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
    Theme,
)
from publikum.programme.selectors import programme_version, zone_of

logger = logging.getLogger(__name__)

VISIT_WEIGHT = 2.0
BOOKING_WEIGHT = 1.0
PAGE_LIMIT = 5
MAX_LIMIT = 50
# A fitted model is used at most this long, whatever changed.
CACHE_TTL_SECONDS = 600.0
# New visits or bookings refit the model only when it is at least this old; meanwhile the
# contact's own history is read live.
MIN_REFIT_SECONDS = 60.0
LANGUAGES = ("de", "en")
HISTORY_KINDS = (
    InteractionKind.VISIT,
    InteractionKind.BOOKING,
    InteractionKind.BOOKING_CANCELLED,
)


# --- what the API and the contact page get ------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """Why an item was picked: the parts as data, the sentences in German and English."""

    parts: tuple[rerank.ExplanationPart, ...]
    texts: dict[str, str]

    def text(self, language: str) -> str:
        return self.texts.get(language, self.texts["en"])


@dataclass(frozen=True)
class RecommendedDate:
    """One recommended item with the date it is recommended for (its next one)."""

    item_id: int
    slug: str
    title: str
    occurrence_id: int
    starts_at: datetime  # in the organisation's time zone
    score: float
    relevance: float
    novelty: float
    explanation: Explanation
    text: str  # the explanation in the list's language


@dataclass(frozen=True)
class ContactRecommendations:
    """The list for one contact. `basis` is what it rests on (history, interests, popular);
    `note` says in `language` why the list is short, empty or a fallback ("" otherwise);
    `source` which path answered: "stored" (the worker's precomputed list) or "live"."""

    contact_id: int
    horizon: float
    basis: str
    language: str
    note: str
    items: list[RecommendedDate]
    source: str = stored.SOURCE_LIVE


# --- the organisation's data as the library's input ---------------------------------------


@dataclass(frozen=True)
class UpcomingDate:
    occurrence_id: int
    starts_at: datetime


@dataclass
class HouseInputs:
    """What `fit` and `prepare` need, plus what turns ids back into titles and dates."""

    items: list[Item]  # the catalogue: past and upcoming items, each once
    interactions: list[Visit]
    candidates: list[Item]  # upcoming items, one per item
    dates: dict[str, UpcomingDate]  # item id -> the date it is recommended for
    titles: dict[str, tuple[str, str, str]]  # item id -> (slug, German title, English title)


def _net_weights(rows: Iterable[dict[str, Any]]) -> dict[tuple[int, int], float]:
    """(contact, item) -> visits x 2 + bookings - cancellations; only positive weights."""
    out: dict[tuple[int, int], float] = {}
    for row in rows:
        weight = (
            VISIT_WEIGHT * row["visits"]
            + BOOKING_WEIGHT * row["bookings"]
            - BOOKING_WEIGHT * row["cancelled"]
        )
        if weight > 0:
            out[(row["contact_id"], row["item_id"])] = float(weight)
    return out


def _history_rows(queryset: QuerySet[Interaction]) -> QuerySet[Any, dict[str, Any]]:
    """Per contact and item: visits, bookings, cancellations and the last of them."""
    return (
        queryset.filter(kind__in=HISTORY_KINDS, item__isnull=False)
        .values("contact_id", "item_id")
        .annotate(
            visits=Count("id", filter=Q(kind=InteractionKind.VISIT)),
            bookings=Count("id", filter=Q(kind=InteractionKind.BOOKING)),
            cancelled=Count("id", filter=Q(kind=InteractionKind.BOOKING_CANCELLED)),
            last=Max("occurred_at"),
        )
        .order_by()
    )


def house_inputs(*, organisation: Organisation, now: datetime | None = None) -> HouseInputs:
    """Read the organisation's programme and visits into the library's plain data."""
    now = now or timezone.now()
    zone = zone_of(organisation)
    rows = list(
        _history_rows(
            Interaction.objects.filter(organisation=organisation, contact__erased_at__isnull=True)
        )
    )
    weights = _net_weights(rows)
    last_seen: dict[tuple[int, int], datetime] = {
        (r["contact_id"], r["item_id"]): r["last"] for r in rows
    }
    interacted = {item for _, item in weights}

    dates: dict[str, UpcomingDate] = {}
    upcoming = (
        Occurrence.objects.filter(
            organisation=organisation,
            starts_at__gt=now,
            status=OccurrenceStatus.SCHEDULED,
            item__published=True,
            item__bookable=True,
        )
        .order_by("item_id", "starts_at", "id")
        .values_list("item_id", "id", "starts_at")
    )
    for item_id, occurrence_id, starts_at in upcoming:
        dates.setdefault(str(item_id), UpcomingDate(occurrence_id, starts_at))

    items = (
        ProgrammeItem.objects.filter(organisation=organisation)
        .annotate(
            last_start=Max("occurrences__starts_at", filter=Q(occurrences__starts_at__lte=now))
        )
        .select_related("venue")
        .prefetch_related("themes")
        .order_by("pk")
    )
    catalogue: list[Item] = []
    candidates: list[Item] = []
    titles: dict[str, tuple[str, str, str]] = {}
    for row in items:
        key = str(row.pk)
        if row.last_start is None and key not in dates and row.pk not in interacted:
            continue  # a draft without dates: nothing to learn from, nothing to offer
        upcoming_date = dates.get(key)
        starts = upcoming_date.starts_at if upcoming_date else row.last_start
        venue = row.venue.name_de if row.venue else ""
        item = Item(
            id=key,
            title=row.title_de,
            themes=tuple(sorted(t.slug for t in row.themes.all())),
            kind=row.kind,
            # Local time: "evening" and "weekend" are the house's, not UTC's.
            starts_at=timezone.localtime(starts, zone) if starts else None,
            # Both languages and the venue: words shared by items tie them together.
            description=" ".join(
                s
                for s in (
                    row.title_en,
                    row.summary_de,
                    row.summary_en,
                    row.description_de,
                    row.description_en,
                    venue,
                )
                if s
            ),
            target_groups=tuple(row.target_groups or ()),
            accessibility=tuple(row.accessibility or ()),
        )
        catalogue.append(item)
        titles[key] = (row.slug, row.title_de, row.title_en or row.title_de)
        if upcoming_date is not None:
            candidates.append(item)

    known = {int(item.id) for item in catalogue}
    interactions = [
        Visit(
            user=str(contact_id),
            item=str(item_id),
            timestamp=last_seen[(contact_id, item_id)].timestamp(),
            weight=weight,
        )
        for (contact_id, item_id), weight in weights.items()
        if item_id in known
    ]
    return HouseInputs(
        items=catalogue,
        interactions=interactions,
        candidates=candidates,
        dates=dates,
        titles=titles,
    )


def contact_history(*, contact: Contact) -> list[str]:
    """The past item ids of the contact's visits and (not cancelled) bookings, read now."""
    weights = _net_weights(_history_rows(Interaction.objects.filter(contact=contact)))
    return [str(item) for _, item in sorted(weights)]


def person_of(contact: Contact) -> Person:
    """What the contact told the house: stated interests (theme slugs) and language."""
    return Person(
        stated_interests=tuple(sorted(t.slug for t in contact.interests.all())),
        language=contact.language,
    )


# --- one fitted model per organisation, in this process ------------------------------------


def _interactions_version(organisation: Organisation) -> tuple[int, int]:
    figures = Interaction.objects.filter(
        organisation=organisation, kind__in=HISTORY_KINDS
    ).aggregate(n=Count("id"), last=Max("id"))
    return int(figures["n"] or 0), int(figures["last"] or 0)


@dataclass
class FittedHouse:
    """A model with its prepared programme; `model` is None when there is nothing to offer."""

    # The organisation's pk and creation time: a reused pk (a restored database, tests)
    # is another house.
    owner: tuple[int, datetime]
    programme_version: str
    interactions_version: tuple[int, int]
    fitted_at: float  # time.monotonic()
    model: Model | None
    programme: CandidateSet | None
    dates: dict[str, UpcomingDate]
    titles: dict[str, tuple[str, str, str]]
    fit_seconds: float = 0.0


_cache: dict[int, FittedHouse] = {}
_cache_lock = threading.Lock()
_fit_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


def _usable(
    entry: FittedHouse | None,
    organisation: Organisation,
    programme: str,
    interactions: tuple[int, int],
    now: float,
) -> bool:
    if entry is None or entry.owner != (organisation.pk, organisation.created_at):
        return False
    age = now - entry.fitted_at
    if entry.programme_version != programme or age >= CACHE_TTL_SECONDS:
        return False
    return entry.interactions_version == interactions or age < MIN_REFIT_SECONDS


def fitted_house(
    *, organisation: Organisation, interactions: tuple[int, int] | None = None
) -> FittedHouse:
    """The organisation's fitted model: from this process's cache, or fitted now.

    Two requests that both find the model stale fit it once: the second waits for the
    first. The checks cost three aggregate queries; `interactions` is the current
    `_interactions_version` when the caller has it.
    """
    programme = programme_version(organisation=organisation)
    if interactions is None:
        interactions = _interactions_version(organisation)
    with _cache_lock:
        entry = _cache.get(organisation.pk)
        fit_lock = _fit_locks[organisation.pk]
    if _usable(entry, organisation, programme, interactions, time.monotonic()):
        assert entry is not None
        return entry
    with fit_lock:
        with _cache_lock:
            entry = _cache.get(organisation.pk)
        if _usable(entry, organisation, programme, interactions, time.monotonic()):
            assert entry is not None
            return entry
        entry = _fit_house(organisation, programme, interactions)
        with _cache_lock:
            _cache[organisation.pk] = entry
        return entry


def _fit_house(
    organisation: Organisation, programme: str, interactions: tuple[int, int]
) -> FittedHouse:
    started = time.perf_counter()
    inputs = house_inputs(organisation=organisation)
    model: Model | None = None
    prepared: CandidateSet | None = None
    if inputs.candidates:
        model = fit(inputs.interactions, inputs.items, ModelConfig())
        prepared = model.prepare(inputs.candidates)
    return FittedHouse(
        owner=(organisation.pk, organisation.created_at),
        programme_version=programme,
        interactions_version=interactions,
        fitted_at=time.monotonic(),
        model=model,
        programme=prepared,
        dates=inputs.dates,
        titles=inputs.titles,
        fit_seconds=time.perf_counter() - started,
    )


def cache_clear() -> None:
    """Forget every fitted model of this process (tests; after restoring a database)."""
    with _cache_lock:
        _cache.clear()


# --- serving one contact ------------------------------------------------------------------


def _contact(organisation: Organisation, contact_id: int) -> Contact:
    contact = (
        Contact.objects.filter(organisation=organisation, pk=contact_id, erased_at__isnull=True)
        .prefetch_related("interests")
        .first()
    )
    if contact is None:
        raise NotFound("No contact with this id.")
    return contact


def _names(organisation: Organisation) -> dict[str, dict[str, str]]:
    themes = Theme.objects.filter(organisation=organisation).values_list(
        "slug", "name_de", "name_en"
    )
    out: dict[str, dict[str, str]] = {"de": {}, "en": {}}
    for slug, name_de, name_en in themes:
        out["de"][slug] = name_de
        out["en"][slug] = name_en or name_de
    return out


def _kind_names(language: str) -> dict[str, str]:
    with translation.override(language):
        return {str(value): str(label) for value, label in ItemKind.choices}


def _note(basis: str, *, empty_programme: bool, found: int) -> str:
    if empty_programme:
        return _("There are no upcoming bookable dates to recommend.")
    if found == 0:
        return _("Nothing in the upcoming programme fits well enough to recommend.")
    if basis == BASIS_INTERESTS:
        return _("No visits or bookings yet: chosen from the stated interests.")
    if basis == BASIS_POPULAR:
        return _("No visits, bookings or stated interests yet: a varied choice of what is popular.")
    return ""


def discovery_settings_of(*, organisation: Organisation) -> DiscoverySettings:
    """The organisation's discovery settings, created with the defaults on first use."""
    found, _created = DiscoverySettings.objects.get_or_create(organisation=organisation)
    return found


def house_horizon(*, organisation: Organisation) -> float:
    """The organisation's dial: the horizon of every list that does not name its own."""
    value = (
        DiscoverySettings.objects.filter(organisation=organisation)
        .values_list("horizon", flat=True)
        .first()
    )
    return DEFAULT_HORIZON if value is None else float(value)


def discovery_settings_update(*, organisation: Organisation, horizon: float) -> DiscoverySettings:
    """Set the house's dial (0..1; ValidationFailed otherwise). The precomputed lists were
    made at the old dial: a new batch is wanted."""
    horizon = rerank.check_horizon(horizon)
    with transaction.atomic():
        found = discovery_settings_of(organisation=organisation)
        found = DiscoverySettings.objects.select_for_update().get(pk=found.pk)
        found.horizon = horizon
        found.wanted_at = timezone.now()
        found.save(update_fields=["horizon", "wanted_at"])
    return found


def contact_recommendations(
    *,
    organisation: Organisation,
    contact_id: int,
    limit: int = 10,
    horizon: float | None = None,
    language: str | None = None,
) -> ContactRecommendations:
    """Up to `limit` upcoming items for a contact of `organisation`, each with its next date
    and an explanation; titles and the note in `language` (default: the contact's).
    `horizon` None: the house's dial.

    Raises NotFound for an unknown or erased contact or one of another organisation, and
    ValidationFailed for a horizon outside 0..1 or a limit outside 1..50.
    """
    if horizon is not None:
        horizon = rerank.check_horizon(horizon)
    _check_limit(limit)
    contact = _contact(organisation, contact_id)
    return recommendations_for(
        organisation=organisation,
        contact=contact,
        limit=limit,
        horizon=horizon,
        language=language,
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"The limit must be between 1 and {MAX_LIMIT}, not {limit}.",
            fields={"limit": [f"between 1 and {MAX_LIMIT}"]},
        )


def recommendations_for(
    *,
    organisation: Organisation,
    contact: Contact,
    limit: int = 10,
    horizon: float | None = None,
    language: str | None = None,
) -> ContactRecommendations:
    """`contact_recommendations` for a contact already loaded (mail rendering, the contact
    page): the caller made sure it belongs to `organisation` and was not erased.
    `horizon` None: the house's dial.

    Answered from the contact's precomputed list when it is fresh and long enough
    (`stored.stored_answer`), else computed live from the fitted model.
    """
    horizon = (
        house_horizon(organisation=organisation)
        if horizon is None
        else rerank.check_horizon(horizon)
    )
    _check_limit(limit)
    language = language if language in LANGUAGES else contact.language
    if language not in LANGUAGES:
        language = "de"
    person = person_of(contact)
    answer = stored.stored_answer(
        organisation=organisation,
        contact_id=contact.pk,
        horizon=horizon,
        limit=limit,
        interests=stored.interests_key(person.stated_interests),
    )
    if answer is not None:
        return _from_stored(organisation, contact, answer, horizon=horizon, language=language)
    interactions = _interactions_version(organisation)
    house = fitted_house(organisation=organisation, interactions=interactions)
    user = str(contact.pk)

    history: list[str] | None = None
    if house.model is None or house.interactions_version != interactions:
        # Visits or bookings since the fit: this contact's own are read now (and without a
        # programme, to say what the list would rest on).
        history = contact_history(contact=contact)
    has_history = (
        bool(history)
        if history is not None
        else house.model is not None and user in house.model.user_index
    )
    basis = (
        BASIS_HISTORY
        if has_history
        else BASIS_INTERESTS
        if person.stated_interests
        else BASIS_POPULAR
    )

    picks: list[RecommendedDate] = []
    if house.model is not None and house.programme is not None:
        now = timezone.now()
        # Dates that began since the fit are dropped: ask for that many more.
        started = {key for key, date in house.dates.items() if date.starts_at <= now}
        recs = house.model.recommend(
            user,
            house.programme,
            k=limit + len(started) + len(history or ()),
            horizon=horizon,
            person=person,
            history=history,
        )
        # ... and what the contact booked since the fit, which the model does not know yet.
        skip = started | set(history or ())
        recs = [r for r in recs if r.item not in skip][:limit]
        if recs:
            basis = recs[0].basis
        picks = _presented(
            organisation, recs, titles=house.titles, dates=house.dates, language=language
        )
    with translation.override(language):
        note = _note(basis, empty_programme=house.model is None, found=len(picks))
    return ContactRecommendations(
        contact_id=contact.pk,
        horizon=horizon,
        basis=basis,
        language=language,
        note=note,
        items=picks,
        source=stored.SOURCE_LIVE,
    )


def _from_stored(
    organisation: Organisation,
    contact: Contact,
    answer: stored.StoredAnswer,
    *,
    horizon: float,
    language: str,
) -> ContactRecommendations:
    picks = _presented(
        organisation,
        answer.recs,
        titles=answer.titles,
        dates={key: UpcomingDate(*date) for key, date in answer.dates.items()},
        language=language,
    )
    with translation.override(language):
        note = _note(answer.basis, empty_programme=False, found=len(picks))
    return ContactRecommendations(
        contact_id=contact.pk,
        horizon=horizon,
        basis=answer.basis,
        language=language,
        note=note,
        items=picks,
        source=stored.SOURCE_STORED,
    )


def _presented(
    organisation: Organisation,
    recs: list[Recommendation],
    *,
    titles: dict[str, tuple[str, str, str]],
    dates: dict[str, UpcomingDate],
    language: str,
) -> list[RecommendedDate]:
    """The picks with titles, dates and explanations; `titles` must hold the picks and the
    past items their explanations name, `dates` the picks."""
    if not recs:
        return []
    zone = zone_of(organisation)
    theme_names = _names(organisation)
    kind_names = {lang: _kind_names(lang) for lang in LANGUAGES}
    out: list[RecommendedDate] = []
    for rec in recs:
        slug, title_de, title_en = titles[rec.item]
        date = dates[rec.item]
        anchors = {i for part in rec.explanation for i in part.item_ids if i in titles}
        anchor_titles = {
            lang: {i: titles[i][1 + LANGUAGES.index(lang)] for i in anchors} for lang in LANGUAGES
        }
        texts = {
            lang: rerank.render_explanation(
                rec.explanation,
                lang,
                titles=anchor_titles[lang],
                theme_names=theme_names[lang],
                kind_names=kind_names[lang],
            )
            for lang in LANGUAGES
        }
        out.append(
            RecommendedDate(
                item_id=int(rec.item),
                slug=slug,
                title=title_en if language == "en" else title_de,
                occurrence_id=date.occurrence_id,
                starts_at=timezone.localtime(date.starts_at, zone),
                score=rec.score,
                relevance=rec.relevance,
                novelty=rec.novelty,
                explanation=Explanation(parts=rec.explanation, texts=texts),
                text=texts[language],
            )
        )
    return out


# --- the contact page ---------------------------------------------------------------------


@dataclass(frozen=True)
class PageSection:
    """What the "For you" section of the contact page shows: a list or a short message."""

    result: ContactRecommendations | None
    message: str


def contact_page_section(
    *, organisation: Organisation, contact: Contact, language: str
) -> PageSection:
    """Up to five recommendations for the staff contact page, in the staff member's language.

    The section is an aside of the page: whatever goes wrong in it becomes a short message
    (and a log entry with the cause), never an error page.
    """
    with translation.override(language):  # the messages, in the language asked for
        if contact.erased_at is not None:
            return PageSection(None, _("This person was erased: nothing to recommend."))
        try:
            result = contact_recommendations(
                organisation=organisation,
                contact_id=contact.pk,
                limit=PAGE_LIMIT,
                horizon=None,
                language=language,
            )
        except DomainError as exc:
            logger.warning("No recommendations for contact %s: %s", contact.pk, exc.message)
            return PageSection(None, _("Recommendations are not available: %s") % exc.message)
        except Exception:
            # An aside must not take the page down; the log keeps the cause for a fix.
            logger.exception("Recommendations for contact %s failed", contact.pk)
            return PageSection(None, _("Recommendations are not available at the moment."))
        return PageSection(result, result.note)
