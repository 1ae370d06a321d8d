"""Item content as a sparse vector: themes, kind, words of title and text, time of day.

The vector is how an upcoming date, which nobody has attended yet, is tied to the past ones
people did attend. Each block is L2-normalised and then weighted, so that a long description
does not drown the themes, and an item without a description still has a usable vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from publikum.discovery.data import Item

# German function words (articles, pronouns, prepositions, conjunctions, auxiliaries and
# the words programme texts are full of); scikit-learn ships only an English list.
_GERMAN = """
    aber alle allem allen aller alles als also am an ander andere anderem anderen anderer
    anderes anderm andern anders auch auf aus bei beim bin bis bist da damit dann das dass
    dasselbe dazu dein deine deinem deinen deiner deines dem demselben den denn denselben der
    derer derselbe derselben des desselben dessen dich die dies diese dieselbe dieselben
    diesem diesen dieser dieses dir doch dort du durch ein eine einem einen einer eines
    einig einige einigem einigen einiger einiges einmal er es etwas euch euer eure eurem
    euren eurer eures für gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich
    ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist jede jedem jeden jeder
    jedes jene jenem jenen jener jenes jetzt kann kein keine keinem keinen keiner keines
    können könnte machen man manche manchem manchen mancher manches mein meine meinem meinen
    meiner meines mich mir mit muss musste nach nicht nichts noch nun nur ob oder ohne sehr
    sein seine seinem seinen seiner seines selbst sich sie sind so solche solchem solchen
    solcher solches soll sollte sondern sonst über um und uns unser unsere unserem unseren
    unserer unseres unter viel vom von vor während war waren warst was weg weil weiter
    welche welchem welchen welcher welches wenn werde werden wie wieder will wir wird wirst
    wo wollen wollte würde würden zu zum zur zwar zwischen etwa uhr ab sowie bzw ca jeweils
"""
GERMAN_STOP_WORDS = frozenset(_GERMAN.split())
STOP_WORDS = sorted(GERMAN_STOP_WORDS | ENGLISH_STOP_WORDS)

DAYPARTS = ("morning", "afternoon", "evening")
TIME_SLOTS = 7 * len(DAYPARTS)


def daypart(hour: int) -> int:
    """0 before noon, 1 until five, 2 from five in the evening: how houses plan their days."""
    return 0 if hour < 12 else 1 if hour < 17 else 2


def time_slot(item: Item) -> int:
    """Weekday x daypart as 0..20, or -1 for an item without a start (a web page, a shop)."""
    if item.starts_at is None:
        return -1
    return item.starts_at.weekday() * len(DAYPARTS) + daypart(item.starts_at.hour)


def _tokens(values: Sequence[str]) -> list[str]:
    # Module-level so that a fitted model pickles (the worker stores it).
    return list(values)


def _kind(item: Item) -> tuple[str, ...]:
    return (item.kind,) if item.kind else ()


def _text(item: Item) -> str:
    return f"{item.title} {item.description}"


def _fitted(vectorizer: TfidfVectorizer, docs: list[Any]) -> TfidfVectorizer | None:
    """The fitted vectorizer, or None when the docs hold no token (no themes, only stop words)."""
    try:
        vectorizer.fit(docs)
    except ValueError:
        return None
    return vectorizer


@dataclass(frozen=True)
class FeatureWeights:
    """Weight of each block in dot products between items (a block's cosine times weight²)."""

    themes: float = 1.0
    kind: float = 0.6
    text: float = 0.8
    time: float = 0.4


class ItemFeaturizer:
    """Learns the vocabulary of themes, kinds and words from the items it is fitted on.

    Themes and words that appear only later (an upcoming item's new theme) are ignored by
    `transform`; the item still has its other blocks.
    """

    def __init__(self, weights: FeatureWeights | None = None, *, max_words: int = 20000) -> None:
        self.weights = weights or FeatureWeights()
        self.max_words = max_words
        self.themes: TfidfVectorizer | None = None
        self.kind: TfidfVectorizer | None = None
        self.text: TfidfVectorizer | None = None
        self.n_features = 0

    def fit(self, items: Sequence[Item]) -> ItemFeaturizer:
        self.themes = _fitted(
            TfidfVectorizer(analyzer=_tokens, lowercase=False), [i.themes for i in items]
        )
        self.kind = _fitted(
            TfidfVectorizer(analyzer=_tokens, lowercase=False, use_idf=False),
            [_kind(i) for i in items],
        )
        text = TfidfVectorizer(
            stop_words=STOP_WORDS,
            sublinear_tf=True,
            min_df=2 if len(items) >= 50 else 1,
            max_features=self.max_words,
        )
        self.text = _fitted(text, [_text(i) for i in items])
        self.n_features = self.transform(items[:1]).shape[1]
        return self

    def transform(self, items: Sequence[Item]) -> sp.csr_matrix:
        w = self.weights
        blocks: list[sp.spmatrix] = []
        if self.themes is not None:
            blocks.append(self.themes.transform([i.themes for i in items]) * w.themes)
        if self.kind is not None:
            blocks.append(self.kind.transform([_kind(i) for i in items]) * w.kind)
        if self.text is not None:
            blocks.append(self.text.transform([_text(i) for i in items]) * w.text)
        slots = np.array([time_slot(item) for item in items], dtype=np.int64)
        blocks.append(_time_block(slots) * w.time)
        return sp.hstack(blocks, format="csr", dtype=np.float64)


def _time_block(slots: np.ndarray) -> sp.csr_matrix:
    """Weekday one-hot plus daypart one-hot, L2-normalised; zero for undated items."""
    n = len(slots)
    dated = np.flatnonzero(slots >= 0)
    rows = np.concatenate([dated, dated])
    cols = np.concatenate([slots[dated] // len(DAYPARTS), 7 + slots[dated] % len(DAYPARTS)])
    data = np.ones(len(rows))
    block = sp.csr_matrix((data, (rows, cols)), shape=(n, 7 + len(DAYPARTS)))
    return normalize(block)
