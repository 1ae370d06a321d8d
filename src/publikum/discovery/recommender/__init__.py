"""The hybrid recommender: who came to what in the past, carried over to upcoming dates.

What a house recommends are upcoming dates nobody has attended yet (item cold start). The
model therefore learns two things from the past and joins them through item content:

1. A collaborative operator B over past items (`collaborative`): B[i, j] says how strongly
   having come to past item i predicts coming to past item j. EASE (Steck 2019, a closed-form
   ridge regression of each item on all others), PureSVD (B = V Vᵀ of a truncated SVD) or
   item-kNN (cosine, top neighbours); EASE is the default because it measured best on the
   house-like synthetic data (item-kNN led on MovieLens; docs/benchmarks/discovery.md).
2. A kernel ridge regression from item content (features.py) to B's columns (`transfer`):
   an upcoming item j with content c_j gets the column B R[:, j], with R = (K + λI)⁻¹ C cⱼᵀ
   and K = C Cᵀ over the past items' content C. In words: "an upcoming date is like these
   past ones, and people who came to i came to those".

The score of person u for candidate j is x_u · M[:, j] with

    M = B R / σ_B  +  γ · C C_candᵀ / σ_C

x_u their (log-weighted) history over past items, the second term the direct content match
("you came to things like this"), σ the spread of each term over users so that γ is a plain
mix. Stated interests, practical fit (language, target group, accessibility, the weekdays
and times of day a person comes; `scoring`) and the horizon dial (rerank.py) act on top;
people without history fall back to their stated interests, then to a diverse popular
selection. `explain` turns the picks into recommendations with their reasons.

Everything a request needs for a given programme is precomputed by `Model.prepare` (one
matrix M of past items x candidates, `candidates.CandidateSet`), so serving a person is one
sparse row times M. The fitted `Model` and `fit` live in `model`.
"""

from __future__ import annotations

from publikum.discovery.recommender.candidates import CandidateSet
from publikum.discovery.recommender.config import (
    BASIS_HISTORY,
    BASIS_INTERESTS,
    BASIS_POPULAR,
    CHUNK,
    COARSE_SLOTS,
    COLLABORATIVE,
    EXPOSURE_K,
    SCALE_SAMPLE,
    SIMILAR_THEMES,
    SLOT_PSEUDO_VISITS,
    THEME_SHARE,
    ModelConfig,
    Recommendation,
    coarse_slot,
)
from publikum.discovery.recommender.explain import Explained, Reasons
from publikum.discovery.recommender.model import Model, fit

__all__ = [
    "BASIS_HISTORY",
    "BASIS_INTERESTS",
    "BASIS_POPULAR",
    "CHUNK",
    "COARSE_SLOTS",
    "COLLABORATIVE",
    "EXPOSURE_K",
    "SCALE_SAMPLE",
    "SIMILAR_THEMES",
    "SLOT_PSEUDO_VISITS",
    "THEME_SHARE",
    "CandidateSet",
    "Explained",
    "Model",
    "ModelConfig",
    "Reasons",
    "Recommendation",
    "coarse_slot",
    "fit",
]
