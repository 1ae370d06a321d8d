"""A programme prepared for serving, and what the dial needs to know about its items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from publikum.discovery.data import Item
from publikum.discovery.recommender.config import EXPOSURE_K, SIMILAR_THEMES


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


def exposure(transfer: np.ndarray, sample: sp.csr_matrix) -> np.ndarray:
    """Share of the people in `sample` whose plain top 10 holds each candidate, max = 1."""
    n_cand = transfer.shape[1]
    if n_cand == 0 or sample.shape[0] == 0:
        return np.zeros(n_cand)
    scores = np.asarray(sample @ transfer)
    top = min(EXPOSURE_K, n_cand)
    best = np.argpartition(-scores, top - 1, axis=1)[:, :top]
    counts = np.bincount(best.ravel(), minlength=n_cand).astype(np.float64)
    return np.log1p(counts) / np.log1p(counts.max())


def similarity(candidates: Sequence[Item]) -> np.ndarray:
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
