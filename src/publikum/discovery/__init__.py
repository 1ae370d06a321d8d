"""Discovery: recommendations of upcoming dates that fit a person and widen their horizon.

A pure library (numpy, scipy, scikit-learn; no models, no database): `recommender.fit`
learns from past interactions and item content, `rerank` applies the horizon dial and
builds explanations, `evaluation` measures it offline on a house's own CSV files. The
Django side (models, pages, API, worker) calls into it with plain data.
See docs/discovery.md for the method and the formulas.
"""

from __future__ import annotations

from publikum.discovery.data import Interaction, Item, Person
from publikum.discovery.recommender import (
    CandidateSet,
    Model,
    ModelConfig,
    Recommendation,
    fit,
)
from publikum.discovery.rerank import ExplanationPart, render_explanation

__all__ = [
    "CandidateSet",
    "ExplanationPart",
    "Interaction",
    "Item",
    "Model",
    "ModelConfig",
    "Person",
    "Recommendation",
    "fit",
    "render_explanation",
]
