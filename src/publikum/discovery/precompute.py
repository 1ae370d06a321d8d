"""The worker's batch: every contact's list at the house's dial, stored for serving.

`lists_precompute` fits the organisation's model on its current data and writes one
`StoredList` per contact that was not erased (the top `stored.LIST_LENGTH` at the house's
horizon), in chunks: the model ranks and explains a chunk as arrays
(`Model.explained_batch`), `stored.lists_json` turns those into the lists' JSON and
`stored_write` upserts the chunk (on PostgreSQL while the next chunk is computed).
`lists_refresh_contacts` rewrites the lists of a few contacts whose visits or bookings
changed, from their history read now and the model of the last batch (no refit).
`lists_due` says which of the two an organisation needs; `discovery.tasks` asks it every
two minutes.

Three things in a list are fixed when it is written and checked when it is read
(`stored.stored_answer`): the programme version, the contact's history mark and their
stated interests. The first two are read *before* the data the model learns from, so a list
never claims to know a visit it did not see: at worst it is stale a little early and the
live path answers. The interests are read with the persons the model is told about, so a
list is marked with the interests it was made for. A change of interests alone does not
make the periodic check act: that contact is answered live until the next batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from threadpoolctl import threadpool_limits

from publikum.audience.models import Contact, Interaction
from publikum.core.models import Organisation
from publikum.discovery import services, stored
from publikum.discovery.data import Person
from publikum.discovery.models import DiscoverySettings, StoredList
from publikum.discovery.recommender import (
    BASIS_HISTORY,
    BASIS_INTERESTS,
    BASIS_POPULAR,
    CandidateSet,
    Model,
    ModelConfig,
    Reasons,
    Recommendation,
    fit,
)
from publikum.discovery.recommender.explain import BASIS_NAMES
from publikum.discovery.stored_write import ListRow, ListsWriter, lists_write
from publikum.programme.selectors import programme_version

logger = logging.getLogger(__name__)

# Contacts scored and written per round: bounds the memory of the batch.
CHUNK = 4096
# A full batch at the latest after this long: the model learns the day's visits, stated
# interests that changed and dates that began are taken in.
MAX_AGE = timedelta(hours=24)
# More contacts with new history than this (or than this share of the stored lists) and
# the whole batch runs instead of a refresh.
REFRESH_MAX = 500
REFRESH_SHARE = 0.05


@dataclass(frozen=True)
class PrecomputeReport:
    """What one batch did and what it cost (seconds, wall clock). `recommend_seconds`:
    ranking, explaining and the lists' JSON; `write_seconds`: the upserts, which on
    PostgreSQL overlap the next chunk's computation (so the parts add up to more than
    `seconds` there)."""

    organisation_id: int
    contacts: int  # lists written
    removed: int  # lists of erased contacts deleted
    horizon: float
    programme_version: str
    history_mark: int
    candidates: int
    fit_seconds: float
    recommend_seconds: float
    write_seconds: float
    seconds: float


@dataclass
class _BatchModel:
    """The model of this process's last batch for one organisation, reused by refreshes."""

    owner: tuple[int, datetime]
    programme_version: str
    model: Model | None
    programme: CandidateSet | None
    dates: dict[str, services.UpcomingDate]


_models: dict[int, _BatchModel] = {}
_models_lock = threading.Lock()


def models_clear() -> None:
    """Forget the batch models of this process (tests)."""
    with _models_lock:
        _models.clear()


def _fit(organisation: Organisation, programme: str, now: datetime) -> _BatchModel:
    inputs = services.house_inputs(organisation=organisation, now=now)
    model: Model | None = None
    prepared: CandidateSet | None = None
    if inputs.candidates:
        model = fit(inputs.interactions, inputs.items, ModelConfig())
        prepared = model.prepare(inputs.candidates)
    found = _BatchModel(
        owner=(organisation.pk, organisation.created_at),
        programme_version=programme,
        model=model,
        programme=prepared,
        dates=inputs.dates,
    )
    with _models_lock:
        _models[organisation.pk] = found
    return found


def _persons(
    organisation: Organisation, contact_ids: Sequence[int] | None = None
) -> dict[int, Person]:
    """Stated interests and language of the organisation's contacts that were not erased,
    as `services.person_of` reads them for one contact."""
    contacts = Contact.objects.filter(organisation=organisation, erased_at__isnull=True)
    links = Contact.interests.through.objects.filter(
        contact__organisation=organisation, contact__erased_at__isnull=True
    )
    if contact_ids is not None:
        contacts = contacts.filter(pk__in=contact_ids)
        links = links.filter(contact_id__in=contact_ids)
    interests: defaultdict[int, list[str]] = defaultdict(list)
    for contact_id, slug in links.values_list("contact_id", "theme__slug"):
        interests[contact_id].append(slug)
    return {
        pk: Person(stated_interests=tuple(sorted(interests.get(pk, ()))), language=language)
        for pk, language in contacts.order_by("pk").values_list("pk", "language")
    }


def _that_matter(persons: dict[int, Person], candidates: CandidateSet | None) -> dict[str, Person]:
    """The persons the model must be told about, by user id. Telling it costs a loop over
    the programme per person (practical fit), so a person with nothing that would change
    their list is left out: no stated interests, and a language that no candidate has
    (items have no language of their own yet). The lists come out the same."""
    languages = (
        {item.language for item in candidates.items if item.language} if candidates else set()
    )
    out: dict[str, Person] = {}
    for pk, person in persons.items():
        language = person.language if person.language in languages else ""
        if person.stated_interests or language or person.needs or person.target_groups:
            out[str(pk)] = Person(
                stated_interests=person.stated_interests,
                language=language,
                needs=person.needs,
                target_groups=person.target_groups,
            )
    return out


def _basis(picked: str, *, has_history: bool, person: Person) -> str:
    """What a list rests on: its picks say (`picked`, "" for none); an empty list, what the
    person offers (as the live path says it)."""
    if picked:
        return picked
    if has_history:
        return BASIS_HISTORY
    return BASIS_INTERESTS if person.stated_interests else BASIS_POPULAR


@dataclass
class _Batch:
    """What the lists of one batch are made from, and how a chunk of them is made."""

    organisation: Organisation
    house: _BatchModel
    horizon: float
    marks: dict[int, int]
    persons: dict[int, Person]
    at: datetime
    # Built as the batch goes: the explanations met so far, as data and as JSON.
    reasons: Reasons | None = None
    reasons_text: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    told: dict[str, Person] = field(default_factory=dict)

    def __post_init__(self) -> None:
        model, candidates = self.house.model, self.house.programme
        self.told = _that_matter(self.persons, candidates)
        if model is not None and candidates is not None:
            self.reasons = Reasons(model, candidates)
            self.heads = [
                stored.entry_head(item.id, self.house.dates[item.id].occurrence_id)
                for item in candidates.items
            ]

    def rows(self, chunk: Sequence[int]) -> list[ListRow]:
        """The stored lists of these contacts."""
        model, candidates = self.house.model, self.house.programme
        lists: dict[str, tuple[str, str]] = {}  # user -> basis ("" for no picks), JSON
        if model is not None and candidates is not None and self.reasons is not None:
            for explained in model.explained_batch(
                [str(pk) for pk in chunk],
                candidates,
                k=stored.LIST_LENGTH,
                horizon=self.horizon,
                persons=self.told,
                reasons=self.reasons,
            ):
                self.reasons_text += map(
                    stored.reasons_json, self.reasons.parts[len(self.reasons_text) :]
                )
                texts = stored.lists_json(
                    heads=self.heads,
                    picks=explained.picks,
                    scores=explained.raw,
                    relevance=explained.relevance,
                    novelty=explained.novelty,
                    reasons=explained.reasons,
                    explanations=self.reasons_text,
                )
                picked = (explained.picks[:, 0] >= 0).tolist()
                for user, code, any_pick, text in zip(
                    explained.users, explained.basis.tolist(), picked, texts, strict=True
                ):
                    lists[user] = (BASIS_NAMES[code] if any_pick else "", text)
        known = model.user_index if model is not None else {}
        rows: list[ListRow] = []
        for pk in chunk:
            user, person = str(pk), self.persons[pk]
            basis, text = lists.get(user, ("", "[]"))
            rows.append(
                (
                    self.organisation.pk,
                    pk,
                    self.horizon,
                    _basis(basis, has_history=user in known, person=person),
                    text,
                    self.house.programme_version,
                    self.marks.get(pk, 0),
                    stored.interests_key(person.stated_interests),
                    self.at,
                )
            )
        return rows


def lists_precompute(
    *, organisation: Organisation, now: datetime | None = None
) -> PrecomputeReport:
    """Fit the organisation's model and store every contact's list at the house's dial.

    Contacts that were erased get no list (and lose the one they had). Afterwards the
    organisation's `DiscoverySettings` record what the batch rested on, and a `wanted_at`
    set before it started is cleared. Safe to run twice: the second run writes the same
    lists again.
    """
    started_at = timezone.now()
    now = now or started_at
    started = time.perf_counter()
    settings = services.discovery_settings_of(organisation=organisation)
    horizon = float(settings.horizon)
    # Read before the model's data (see the module's docstring).
    programme = programme_version(organisation=organisation)
    mark = stored.newest_history_id(organisation=organisation)
    marks = stored.history_marks(organisation=organisation, up_to=mark)
    house = _fit(organisation, programme, now)
    fit_seconds = time.perf_counter() - started
    persons = _persons(organisation)
    contact_ids = list(persons)
    batch = _Batch(
        organisation=organisation,
        house=house,
        horizon=horizon,
        marks=marks,
        persons=persons,
        at=started_at,
    )
    recommend_seconds = 0.0
    writer = ListsWriter()
    # One BLAS thread: the database takes the other core while it writes the lists, and a
    # chunk's products are too small to gain from two (measured: 2 s faster in all).
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            for start in range(0, len(contact_ids), CHUNK):
                clock = time.perf_counter()
                rows = batch.rows(contact_ids[start : start + CHUNK])
                recommend_seconds += time.perf_counter() - clock
                writer.write(rows)
        finally:
            writer.close()
    removed, _ = StoredList.objects.filter(
        organisation=organisation, contact__erased_at__isnull=False
    ).delete()
    seconds = time.perf_counter() - started
    DiscoverySettings.objects.filter(pk=settings.pk).update(
        computed_at=started_at,
        computed_horizon=horizon,
        computed_programme=programme,
        computed_interactions=str(mark),
        computed_contacts=len(contact_ids),
        compute_seconds=seconds,
    )
    # A change after the start (the dial moved again) keeps its wish: the next batch.
    DiscoverySettings.objects.filter(pk=settings.pk, wanted_at__lte=started_at).update(
        wanted_at=None
    )
    report = PrecomputeReport(
        organisation_id=organisation.pk,
        contacts=len(contact_ids),
        removed=removed,
        horizon=horizon,
        programme_version=programme,
        history_mark=mark,
        candidates=len(house.programme) if house.programme is not None else 0,
        fit_seconds=fit_seconds,
        recommend_seconds=recommend_seconds,
        write_seconds=writer.seconds,
        seconds=seconds,
    )
    logger.info(
        "discovery lists of organisation %s: %d contacts in %.1f s (fit %.1f s, lists %.1f s, "
        "write %.1f s)",
        organisation.pk,
        report.contacts,
        seconds,
        fit_seconds,
        recommend_seconds,
        writer.seconds,
    )
    return report


def _batch_model(organisation: Organisation, programme: str, now: datetime) -> _BatchModel:
    """The model of this process's last batch if it was fitted on this programme, else a
    model fitted now (a worker that restarted since the batch)."""
    with _models_lock:
        found = _models.get(organisation.pk)
    owner = (organisation.pk, organisation.created_at)
    if found is not None and found.owner == owner and found.programme_version == programme:
        return found
    return _fit(organisation, programme, now)


def lists_refresh_contacts(
    *, organisation: Organisation, contact_ids: Iterable[int], now: datetime | None = None
) -> int:
    """Rewrite the lists of a few contacts from their visits and bookings as they are now,
    with the model of the last batch; returns how many lists were written.

    Writes nothing while a full batch is due (the programme or the dial changed, or there
    never was a batch): that batch covers these contacts. Erased contacts and those of
    another organisation are skipped. Safe to run twice.
    """
    now = now or timezone.now()
    settings = services.discovery_settings_of(organisation=organisation)
    programme = programme_version(organisation=organisation)
    horizon = float(settings.horizon)
    if _full_reason(settings, programme, now) is not None:
        return 0
    persons = _persons(organisation, sorted(set(contact_ids)))
    if not persons:
        return 0
    # Read before the histories (see the module's docstring).
    marks = stored.history_marks(organisation=organisation, contact_ids=list(persons))
    entries = services._history_rows(Interaction.objects.filter(contact_id__in=list(persons)))
    histories: defaultdict[str, list[str]] = defaultdict(list)
    for contact_id, item_id in sorted(services._net_weights(entries)):
        histories[str(contact_id)].append(str(item_id))
    house = _batch_model(organisation, programme, now)
    users = [str(pk) for pk in persons]
    lists: dict[str, list[Recommendation]] = {}
    if house.model is not None and house.programme is not None:
        # As the live path: dates that began since the fit and what the contact booked
        # since are dropped, so ask for that many more.
        started = {key for key, date in house.dates.items() if date.starts_at <= now}
        longest = max((len(h) for h in histories.values()), default=0)
        found = house.model.recommend_batch(
            users,
            house.programme,
            k=stored.LIST_LENGTH + len(started) + longest,
            horizon=horizon,
            persons=_that_matter(persons, house.programme),
            histories={user: histories.get(user, []) for user in users},
            explain=True,
        )
        for user, recs in found.items():
            skip = started | set(histories.get(user, ()))
            lists[user] = [r for r in recs if r.item not in skip][: stored.LIST_LENGTH]
    occurrences = {key: date.occurrence_id for key, date in house.dates.items()}
    rows: list[ListRow] = []
    for (pk, person), user in zip(persons.items(), users, strict=True):
        recs = lists.get(user, [])
        basis = _basis(
            recs[0].basis if recs else "", has_history=bool(histories.get(user)), person=person
        )
        rows.append(
            (
                organisation.pk,
                pk,
                horizon,
                basis,
                stored.recommendations_json(recs, occurrences),
                programme,
                marks.get(pk, 0),
                stored.interests_key(person.stated_interests),
                now,
            )
        )
    lists_write(rows)
    return len(users)


# --- what is due ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListsDue:
    """What an organisation's lists need: `full` names why the whole batch is due ("never",
    "wanted", "dial", "programme", "age", "history"; "" when it is not), `contact_ids` whose lists
    a refresh should rewrite."""

    full: str = ""
    contact_ids: tuple[int, ...] = ()

    @property
    def nothing(self) -> bool:
        return not self.full and not self.contact_ids


def _full_reason(settings: DiscoverySettings, programme: str, now: datetime) -> str | None:
    if settings.computed_at is None:
        return "never"
    if settings.wanted_at is not None:
        return "wanted"
    if (
        settings.computed_horizon is None
        or abs(settings.computed_horizon - settings.horizon) > stored.HORIZON_TOLERANCE
    ):
        return "dial"
    if settings.computed_programme != programme:
        return "programme"
    if now - settings.computed_at >= MAX_AGE:
        return "age"
    return None


def lists_due(*, organisation: Organisation, now: datetime | None = None) -> ListsDue:
    """Whether the organisation's lists need the whole batch or a refresh of some contacts.

    Cheap while nothing changed: the settings row, the programme version (two aggregates)
    and the newest history id. Only when visits or bookings came in since the batch are
    those contacts read (entries newer than the batch's mark) and compared with the marks
    of their lists.
    """
    now = now or timezone.now()
    settings = services.discovery_settings_of(organisation=organisation)
    reason = _full_reason(settings, programme_version(organisation=organisation), now)
    if reason is not None:
        return ListsDue(full=reason)
    mark = int(settings.computed_interactions or 0)
    if stored.newest_history_id(organisation=organisation) <= mark:
        return ListsDue()
    most = max(REFRESH_MAX, int(REFRESH_SHARE * settings.computed_contacts))
    stale = stored.stale_contacts(organisation=organisation, after=mark, limit=most + 1)
    if len(stale) > most:
        return ListsDue(full="history")
    return ListsDue(contact_ids=tuple(stale))
