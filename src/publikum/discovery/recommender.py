"""The hybrid recommender: who came to what in the past, carried over to upcoming dates.

What a house recommends are upcoming dates nobody has attended yet (item cold start). The
model therefore learns two things from the past and joins them through item content:

1. A collaborative operator B over past items (`collaborative`): B[i, j] says how strongly
   having come to past item i predicts coming to past item j. EASE (Steck 2019, a closed-form
   ridge regression of each item on all others), PureSVD (B = V Vᵀ of a truncated SVD) or
   item-kNN (cosine, top neighbours); EASE is the default because it measured best on the
   house-like synthetic data (item-kNN led on MovieLens; docs/benchmarks/discovery.md).
2. A kernel ridge regression from item content (features.py) to B's columns: an upcoming
   item j with content c_j gets the column B R[:, j], with R = (K + λI)⁻¹ C cⱼᵀ and
   K = C Cᵀ over the past items' content C. In words: "an upcoming date is like these
   past ones, and people who came to i came to those".

The score of person u for candidate j is x_u · M[:, j] with

    M = B R / σ_B  +  γ · C C_candᵀ / σ_C

x_u their (log-weighted) history over past items, the second term the direct content match
("you came to things like this"), σ the spread of each term over users so that γ is a plain
mix. Stated interests, practical fit (language, target group, accessibility, the weekdays
and times of day a person comes) and the horizon dial (rerank.py) act on top; people without
history fall back to their stated interests, then to a diverse popular selection.

Everything a request needs for a given programme is precomputed by `Model.prepare` (one
matrix M of past items x candidates), so serving a person is one sparse row times M.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import randomized_svd

from publikum.core.errors import ValidationFailed
from publikum.discovery import rerank as rr
from publikum.discovery.data import Interaction, Item, Person
from publikum.discovery.features import DAYPARTS, FeatureWeights, ItemFeaturizer, time_slot

COLLABORATIVE = ("ease", "svd", "knn")
BASIS_HISTORY = "history"
BASIS_INTERESTS = "interests"
BASIS_POPULAR = "popular"
# How much of "new for this person" is about themes, the rest about the kind of event.
THEME_SHARE = 0.7
# How much of "alike" (for diversity within a list) is about themes, the rest about kind.
SIMILAR_THEMES = 0.7
# Users sampled to measure the spread of each score term (enough for a stable estimate).
SCALE_SAMPLE = 2000
CHUNK = 2048
# Weekday or weekend x morning, afternoon, evening: what a few visits can tell about habits.
COARSE_SLOTS = 2 * len(DAYPARTS)
SLOT_PSEUDO_VISITS = 4.0
EXPOSURE_K = 10


def coarse_slot(slot: int) -> int:
    """The weekday x daypart slot (0..20) folded to weekday/weekend x daypart, -1 stays."""
    if slot < 0:
        return -1
    weekday, part = divmod(slot, len(DAYPARTS))
    return (len(DAYPARTS) if weekday >= 5 else 0) + part


@dataclass(frozen=True)
class ModelConfig:
    """Knobs of the model; the defaults are a compromise measured on both benchmark datasets
    (docs/discovery.md explains each one)."""

    collaborative: str = "ease"
    # EASE's λ as a multiple of the mean item popularity (the Gram matrix's mean diagonal).
    ease_l2: float = 4.0
    svd_factors: int = 48
    knn_neighbours: int = 50
    # Kernel ridge λ as a multiple of the mean squared norm of the content vectors.
    content_l2: float = 0.2
    # γ: weight of the direct content match next to the collaborative transfer.
    content_weight: float = 0.3
    # Stated interests, mixed into the relevance of people with a history.
    interest_weight: float = 0.3
    # Weekday/time fit: a date in a slot the person never came in loses up to this share.
    time_fit: float = 0.0
    language_penalty: float = 0.5
    target_group_penalty: float = 0.6
    features: FeatureWeights = field(default_factory=FeatureWeights)
    floor: float = rr.DEFAULT_FLOOR
    pool_factor: float = rr.DEFAULT_POOL_FACTOR
    novelty_share: float = rr.DEFAULT_NOVELTY_SHARE
    # Share of the novelty term that is "little known overall" rather than "new for you".
    tail_share: float = 0.5

    def __post_init__(self) -> None:
        if self.collaborative not in COLLABORATIVE:
            raise ValidationFailed(
                f"Unknown collaborative model {self.collaborative!r}; "
                f"one of {', '.join(COLLABORATIVE)}."
            )


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One pick: `relevance` 0..1 relative to the person's best candidate, `novelty` 0..1 how
    far outside their attended themes and kinds it lies, `basis` what it rests on (history,
    interests or popular) and the explanation as data."""

    item: str
    score: float
    relevance: float
    novelty: float
    basis: str
    explanation: tuple[rr.ExplanationPart, ...]


@dataclass
class CandidateSet:
    """A programme prepared for serving: built once per programme version, used per request."""

    items: tuple[Item, ...]
    index: dict[str, int]
    transfer: np.ndarray  # past items x candidates (M above), float32
    popularity: np.ndarray  # 0..1, predicted for new items, observed for past ones
    themes: np.ndarray  # candidates x model themes, bool
    theme_counts: np.ndarray  # number of themes of each candidate (incl. unknown ones)
    kinds: np.ndarray  # index into the model's kinds, -1 for unknown or none
    similarity: np.ndarray  # candidates x candidates, 0..1
    slots: np.ndarray  # weekday x daypart, -1 undated
    past_index: np.ndarray  # index among past items, -1 for a new item
    # 0..1: how often the plain relevance ranking puts a candidate in someone's top 10.
    exposure: np.ndarray

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class _Scored:
    """A chunk of users scored against a candidate set, before the dial picks."""

    rows: sp.csr_matrix
    raw: np.ndarray
    relevance: np.ndarray
    novelty: np.ndarray
    eligible: np.ndarray
    interest: np.ndarray
    basis: np.ndarray  # per user: 0 history, 1 interests, 2 popular
    user_themes: np.ndarray
    user_kinds: np.ndarray
    interests: list[frozenset[str]]


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
        self._ease: np.ndarray | None = None
        self._factors: np.ndarray | None = None
        self._knn: sp.csr_matrix | None = None
        self._chol: tuple[np.ndarray, bool] | None = None
        self._popularity = np.zeros(len(past_ids))
        self._item_themes = sp.csr_matrix((len(past_ids), len(themes)))
        self._item_kinds = sp.csr_matrix((len(past_ids), len(kinds)))
        self._item_slots = sp.csr_matrix((len(past_ids), COARSE_SLOTS))
        self._slot_prior = np.full(COARSE_SLOTS, 1.0 / COARSE_SLOTS)

    # --- fitting --------------------------------------------------------------------------

    def _fit(self) -> None:
        started = time.perf_counter()
        x = self.history
        n = len(self.past_ids)
        cfg = self.config
        if n:
            if cfg.collaborative == "ease":
                gram = (x.T @ x).toarray()
                lam = cfg.ease_l2 * max(float(np.mean(np.diag(gram))), 1e-9)
                gram[np.diag_indices(n)] += lam
                inverse = la.inv(gram, overwrite_a=True, check_finite=False)
                ease = -inverse / np.diag(inverse)[None, :]
                np.fill_diagonal(ease, 0.0)
                self._ease = ease.astype(np.float32)
            elif cfg.collaborative == "svd":
                rank = max(1, min(cfg.svd_factors, min(x.shape) - 1))
                _, _, vt = randomized_svd(x, rank, random_state=0)
                self._factors = vt.T.astype(np.float32)
            else:
                cols = normalize(x.T.tocsr(), axis=1)
                sim = (cols @ cols.T).tocsc()
                sim.setdiag(0.0)
                sim.eliminate_zeros()
                self._knn = _top_per_column(sim, cfg.knn_neighbours)
            kernel = (self.content @ self.content.T).toarray()
            # Relative to the largest eigenvalue: the shrinkage then acts on the same share of
            # the spectrum (the "all items look alike" direction first) at any catalogue size.
            top = float(la.eigvalsh(kernel, subset_by_index=[n - 1, n - 1])[0]) if n > 1 else 1.0
            lam = cfg.content_l2 * max(top, 1e-9)
            kernel[np.diag_indices(n)] += lam
            self._chol = la.cho_factor(kernel, lower=True, overwrite_a=True, check_finite=False)
            users_per_item = np.asarray((x > 0).sum(axis=0)).ravel()
            self._popularity = np.log1p(users_per_item)
        past = [self.items[i] for i in self.past_ids]
        self._item_themes = _membership(
            [[self.theme_index[t] for t in set(it.themes)] for it in past], len(self.theme_vocab)
        )
        self._item_kinds = _membership(
            [[self.kind_index[it.kind]] if it.kind else [] for it in past], len(self.kind_vocab)
        )
        self._item_slots = _membership(
            [[s] if (s := coarse_slot(time_slot(it))) >= 0 else [] for it in past], COARSE_SLOTS
        )
        visits_per_slot = np.asarray((x > 0).sum(axis=0)).ravel() @ self._item_slots
        if visits_per_slot.sum() > 0:
            self._slot_prior = visits_per_slot / visits_per_slot.sum()
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
        if n and c and self._chol is not None:
            cand_content = normalize(self.featurizer.transform(candidates))
            direct = (self.content @ cand_content.T).toarray()
            weights = la.cho_solve(self._chol, direct, check_finite=False)
            collab = self._collaborative(weights, past_index)
            sample = self.history[: min(SCALE_SAMPLE, self.history.shape[0])]
            transfer = (
                collab / _spread(sample @ collab)
                + self.config.content_weight * direct / _spread(sample @ direct)
            ).astype(np.float32)
            mean = float(self._popularity.mean())
            popularity = mean + weights.T @ (self._popularity - mean)
            warm = past_index >= 0
            popularity[warm] = self._popularity[past_index[warm]]
            popularity = _minmax(popularity[None, :])[0]
        exposure = self._exposure(transfer)
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
            similarity=_similarity(candidates),
            slots=np.array([coarse_slot(time_slot(it)) for it in candidates], dtype=np.int64),
            past_index=past_index,
            exposure=exposure,
        )

    def _exposure(self, transfer: np.ndarray) -> np.ndarray:
        """Share of a sample of people whose plain top 10 holds each candidate, max = 1."""
        n_cand = transfer.shape[1]
        sample = self.history[: min(SCALE_SAMPLE, self.history.shape[0])]
        if n_cand == 0 or sample.shape[0] == 0:
            return np.zeros(n_cand)
        scores = np.asarray(sample @ transfer)
        top = min(EXPOSURE_K, n_cand)
        best = np.argpartition(-scores, top - 1, axis=1)[:, :top]
        counts = np.bincount(best.ravel(), minlength=n_cand).astype(np.float64)
        return np.log1p(counts) / np.log1p(counts.max())

    def _collaborative(self, weights: np.ndarray, past_index: np.ndarray) -> np.ndarray:
        """B R for new candidates, B's own column for candidates that are past items."""
        if self._ease is not None:
            out = self._ease @ weights.astype(np.float32)
            for j in np.flatnonzero(past_index >= 0):
                out[:, j] = self._ease[:, past_index[j]]
        elif self._factors is not None:
            v = self._factors
            out = v @ (v.T @ weights.astype(np.float32))
            for j in np.flatnonzero(past_index >= 0):
                out[:, j] = v @ v[past_index[j]]
        else:
            assert self._knn is not None
            out = np.asarray(self._knn @ weights, dtype=np.float32)
            for j in np.flatnonzero(past_index >= 0):
                out[:, j] = self._knn[:, past_index[j]].toarray().ravel()
        return np.asarray(out, dtype=np.float64)

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
        horizon = rr.check_horizon(horizon)
        if k < 1:
            raise ValidationFailed(f"k must be at least 1, not {k}.")
        cs = candidates if isinstance(candidates, CandidateSet) else self.prepare(candidates)
        out: dict[str, list[Recommendation]] = {}
        for start in range(0, len(users), CHUNK):
            chunk = list(users[start : start + CHUNK])
            scored = self._score(chunk, cs, persons or {}, histories or {}, exclude_seen)
            picks = self._pick(scored, cs, k=k, horizon=horizon)
            out.update(self._build(chunk, cs, scored, picks, explain=explain))
        return out

    def _rows(self, users: Sequence[str], histories: Mapping[str, Sequence[str]]) -> sp.csr_matrix:
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

    def _score(
        self,
        users: Sequence[str],
        cs: CandidateSet,
        persons: Mapping[str, Person],
        histories: Mapping[str, Sequence[str]],
        exclude_seen: bool,
    ) -> _Scored:
        cfg = self.config
        rows = self._rows(users, histories)
        n_users, n_cand = len(users), len(cs)
        raw = np.asarray(rows @ cs.transfer, dtype=np.float64).reshape(n_users, n_cand)
        has_history = np.diff(rows.indptr) > 0
        seen = rows > 0
        # What each person attended: themes and kinds, scaled so their favourite is 1.
        user_themes = _row_max_scaled((seen @ self._item_themes).toarray())
        user_kinds = _row_max_scaled((seen @ self._item_kinds).toarray())
        user_slots = (seen @ self._item_slots).toarray()
        interests = [
            frozenset(persons[u].stated_interests) if u in persons else frozenset() for u in users
        ]
        interest_rows = np.zeros((n_users, len(self.theme_vocab)))
        for r, chosen in enumerate(interests):
            for t in chosen:
                if t in self.theme_index:
                    interest_rows[r, self.theme_index[t]] = 1.0
        counts = np.maximum(cs.theme_counts, 1.0)
        interest = (interest_rows @ cs.themes.T) / counts[None, :]
        has_interests = interest_rows.any(axis=1)

        basis = np.where(has_history, 0, np.where(has_interests, 1, 2))
        relevance = np.zeros((n_users, n_cand))
        hist = basis == 0
        if hist.any():
            relevance[hist] = _minmax(_minmax(raw[hist]) + cfg.interest_weight * interest[hist])
        fallback = basis == 1
        if fallback.any():
            relevance[fallback] = _minmax(interest[fallback] + 0.3 * cs.popularity[None, :])
        popular = basis == 2
        if popular.any():
            relevance[popular] = cs.popularity[None, :]

        eligible = np.ones((n_users, n_cand), dtype=bool)
        if exclude_seen and (cs.past_index >= 0).any():
            warm = np.flatnonzero(cs.past_index >= 0)
            eligible[:, warm] &= ~(seen[:, cs.past_index[warm]].toarray())
        # Weekday and time of day: only for people with a few dated visits to learn from.
        learn = hist & (user_slots.sum(axis=1) >= 3)
        if cfg.time_fit and learn.any():
            self._time_fit(relevance, user_slots, learn, cs)
        for r, user in enumerate(users):
            person = persons.get(user)
            if person is not None:
                self._practical_fit(person, cs, relevance[r], eligible[r])

        theme_fam = (user_themes @ cs.themes.T) / counts[None, :]
        kind_fam = np.zeros((n_users, n_cand))
        known_kind = cs.kinds >= 0
        kind_fam[:, known_kind] = user_kinds[:, cs.kinds[known_kind]]
        novelty = 1.0 - (THEME_SHARE * theme_fam + (1.0 - THEME_SHARE) * kind_fam)
        if cfg.tail_share:
            # Part of "new" is what the plain ranking rarely shows anyone: widens the reach of
            # the programme (catalogue coverage) instead of sending everyone to the same date.
            novelty = (1.0 - cfg.tail_share) * novelty + cfg.tail_share * (
                1.0 - cs.exposure[None, :]
            )
        # Without a history, what is familiar is what the person said they like.
        novelty[fallback] = 1.0 - THEME_SHARE * interest[fallback]
        novelty[popular] = 1.0
        return _Scored(
            rows=rows,
            raw=raw,
            relevance=np.clip(relevance, 0.0, 1.0),
            novelty=np.clip(novelty, 0.0, 1.0),
            eligible=eligible,
            interest=interest,
            basis=basis,
            user_themes=user_themes,
            user_kinds=user_kinds,
            interests=interests,
        )

    def _time_fit(
        self, relevance: np.ndarray, user_slots: np.ndarray, learn: np.ndarray, cs: CandidateSet
    ) -> None:
        """Lower the relevance of dates at times a person does not come; in place."""
        dated = cs.slots >= 0
        if not dated.any():
            return
        # Smoothed towards everyone's habits: three visits say little about a weekday.
        habits = user_slots[learn]
        share = (habits + SLOT_PSEUDO_VISITS * self._slot_prior[None, :]) / (
            habits.sum(axis=1, keepdims=True) + SLOT_PSEUDO_VISITS
        )
        liked = _row_max_scaled(share)[:, cs.slots[dated]]
        block = relevance[learn]
        block[:, dated] *= 1.0 - self.config.time_fit * (1.0 - liked)
        relevance[learn] = block

    def _practical_fit(
        self, person: Person, cs: CandidateSet, relevance: np.ndarray, eligible: np.ndarray
    ) -> None:
        """Language, target group and accessibility of one person, applied in place."""
        cfg = self.config
        needs = set(person.needs)
        groups = set(person.target_groups)
        for j, item in enumerate(cs.items):
            if needs and not needs <= set(item.accessibility):
                eligible[j] = False
            if person.language and item.language and item.language != person.language:
                relevance[j] *= cfg.language_penalty
            if groups and item.target_groups and not groups & set(item.target_groups):
                relevance[j] *= cfg.target_group_penalty

    def _pick(self, scored: _Scored, cs: CandidateSet, *, k: int, horizon: float) -> np.ndarray:
        """The dial, per basis: a person without history gets at least a half-open horizon
        (a diverse popular selection) and no relevance floor (every pick is a suggestion)."""
        cfg = self.config
        picks = np.full((len(scored.basis), k), -1, dtype=np.int64)
        for basis, h, floor in (
            (0, horizon, cfg.floor),
            (1, horizon, 0.0),
            (2, max(horizon, 0.5), 0.0),
        ):
            rows = np.flatnonzero(scored.basis == basis)
            if len(rows) == 0:
                continue
            picks[rows] = rr.rerank(
                scored.relevance[rows],
                scored.novelty[rows],
                cs.similarity,
                k=k,
                horizon=h,
                eligible=scored.eligible[rows],
                floor=floor,
                # Fallbacks may reach the whole programme: their relevance is a guess anyway.
                pool_factor=cfg.pool_factor if basis == 0 else float(len(cs)),
                novelty_share=cfg.novelty_share,
            )
        return picks

    def _build(
        self,
        users: Sequence[str],
        cs: CandidateSet,
        scored: _Scored,
        picks: np.ndarray,
        *,
        explain: bool,
    ) -> dict[str, list[Recommendation]]:
        anchors = self._anchors(scored.rows, cs, picks) if explain else None
        basis_names = (BASIS_HISTORY, BASIS_INTERESTS, BASIS_POPULAR)
        out: dict[str, list[Recommendation]] = {}
        for r, user in enumerate(users):
            recs: list[Recommendation] = []
            basis = int(scored.basis[r])
            for s, j in enumerate(picks[r]):
                if j < 0:
                    break
                parts: tuple[rr.ExplanationPart, ...] = ()
                if explain:
                    anchor = int(anchors[r, s]) if anchors is not None else -1
                    parts = self._explain(scored, cs, r=r, j=int(j), basis=basis, anchor=anchor)
                recs.append(
                    Recommendation(
                        item=cs.items[j].id,
                        score=float(scored.raw[r, j]),
                        relevance=float(scored.relevance[r, j]),
                        novelty=float(scored.novelty[r, j]),
                        basis=basis_names[basis],
                        explanation=parts,
                    )
                )
            out[user] = recs
        return out

    def _anchors(self, rows: sp.csr_matrix, cs: CandidateSet, picks: np.ndarray) -> np.ndarray:
        """For each pick, the past item of the person's history that added most to its score."""
        anchors = np.full(picks.shape, -1, dtype=np.int64)
        lengths = np.diff(rows.indptr)
        if rows.nnz == 0 or len(cs) == 0:
            return anchors
        owner = np.repeat(np.arange(rows.shape[0]), lengths)
        starts = rows.indptr[:-1][lengths > 0]
        for s in range(picks.shape[1]):
            cand = picks[owner, s]
            valid = cand >= 0
            contrib = np.where(
                valid, rows.data * cs.transfer[rows.indices, np.maximum(cand, 0)], -np.inf
            )
            best = np.maximum.reduceat(contrib, starts)
            position = np.arange(len(contrib))
            is_best = contrib == np.repeat(best, lengths[lengths > 0])
            first = np.minimum.reduceat(np.where(is_best, position, len(contrib)), starts)
            users_with = np.flatnonzero(lengths > 0)
            ok = np.isfinite(best)
            anchors[users_with[ok], s] = rows.indices[first[ok]]
        return anchors

    def _explain(
        self, scored: _Scored, cs: CandidateSet, *, r: int, j: int, basis: int, anchor: int
    ) -> tuple[rr.ExplanationPart, ...]:
        item = cs.items[j]
        parts: list[rr.ExplanationPart] = []
        chosen = scored.interests[r]
        matched = tuple(t for t in item.themes if t in chosen)
        if basis == 0:
            familiar = {self.theme_vocab[t] for t in np.flatnonzero(scored.user_themes[r] > 0)}
            new_themes = tuple(t for t in item.themes if t not in familiar)
            kind = cs.kinds[j]
            new_kind = (
                (item.kind,) if item.kind and (kind < 0 or scored.user_kinds[r, kind] <= 0) else ()
            )
            anchor_ids = (self.past_ids[anchor],) if anchor >= 0 else ()
            if new_themes or new_kind:
                parts.append(
                    rr.ExplanationPart(
                        rr.NEW_FOR_YOU, item_ids=anchor_ids, themes=new_themes, item_kinds=new_kind
                    )
                )
            elif anchor_ids:
                parts.append(rr.ExplanationPart(rr.BECAUSE_VISITED, item_ids=anchor_ids))
        if matched:
            parts.append(rr.ExplanationPart(rr.INTEREST, themes=matched))
        if not parts:
            # "We do not know your interests yet" is only true of someone who told us none.
            parts.append(rr.ExplanationPart(rr.POPULAR if basis == 2 else rr.ALSO_POPULAR))
        return tuple(parts)

    # --- inspection -----------------------------------------------------------------------

    def history_of(self, user: str) -> list[str]:
        """Past item ids the model knows for `user` (empty for an unknown user)."""
        index = self.user_index.get(user)
        if index is None:
            return []
        row = self.history[index]
        return [self.past_ids[i] for i in row.indices]


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


# --- helpers ------------------------------------------------------------------------------


def _membership(lists: Sequence[Collection[int]], width: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    cols = np.fromiter((c for x in lists for c in x), dtype=np.int64, count=len(rows))
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(lists), width))


def _top_per_column(matrix: sp.csc_matrix, keep: int) -> sp.csr_matrix:
    """Keep the `keep` largest entries of each column (item-kNN's neighbourhood)."""
    matrix = matrix.tocsc()
    for j in range(matrix.shape[1]):
        start, end = matrix.indptr[j], matrix.indptr[j + 1]
        if end - start > keep:
            values = matrix.data[start:end]
            cut = np.partition(values, -keep)[-keep]
            values[values < cut] = 0.0
    matrix.eliminate_zeros()
    return matrix.tocsr()


def _spread(scores: np.ndarray) -> float:
    value = float(np.std(scores))
    return value if value > 1e-12 else 1.0


def _minmax(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to 0..1 (a constant row becomes all ones: nothing to prefer)."""
    if matrix.size == 0:
        return matrix.astype(np.float64)
    low = matrix.min(axis=1, keepdims=True)
    span = matrix.max(axis=1, keepdims=True) - low
    return np.where(span > 1e-12, (matrix - low) / np.where(span > 1e-12, span, 1.0), 1.0)


def _row_max_scaled(matrix: np.ndarray) -> np.ndarray:
    top = matrix.max(axis=1, keepdims=True) if matrix.size else np.zeros((len(matrix), 1))
    return np.divide(matrix, top, out=np.zeros_like(matrix, dtype=np.float64), where=top > 0)


def _similarity(candidates: Sequence[Item]) -> np.ndarray:
    """Theme Jaccard similarity (0.7) plus same kind (0.3): what makes a list feel samey."""
    vocab = {t: i for i, t in enumerate(sorted({t for c in candidates for t in c.themes}))}
    member = np.zeros((len(candidates), len(vocab)))
    for j, item in enumerate(candidates):
        for t in item.themes:
            member[j, vocab[t]] = 1.0
    inter = member @ member.T
    sizes = member.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    jaccard = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
    kinds = np.array([c.kind for c in candidates], dtype=object)
    same_kind = (kinds[:, None] == kinds[None, :]) & (kinds[:, None] != "")
    return SIMILAR_THEMES * jaccard + (1.0 - SIMILAR_THEMES) * same_kind
