"""Serving a chunk of people: relevance, novelty and eligibility of every candidate for each,
then the horizon dial's picks.

Relevance is the person's history times the transfer matrix, scaled 0..1 per person, with
their stated interests mixed in; people without history fall back to their stated
interests, then to popularity. Practical fit (language, target group, accessibility, the
weekdays and times of day a person comes) lowers relevance or rules a candidate out.
Novelty is how far a candidate lies outside the themes and kinds the person attended, partly
how rarely the plain ranking shows it to anyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from publikum.discovery import rerank as rr
from publikum.discovery.data import Person
from publikum.discovery.recommender.arrays import minmax, row_max_scaled
from publikum.discovery.recommender.candidates import CandidateSet
from publikum.discovery.recommender.config import SLOT_PSEUDO_VISITS, THEME_SHARE

if TYPE_CHECKING:
    from publikum.discovery.recommender.model import Model

# Scored.basis codes, in the order of config.BASIS_HISTORY, BASIS_INTERESTS, BASIS_POPULAR.
HISTORY, INTERESTS, POPULAR = 0, 1, 2


@dataclass
class Scored:
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


def scores_of(
    model: Model,
    *,
    users: Sequence[str],
    rows: sp.csr_matrix,
    cs: CandidateSet,
    persons: Mapping[str, Person],
    exclude_seen: bool,
) -> Scored:
    """Score `users`, whose histories over the model's past items are `rows`, against `cs`."""
    cfg = model.config
    n_users, n_cand = len(users), len(cs)
    raw = np.asarray(rows @ cs.transfer, dtype=np.float64).reshape(n_users, n_cand)
    has_history = np.diff(rows.indptr) > 0
    seen = rows > 0
    # What each person attended: themes and kinds, scaled so their favourite is 1.
    user_themes = row_max_scaled((seen @ model.item_themes).toarray())
    user_kinds = row_max_scaled((seen @ model.item_kinds).toarray())
    user_slots = (seen @ model.item_slots).toarray()
    interests = [
        frozenset(persons[u].stated_interests) if u in persons else frozenset() for u in users
    ]
    interest_rows = np.zeros((n_users, len(model.theme_vocab)))
    for r, chosen in enumerate(interests):
        for t in chosen:
            if t in model.theme_index:
                interest_rows[r, model.theme_index[t]] = 1.0
    counts = np.maximum(cs.theme_counts, 1.0)
    interest = (interest_rows @ cs.themes.T) / counts[None, :]
    has_interests = interest_rows.any(axis=1)

    basis = np.where(has_history, HISTORY, np.where(has_interests, INTERESTS, POPULAR))
    relevance = np.zeros((n_users, n_cand))
    hist = basis == HISTORY
    if hist.any():
        relevance[hist] = minmax(minmax(raw[hist]) + cfg.interest_weight * interest[hist])
    fallback = basis == INTERESTS
    if fallback.any():
        relevance[fallback] = minmax(interest[fallback] + 0.3 * cs.popularity[None, :])
    popular = basis == POPULAR
    if popular.any():
        relevance[popular] = cs.popularity[None, :]

    eligible = np.ones((n_users, n_cand), dtype=bool)
    if exclude_seen and (cs.past_index >= 0).any():
        warm = np.flatnonzero(cs.past_index >= 0)
        eligible[:, warm] &= ~(seen[:, cs.past_index[warm]].toarray())
    # Weekday and time of day: only for people with a few dated visits to learn from.
    learn = hist & (user_slots.sum(axis=1) >= 3)
    if cfg.time_fit and learn.any():
        _time_fit(model, relevance, user_slots, learn, cs)
    for r, user in enumerate(users):
        person = persons.get(user)
        if person is not None:
            _practical_fit(model, person, cs, relevance[r], eligible[r])

    theme_fam = (user_themes @ cs.themes.T) / counts[None, :]
    kind_fam = np.zeros((n_users, n_cand))
    known_kind = cs.kinds >= 0
    kind_fam[:, known_kind] = user_kinds[:, cs.kinds[known_kind]]
    novelty = 1.0 - (THEME_SHARE * theme_fam + (1.0 - THEME_SHARE) * kind_fam)
    if cfg.tail_share:
        # Part of "new" is what the plain ranking rarely shows anyone: widens the reach of
        # the programme (catalogue coverage) instead of sending everyone to the same date.
        novelty = (1.0 - cfg.tail_share) * novelty + cfg.tail_share * (1.0 - cs.exposure[None, :])
    # Without a history, what is familiar is what the person said they like.
    novelty[fallback] = 1.0 - THEME_SHARE * interest[fallback]
    novelty[popular] = 1.0
    return Scored(
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
    model: Model,
    relevance: np.ndarray,
    user_slots: np.ndarray,
    learn: np.ndarray,
    cs: CandidateSet,
) -> None:
    """Lower the relevance of dates at times a person does not come; in place."""
    dated = cs.slots >= 0
    if not dated.any():
        return
    # Smoothed towards everyone's habits: three visits say little about a weekday.
    habits = user_slots[learn]
    share = (habits + SLOT_PSEUDO_VISITS * model.slot_prior[None, :]) / (
        habits.sum(axis=1, keepdims=True) + SLOT_PSEUDO_VISITS
    )
    liked = row_max_scaled(share)[:, cs.slots[dated]]
    block = relevance[learn]
    block[:, dated] *= 1.0 - model.config.time_fit * (1.0 - liked)
    relevance[learn] = block


def _practical_fit(
    model: Model, person: Person, cs: CandidateSet, relevance: np.ndarray, eligible: np.ndarray
) -> None:
    """Language, target group and accessibility of one person, applied in place."""
    if not (person.needs or person.target_groups or person.language):
        return
    cfg = model.config
    needs = set(person.needs)
    groups = set(person.target_groups)
    for j, item in enumerate(cs.items):
        if needs and not needs <= set(item.accessibility):
            eligible[j] = False
        if person.language and item.language and item.language != person.language:
            relevance[j] *= cfg.language_penalty
        if groups and item.target_groups and not groups & set(item.target_groups):
            relevance[j] *= cfg.target_group_penalty


def picks_of(
    model: Model, scored: Scored, cs: CandidateSet, *, k: int, horizon: float
) -> np.ndarray:
    """The dial, per basis: a person without history gets at least a half-open horizon
    (a diverse popular selection) and no relevance floor (every pick is a suggestion)."""
    cfg = model.config
    picks = np.full((len(scored.basis), k), -1, dtype=np.int64)
    for basis, h, floor in (
        (HISTORY, horizon, cfg.floor),
        (INTERESTS, horizon, 0.0),
        (POPULAR, max(horizon, 0.5), 0.0),
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
            pool_factor=cfg.pool_factor if basis == HISTORY else float(len(cs)),
            novelty_share=cfg.novelty_share,
        )
    return picks
