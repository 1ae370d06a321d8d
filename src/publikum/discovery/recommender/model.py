"""The fitted model: `fit` learns it, `Model.prepare` readies a programme, `recommend` and
`recommend_batch` serve people."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from publikum.core.errors import ValidationFailed
from publikum.discovery import rerank as rr
from publikum.discovery.data import Interaction, Item, Person
from publikum.discovery.features import ItemFeaturizer, time_slot
from publikum.discovery.recommender.arrays import membership
from publikum.discovery.recommender.candidates import CandidateSet, exposure, similarity
from publikum.discovery.recommender.collaborative import Collaborative, collaborative_fit
from publikum.discovery.recommender.config import (
    CHUNK,
    COARSE_SLOTS,
    SCALE_SAMPLE,
    ModelConfig,
    Recommendation,
    coarse_slot,
)
from publikum.discovery.recommender.explain import (
    Explained,
    Reasons,
    picks_explained,
    recommendations_of,
)
from publikum.discovery.recommender.scoring import picks_of, scores_of
from publikum.discovery.recommender.transfer import (
    ContentKernel,
    content_kernel_fit,
    transfer_matrix,
)


class Model:
    """A fitted recommender. Pickles as a whole (the worker stores one per organisation)."""

    def __init__(
        self,
        *,
        config: ModelConfig,
        featurizer: ItemFeaturizer,
        items: dict[str, Item],
        past_ids: list[str],
        user_ids: list[str],
        history: sp.csr_matrix,
        content: sp.csr_matrix,
    ) -> None:
        self.config = config
        self.featurizer = featurizer
        self.items = items
        self.past_ids = past_ids
        self.past_index = {item: i for i, item in enumerate(past_ids)}
        self.user_ids = user_ids
        self.user_index = {user: i for i, user in enumerate(user_ids)}
        self.history = history
        self.content = content
        self.fit_seconds = 0.0
        themes = sorted({t for item in items.values() for t in item.themes})
        kinds = sorted({item.kind for item in items.values() if item.kind})
        self.theme_vocab = themes
        self.theme_index = {t: i for i, t in enumerate(themes)}
        self.kind_vocab = kinds
        self.kind_index = {k: i for i, k in enumerate(kinds)}
        # Learned by _fit: nothing to learn without a past item.
        self.collaborative: Collaborative | None = None
        self.kernel: ContentKernel | None = None
        self.past_popularity = np.zeros(len(past_ids))  # log(1 + visitors) per past item
        # Past items x themes, kinds and coarse time slots (0/1).
        self.item_themes = sp.csr_matrix((len(past_ids), len(themes)))
        self.item_kinds = sp.csr_matrix((len(past_ids), len(kinds)))
        self.item_slots = sp.csr_matrix((len(past_ids), COARSE_SLOTS))
        # Everyone's share of visits per coarse slot (the prior of a person's habits).
        self.slot_prior = np.full(COARSE_SLOTS, 1.0 / COARSE_SLOTS)

    def _fit(self) -> None:
        started = time.perf_counter()
        x = self.history
        if self.past_ids:
            self.collaborative = collaborative_fit(history=x, config=self.config)
            self.kernel = content_kernel_fit(content=self.content, l2=self.config.content_l2)
            users_per_item = np.asarray((x > 0).sum(axis=0)).ravel()
            self.past_popularity = np.log1p(users_per_item)
        past = [self.items[i] for i in self.past_ids]
        self.item_themes = membership(
            [[self.theme_index[t] for t in set(it.themes)] for it in past], len(self.theme_vocab)
        )
        self.item_kinds = membership(
            [[self.kind_index[it.kind]] if it.kind else [] for it in past], len(self.kind_vocab)
        )
        self.item_slots = membership(
            [[s] if (s := coarse_slot(time_slot(it))) >= 0 else [] for it in past], COARSE_SLOTS
        )
        visits_per_slot = np.asarray((x > 0).sum(axis=0)).ravel() @ self.item_slots
        if visits_per_slot.sum() > 0:
            self.slot_prior = visits_per_slot / visits_per_slot.sum()
        self.fit_seconds = time.perf_counter() - started

    # --- candidates -----------------------------------------------------------------------

    def prepare(self, candidates: Sequence[Item]) -> CandidateSet:
        """Precompute what serving needs for this programme (one call per programme version)."""
        ids = [c.id for c in candidates]
        if len(set(ids)) != len(ids):
            raise ValidationFailed("The candidates contain an item id twice.")
        n, c = len(self.past_ids), len(candidates)
        past_index = np.array([self.past_index.get(i, -1) for i in ids], dtype=np.int64)
        transfer = np.zeros((n, c), dtype=np.float32)
        popularity = np.zeros(c)
        sample = self.history[: min(SCALE_SAMPLE, self.history.shape[0])]
        if n and c and self.kernel is not None and self.collaborative is not None:
            transfer, popularity = transfer_matrix(
                collaborative=self.collaborative,
                kernel=self.kernel,
                content=self.content,
                candidate_content=normalize(self.featurizer.transform(candidates)),
                past_index=past_index,
                sample=sample,
                content_weight=self.config.content_weight,
                past_popularity=self.past_popularity,
            )
        themes = np.zeros((c, len(self.theme_vocab)), dtype=bool)
        for j, item in enumerate(candidates):
            for t in item.themes:
                if t in self.theme_index:
                    themes[j, self.theme_index[t]] = True
        return CandidateSet(
            items=tuple(candidates),
            index={item: j for j, item in enumerate(ids)},
            transfer=transfer,
            popularity=popularity,
            themes=themes,
            theme_counts=np.array([len(set(it.themes)) for it in candidates], dtype=np.float64),
            kinds=np.array([self.kind_index.get(it.kind, -1) for it in candidates], dtype=np.int64),
            similarity=similarity(candidates),
            slots=np.array([coarse_slot(time_slot(it)) for it in candidates], dtype=np.int64),
            past_index=past_index,
            exposure=exposure(transfer, sample),
        )

    # --- serving --------------------------------------------------------------------------

    def recommend(
        self,
        user: str,
        candidates: CandidateSet | Sequence[Item],
        *,
        k: int = 10,
        horizon: float = 0.0,
        person: Person | None = None,
        history: Sequence[str] | None = None,
        exclude_seen: bool = True,
    ) -> list[Recommendation]:
        """Top k for one person. `history` (past item ids) replaces what the model knows of
        `user`, for someone who came after the last fit; an unknown user without history gets
        the fallbacks (stated interests, then a diverse popular selection)."""
        persons = {user: person} if person is not None else None
        histories = {user: history} if history is not None else None
        return self.recommend_batch(
            [user],
            candidates,
            k=k,
            horizon=horizon,
            persons=persons,
            histories=histories,
            exclude_seen=exclude_seen,
        )[user]

    def recommend_batch(
        self,
        users: Sequence[str],
        candidates: CandidateSet | Sequence[Item],
        *,
        k: int = 10,
        horizon: float = 0.0,
        persons: Mapping[str, Person] | None = None,
        histories: Mapping[str, Sequence[str]] | None = None,
        exclude_seen: bool = True,
        explain: bool = True,
    ) -> dict[str, list[Recommendation]]:
        """Top k for many people at once, in chunks of vectorised work."""
        _check(k=k, horizon=horizon)
        cs = candidates if isinstance(candidates, CandidateSet) else self.prepare(candidates)
        reasons = Reasons(self, cs) if explain else None
        out: dict[str, list[Recommendation]] = {}
        with _collector_paused():
            for explained in self.explained_batch(
                users,
                cs,
                k=k,
                horizon=horizon,
                persons=persons,
                histories=histories,
                exclude_seen=exclude_seen,
                reasons=reasons,
            ):
                out.update(recommendations_of(explained, cs, reasons))
        return out

    def explained_batch(
        self,
        users: Sequence[str],
        cs: CandidateSet,
        *,
        k: int = 10,
        horizon: float = 0.0,
        persons: Mapping[str, Person] | None = None,
        histories: Mapping[str, Sequence[str]] | None = None,
        exclude_seen: bool = True,
        reasons: Reasons | None = None,
    ) -> Iterator[Explained]:
        """`recommend_batch` as arrays, one `Explained` per chunk of users, for callers that
        store many lists (`discovery.precompute`) and need no object per pick. The picks
        are explained when `reasons` (made for this model and `cs`) is given: their
        explanations are `reasons.parts`."""
        horizon = _check(k=k, horizon=horizon)
        for start in range(0, len(users), CHUNK):
            chunk = list(users[start : start + CHUNK])
            scored = scores_of(
                self,
                users=chunk,
                rows=self._rows(chunk, histories or {}),
                cs=cs,
                persons=persons or {},
                exclude_seen=exclude_seen,
            )
            picks = picks_of(self, scored, cs, k=k, horizon=horizon)
            yield picks_explained(
                self, users=chunk, cs=cs, scored=scored, picks=picks, reasons=reasons
            )

    def _rows(self, users: Sequence[str], histories: Mapping[str, Sequence[str]]) -> sp.csr_matrix:
        """The users' histories over the past items; `histories` replaces the known ones."""
        index = np.array([self.user_index.get(u, -1) for u in users], dtype=np.int64)
        known = np.flatnonzero(index >= 0)
        select = sp.csr_matrix(
            (np.ones(len(known)), (known, index[known])), shape=(len(users), len(self.user_ids))
        )
        rows = (select @ self.history).tocsr()
        if histories:
            lil = rows.tolil()
            for r, user in enumerate(users):
                if user in histories:
                    lil.rows[r], lil.data[r] = [], []
                    for item in sorted({i for i in histories[user] if i in self.past_index}):
                        lil[r, self.past_index[item]] = 1.0
            rows = lil.tocsr()
        return rows

    # --- inspection -----------------------------------------------------------------------

    def history_of(self, user: str) -> list[str]:
        """Past item ids the model knows for `user` (empty for an unknown user)."""
        index = self.user_index.get(user)
        if index is None:
            return []
        row = self.history[index]
        return [self.past_ids[i] for i in row.indices]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile: a batch makes millions of small objects
    without cycles among them, and the collector would walk the growing result again and
    again (measured: 40 % of building 2,000,000 recommendations)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check(*, k: int, horizon: float) -> float:
    """The horizon as a float, or ValidationFailed for it or for a k below 1."""
    if k < 1:
        raise ValidationFailed(f"k must be at least 1, not {k}.")
    return rr.check_horizon(horizon)


def fit(
    interactions: Iterable[Interaction],
    items: Iterable[Item],
    config: ModelConfig | None = None,
) -> Model:
    """Learn from past interactions and the content of all items (past and upcoming).

    Interactions with an item that is not among `items` are an error (ValidationFailed
    naming the first such id): a typo in an export should not silently shrink the history.
    """
    started = time.perf_counter()
    config = config or ModelConfig()
    catalogue: dict[str, Item] = {}
    for item in items:
        if item.id in catalogue:
            raise ValidationFailed(f"Item id {item.id!r} appears twice.")
        catalogue[item.id] = item
    totals: dict[tuple[str, str], float] = {}
    for inter in interactions:
        if inter.item not in catalogue:
            raise ValidationFailed(f"Interaction with unknown item id {inter.item!r}.")
        key = (inter.user, inter.item)
        totals[key] = totals.get(key, 0.0) + max(inter.weight, 0.0)
    past_ids = sorted({item for _, item in totals})
    user_ids = sorted({user for user, _ in totals})
    past_index = {item: i for i, item in enumerate(past_ids)}
    user_index = {user: i for i, user in enumerate(user_ids)}
    rows = np.fromiter((user_index[u] for u, _ in totals), dtype=np.int64, count=len(totals))
    cols = np.fromiter((past_index[i] for _, i in totals), dtype=np.int64, count=len(totals))
    # log2(1 + w): one visit counts 1, ten visits about 3.5 - a regular is not ten people.
    data = np.log2(1.0 + np.fromiter(totals.values(), dtype=np.float64, count=len(totals)))
    history = sp.csr_matrix((data, (rows, cols)), shape=(len(user_ids), len(past_ids)))
    history.eliminate_zeros()
    featurizer = ItemFeaturizer(config.features).fit(list(catalogue.values()))
    content = featurizer.transform([catalogue[i] for i in past_ids])
    model = Model(
        config=config,
        featurizer=featurizer,
        items=catalogue,
        past_ids=past_ids,
        user_ids=user_ids,
        history=history,
        content=content,
    )
    model._fit()
    model.fit_seconds = time.perf_counter() - started
    return model
