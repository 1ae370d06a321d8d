"""The horizon dial: from "only the familiar" (0) to "mostly new" (1), never the irrelevant.

Given each candidate's relevance for a person (0..1, the person's best candidate is 1), how
new it is for them (themes and kinds they have not attended) and how alike the candidates
are, `rerank` picks a list greedily in the manner of maximal marginal relevance (Carbonell
and Goldstein 1998):

    pick argmax_j  (1 - h) * rel(j) + h * (w_n * nov(j) + (1 - w_n) * (1 - max_{s in S} sim(j, s)))

among the eligible candidates: those with rel >= `floor` and, so that a high horizon widens
the list without reaching far down the ranking, within the `pool(h) = ceil(k * (1 + p * h))`
most relevant. At h = 0 this is the plain relevance order.

The second half of the module turns a pick into an explanation: structured parts
(`ExplanationPart`) that the caller stores, and `render_explanation` for German and
English sentences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from publikum.core.errors import ValidationFailed

DEFAULT_FLOOR = 0.25
DEFAULT_POOL_FACTOR = 3.0
DEFAULT_NOVELTY_SHARE = 0.5


def check_horizon(horizon: float) -> float:
    """The horizon as a float in 0..1, or ValidationFailed naming the value."""
    try:
        value = float(horizon)
    except (TypeError, ValueError):
        raise ValidationFailed(
            f"The horizon must be a number from 0 to 1, not {horizon!r}."
        ) from None
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValidationFailed(f"The horizon must be between 0 and 1, not {horizon}.")
    return value


def pool_size(k: int, horizon: float, pool_factor: float = DEFAULT_POOL_FACTOR) -> int:
    """How far down the relevance ranking the dial may reach for a list of k."""
    return math.ceil(k * (1.0 + pool_factor * horizon))


def rerank(
    relevance: np.ndarray,
    novelty: np.ndarray,
    similarity: np.ndarray,
    *,
    k: int,
    horizon: float,
    eligible: np.ndarray | None = None,
    floor: float = DEFAULT_FLOOR,
    pool_factor: float = DEFAULT_POOL_FACTOR,
    novelty_share: float = DEFAULT_NOVELTY_SHARE,
) -> np.ndarray:
    """Top-k candidate indices per row (users x k), -1 where fewer than k are eligible.

    `relevance` and `novelty` are (users x candidates) in 0..1; `similarity` is (candidates x
    candidates) in 0..1; `eligible` masks out candidates a person cannot attend (practical
    fit). All rows are handled at once, so a batch of thousands of users costs k steps.
    """
    horizon = check_horizon(horizon)
    n_users, n_cand = relevance.shape
    picks = np.full((n_users, k), -1, dtype=np.int64)
    if n_cand == 0 or k <= 0:
        return picks
    allowed = relevance >= floor
    if eligible is not None:
        allowed &= eligible
    pool = pool_size(k, horizon, pool_factor)
    if pool < n_cand:
        allowed &= _within_pool(np.where(allowed, relevance, -np.inf), pool)
    base = (1.0 - horizon) * relevance + horizon * novelty_share * novelty
    spread = horizon * (1.0 - novelty_share)
    # Each row's allowed candidates only (at most `pool`), in index order so that argmax
    # breaks ties as over the whole row: the same picks at a fraction of the work.
    counts = allowed.sum(axis=1)
    width = int(counts.max(initial=0))
    if width == 0:
        return picks
    columns = np.argsort(~allowed, axis=1, kind="stable")[:, :width]
    unpicked = np.arange(width)[None, :] < counts[:, None]
    base = np.take_along_axis(base, columns, axis=1)
    closest = np.zeros((n_users, width))
    rows = np.arange(n_users)
    for step in range(min(k, n_cand)):
        objective = np.where(unpicked, base + spread * (1.0 - closest), -np.inf)
        best = np.argmax(objective, axis=1)
        ok = np.isfinite(objective[rows, best])
        if not ok.any():
            break
        chosen = columns[rows[ok], best[ok]]
        picks[ok, step] = chosen
        unpicked[rows[ok], best[ok]] = False
        if spread:
            closest[ok] = np.maximum(closest[ok], similarity[chosen[:, None], columns[ok]])
    # A row that ran out early has its -1 gaps at the end: later steps had nothing either.
    return picks


def _within_pool(masked: np.ndarray, pool: int) -> np.ndarray:
    """Whether each candidate is among the `pool` first of its row ordered by `masked`,
    highest first, equal values by index (a stable sort's ranks, without the sort)."""
    n_cand = masked.shape[1]
    kth = np.partition(masked, n_cand - pool, axis=1)[:, n_cand - pool, None]
    above = masked > kth
    tied = masked == kth
    room = pool - above.sum(axis=1, keepdims=True)
    return above | (tied & (np.cumsum(tied, axis=1) <= room))


# --- explanations -------------------------------------------------------------------------

BECAUSE_VISITED = "because_visited"
NEW_FOR_YOU = "new_for_you"
INTEREST = "interest"
POPULAR = "popular"
ALSO_POPULAR = "also_popular"
EXPLANATION_KINDS = (BECAUSE_VISITED, NEW_FOR_YOU, INTEREST, POPULAR, ALSO_POPULAR)


@dataclass(frozen=True, slots=True)
class ExplanationPart:
    """One reason, as data: `kind` is one of EXPLANATION_KINDS.

    because_visited: `item_ids` = the past item that weighed most for this pick;
    new_for_you: `themes`/`item_kinds` the person has not attended, `item_ids` the past item
    whose visitors make the link; interest: `themes` stated as interests that the pick has;
    popular: no history and no stated interest, a pick from a diverse popular selection;
    also_popular: a person we know something of, a pick none of the other reasons covers
    (outside their stated interests, ranked by popularity).
    """

    kind: str
    item_ids: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    item_kinds: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "item_ids": list(self.item_ids),
            "themes": list(self.themes),
            "item_kinds": list(self.item_kinds),
        }


TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        BECAUSE_VISITED: "Because you visited {items}.",
        NEW_FOR_YOU: "New for you: {what}. Chosen because people who enjoyed {items} also "
        "came to events like this.",
        NEW_FOR_YOU + ":no_anchor": "New for you: {what}.",
        INTEREST: "Because you are interested in {themes}.",
        POPULAR: "We do not know your interests yet: a varied choice of what is popular.",
        ALSO_POPULAR: "Also popular with our audience.",
        "and": "and",
    },
    "de": {
        BECAUSE_VISITED: "Weil Sie {items} besucht haben.",
        NEW_FOR_YOU: "Neu für Sie: {what}. Ausgewählt, weil Menschen, denen {items} gefallen "
        "hat, auch zu Veranstaltungen wie dieser kamen.",
        NEW_FOR_YOU + ":no_anchor": "Neu für Sie: {what}.",
        INTEREST: "Weil Sie sich für {themes} interessieren.",
        POPULAR: "Wir kennen Ihre Interessen noch nicht: eine abwechslungsreiche Auswahl "
        "dessen, was gefragt ist.",
        ALSO_POPULAR: "Auch bei unserem Publikum gefragt.",
        "and": "und",
    },
}


def _join(words: Sequence[str], conjunction: str) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def _quoted(title: str, language: str) -> str:
    return f"„{title}“" if language == "de" else f"“{title}”"


def render_explanation(
    parts: Sequence[ExplanationPart],
    language: str,
    *,
    titles: Mapping[str, str],
    theme_names: Mapping[str, str] | None = None,
    kind_names: Mapping[str, str] | None = None,
) -> str:
    """The parts as sentences in `language` ("de" or "en"; anything else falls back to "en").

    `titles` maps item ids to their title in that language, `theme_names` and `kind_names`
    map slugs to display names (the slug is shown when a name is missing).
    """
    language = (language or "en")[:2].lower()
    texts = TEMPLATES.get(language, TEMPLATES["en"])
    theme_names = theme_names or {}
    kind_names = kind_names or {}
    conjunction = texts["and"]
    sentences: list[str] = []
    for part in parts:
        items = _join([_quoted(titles.get(i, i), language) for i in part.item_ids], conjunction)
        themes = _join([theme_names.get(t, t) for t in part.themes], conjunction)
        kinds = [kind_names.get(k, k) for k in part.item_kinds]
        if part.kind == NEW_FOR_YOU:
            what = _join([*(theme_names.get(t, t) for t in part.themes), *kinds], conjunction)
            key = NEW_FOR_YOU if part.item_ids else NEW_FOR_YOU + ":no_anchor"
            sentences.append(texts[key].format(what=what, items=items))
        elif part.kind in texts:
            sentences.append(texts[part.kind].format(items=items, themes=themes))
    return " ".join(sentences)
