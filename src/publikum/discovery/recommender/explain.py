"""From picks to recommendations: each with the reasons it was chosen, as data.

The reasons (rerank.ExplanationPart) name the past item of a person's history that added
most to a pick's score ("because you visited X"), the themes and kinds of the pick they have
not attended ("new for you: ..."), the stated interests it matches, or popularity.

A chunk of picks is explained with array operations: per pick, which past item is its
anchor, which of the pick's themes are new to the person and which match their stated
interests (bit masks over the pick's own themes, in their order) and whether its kind is
new. These few integers decide the explanation, so each distinct combination is turned into
`ExplanationPart`s once (`Reasons`, shared across the chunks of a batch) and every pick
points at its combination: explaining leaves no Python work per pick (a batch of 100,000
lists of 20 meets about 30,000 combinations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from publikum.discovery import rerank as rr
from publikum.discovery.recommender.candidates import CandidateSet
from publikum.discovery.recommender.config import (
    BASIS_HISTORY,
    BASIS_INTERESTS,
    BASIS_POPULAR,
    Recommendation,
)
from publikum.discovery.recommender.scoring import HISTORY, POPULAR, Scored

if TYPE_CHECKING:
    from publikum.discovery.recommender.model import Model

BASIS_NAMES = (BASIS_HISTORY, BASIS_INTERESTS, BASIS_POPULAR)
# The columns of a reason's code: candidate, basis, anchor (past item + 1, 0 none), new kind
# (0/1), then the new themes and the matched interests as bit masks over the candidate's
# themes in their order (bit p: its p-th theme), each in as many columns as it needs.
_CANDIDATE, _BASIS, _ANCHOR, _NEW_KIND = range(4)
_WORD = 62


class Reasons:
    """The distinct explanations of one model's picks from one candidate set, each built
    once: `parts[n]` is explanation n. Pass the same instance to every chunk of a batch."""

    def __init__(self, model: Model, cs: CandidateSet) -> None:
        self.model = model
        self.cs = cs
        self.parts: list[tuple[rr.ExplanationPart, ...]] = []
        self.theme_columns, self.vocab, self.pad = _theme_columns(model, cs)
        width = self.theme_columns.shape[1]
        words = max(1, -(-width // _WORD))
        masks = [2 ** min(_WORD, width - w * _WORD) for w in range(words)]
        # Codes packed into one integer each where they fit: sorting and looking up those
        # is much cheaper than rows of codes.
        self._radix = [max(len(cs), 1), 3, len(model.past_ids) + 1, 2, *masks, *masks]
        self._packed = math.prod(self._radix) < 2**63
        self._keys = np.zeros(0, dtype=np.int64)  # sorted
        self._numbers = np.zeros(0, dtype=np.int64)
        self._index: dict[tuple[int, ...], int] = {}

    def of(self, codes: np.ndarray) -> np.ndarray:
        """The explanation number of each row of `codes` (one per pick), built where new."""
        if len(codes) == 0:
            return np.zeros(0, dtype=np.int64)
        if not self._packed:
            distinct, inverse = np.unique(codes, axis=0, return_inverse=True)
            numbers = np.array(
                [self._number(code) for code in map(tuple, distinct.tolist())], dtype=np.int64
            )
            return numbers[inverse.ravel()]
        keys = np.zeros(len(codes), dtype=np.int64)
        for c, size in enumerate(self._radix):
            keys = keys * size + codes[:, c]
        unique, inverse = np.unique(keys, return_inverse=True)
        at = np.minimum(np.searchsorted(self._keys, unique), max(len(self._keys) - 1, 0))
        known = self._keys[at] == unique if len(self._keys) else np.zeros(len(unique), bool)
        numbers = np.empty(len(unique), dtype=np.int64)
        numbers[known] = self._numbers[at[known]]
        new = unique[~known]
        if len(new):
            rows = np.empty((len(new), len(self._radix)), dtype=np.int64)
            rest = new.copy()
            for c in reversed(range(len(self._radix))):
                rest, rows[:, c] = np.divmod(rest, self._radix[c])
            numbers[~known] = [self._number(code) for code in map(tuple, rows.tolist())]
            keys = np.concatenate([self._keys, new])
            order = np.argsort(keys, kind="stable")
            self._keys = keys[order]
            self._numbers = np.concatenate([self._numbers, numbers[~known]])[order]
        return numbers[inverse.ravel()]

    def _number(self, code: tuple[int, ...]) -> int:
        found = self._index.get(code)
        if found is None:
            found = self._index[code] = len(self.parts)
            self.parts.append(_parts(self.model, self.cs, code))
        return found


@dataclass
class Explained:
    """A chunk of users' picks with what a recommendation says about each, as arrays
    (users x k; `picks` -1 and `reasons` -1 where there is no pick): `reasons` index
    `Reasons.parts` (-1 also when not explained)."""

    users: list[str]
    picks: np.ndarray
    raw: np.ndarray
    relevance: np.ndarray
    novelty: np.ndarray
    basis: np.ndarray  # per user: HISTORY, INTERESTS or POPULAR
    reasons: np.ndarray


def picks_explained(
    model: Model,
    *,
    users: Sequence[str],
    cs: CandidateSet,
    scored: Scored,
    picks: np.ndarray,
    reasons: Reasons | None,
) -> Explained:
    """The picks (users x k, -1 for none) with their values and, if `reasons` is given,
    their explanations."""
    rows, steps = np.nonzero(picks >= 0)
    cand = picks[rows, steps]

    def at_picks(values: np.ndarray) -> np.ndarray:
        out = np.zeros(picks.shape)
        out[rows, steps] = values[rows, cand]
        return out

    numbers = np.full(picks.shape, -1, dtype=np.int64)
    if reasons is not None:
        if reasons.model is not model or reasons.cs is not cs:
            raise ValueError("These reasons belong to another model or candidate set.")
        numbers[rows, steps] = reasons.of(
            _codes(reasons, scored, picks, rows=rows, steps=steps, cand=cand)
        )
    return Explained(
        users=list(users),
        picks=picks,
        raw=at_picks(scored.raw),
        relevance=at_picks(scored.relevance),
        novelty=at_picks(scored.novelty),
        basis=scored.basis,
        reasons=numbers,
    )


def recommendations_of(
    explained: Explained, cs: CandidateSet, reasons: Reasons | None
) -> dict[str, list[Recommendation]]:
    """Each user's picks as Recommendations."""
    ids = [item.id for item in cs.items]
    parts: list[tuple[rr.ExplanationPart, ...]] = reasons.parts if reasons is not None else []
    columns = zip(
        explained.picks.tolist(),
        explained.raw.tolist(),
        explained.relevance.tolist(),
        explained.novelty.tolist(),
        explained.reasons.tolist(),
        strict=True,
    )
    out: dict[str, list[Recommendation]] = {}
    for user, basis, (picks, raw, relevance, novelty, numbers) in zip(
        explained.users, explained.basis.tolist(), columns, strict=True
    ):
        name = BASIS_NAMES[basis]
        out[user] = [
            Recommendation(ids[j], score, rel, nov, name, parts[n] if n >= 0 else ())
            for j, score, rel, nov, n in zip(picks, raw, relevance, novelty, numbers, strict=True)
            if j >= 0
        ]
    return out


def _anchors(rows: sp.csr_matrix, cs: CandidateSet, picks: np.ndarray) -> np.ndarray:
    """For each pick, the past item of the person's history that added most to its score
    (the first of equals in the history's order)."""
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


def _theme_columns(model: Model, cs: CandidateSet) -> tuple[np.ndarray, dict[str, int], int]:
    """Each candidate's themes in their order as columns of a vocabulary (the model's themes,
    then the candidates' unknown ones), padded with the column `pad` that nobody has."""
    vocab = dict(model.theme_index)
    for item in cs.items:
        for t in item.themes:
            vocab.setdefault(t, len(vocab))
    pad = len(vocab)
    width = max((len(item.themes) for item in cs.items), default=0)
    columns = np.full((len(cs), width), pad, dtype=np.int64)
    for j, item in enumerate(cs.items):
        columns[j, : len(item.themes)] = [vocab[t] for t in item.themes]
    return columns, vocab, pad


def _codes(
    reasons: Reasons,
    scored: Scored,
    picks: np.ndarray,
    *,
    rows: np.ndarray,
    steps: np.ndarray,
    cand: np.ndarray,
) -> np.ndarray:
    """What decides each pick's explanation (one row per pick, the columns above)."""
    model, cs = reasons.model, reasons.cs
    n_users, pad = len(scored.basis), reasons.pad
    # Per user over the vocabulary (+ the pad column): attended themes, stated interests.
    familiar = np.zeros((n_users, pad + 1), dtype=bool)
    familiar[:, : len(model.theme_vocab)] = scored.user_themes > 0
    interested = np.zeros((n_users, pad + 1), dtype=bool)
    for r, chosen in enumerate(scored.interests):
        for t in chosen:
            if t in reasons.vocab:
                interested[r, reasons.vocab[t]] = True
    themes_of = reasons.theme_columns[cand]  # picks x themes of the widest candidate
    present = themes_of != pad
    history = scored.basis[rows] == HISTORY
    new_themes = present & ~familiar[rows[:, None], themes_of] & history[:, None]
    matched = present & interested[rows[:, None], themes_of]
    kind = cs.kinds[cand]
    has_kind = np.array([bool(item.kind) for item in cs.items], dtype=bool)[cand]
    kind_seen = np.zeros(len(cand), dtype=bool)
    known = kind >= 0
    kind_seen[known] = scored.user_kinds[rows[known], kind[known]] > 0
    new_kind = has_kind & ~kind_seen & history
    anchor = np.where(history, _anchors(scored.rows, cs, picks)[rows, steps], -1) + 1
    return np.column_stack(
        [cand, scored.basis[rows], anchor, new_kind, *_masks(new_themes), *_masks(matched)]
    ).astype(np.int64)


def _masks(flags: np.ndarray) -> list[np.ndarray]:
    """Rows of flags (picks x positions) as bit masks, one column per 62 positions."""
    words = -(-flags.shape[1] // _WORD) or 1
    bits = np.left_shift(1, np.arange(_WORD, dtype=np.int64))
    return [
        flags[:, w * _WORD : (w + 1) * _WORD] @ bits[: min(_WORD, flags.shape[1] - w * _WORD)]
        for w in range(words)
    ]


def _parts(model: Model, cs: CandidateSet, code: tuple[int, ...]) -> tuple[rr.ExplanationPart, ...]:
    """The explanation that a code stands for."""
    item = cs.items[code[_CANDIDATE]]
    basis, anchor = code[_BASIS], code[_ANCHOR] - 1
    words = (len(code) - _NEW_KIND - 1) // 2

    def themes(first: int) -> tuple[str, ...]:
        """The candidate's themes whose bits are set in the masks from column `first` on."""
        return tuple(
            t for p, t in enumerate(item.themes) if code[first + p // _WORD] >> p % _WORD & 1
        )

    parts: list[rr.ExplanationPart] = []
    if basis == HISTORY:
        new_themes = themes(_NEW_KIND + 1)
        new_kind = (item.kind,) if code[_NEW_KIND] else ()
        anchor_ids = (model.past_ids[anchor],) if anchor >= 0 else ()
        if new_themes or new_kind:
            parts.append(
                rr.ExplanationPart(
                    rr.NEW_FOR_YOU, item_ids=anchor_ids, themes=new_themes, item_kinds=new_kind
                )
            )
        elif anchor_ids:
            parts.append(rr.ExplanationPart(rr.BECAUSE_VISITED, item_ids=anchor_ids))
    matched = themes(_NEW_KIND + 1 + words)
    if matched:
        parts.append(rr.ExplanationPart(rr.INTEREST, themes=matched))
    if not parts:
        # "We do not know your interests yet" is only true of someone who told us none.
        parts.append(rr.ExplanationPart(rr.POPULAR if basis == POPULAR else rr.ALSO_POPULAR))
    return tuple(parts)
