"""The model's knobs and constants, and what a recommendation is."""

from __future__ import annotations

from dataclasses import dataclass, field

from publikum.core.errors import ValidationFailed
from publikum.discovery import rerank as rr
from publikum.discovery.features import DAYPARTS, FeatureWeights

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
