"""The intent of a visitor's message: a small scikit-learn classifier.

Features: TF-IDF of character n-grams (2 to 5, within word boundaries, on the folded text,
so typos and missing umlauts still share most n-grams) and of words (1 to 2). Model:
logistic regression (multinomial, saga, C=10, balanced class weights). Trained once per
process at first use from the phrases in `intent_examples.py` (German and English together; the
language is not a feature, visitors mix), behind a lock; training takes well under a
second.

`classify` returns the probabilities of all intents, best first. The engine combines them
with retrieval: `faq` is the intent of questions about the house that are not opening
hours, prices, address, accessibility, facilities or programme; its entry comes from
`retrieval.search`.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from publikum.assistant.nlu.text import normalise

INTENTS: tuple[str, ...] = (
    "greeting",
    "thanks",
    "goodbye",
    "opening_hours",
    "prices",
    "address",
    "accessibility",
    "facilities",
    "programme",
    "book",
    "human",
    "faq",
    "unknown",
)

_model: Any = None
_lock = threading.Lock()


def _prepare(text: str) -> str:
    return normalise(text)[:500]


def training_data() -> tuple[list[str], list[str]]:
    """(texts, labels) of all shipped examples, both languages."""
    from publikum.assistant.nlu.intent_examples import EXAMPLES

    texts: list[str] = []
    labels: list[str] = []
    for intent, by_language in EXAMPLES.items():
        for phrases in by_language.values():
            for phrase in phrases:
                texts.append(phrase)
                labels.append(intent)
    return texts, labels


def build_model(texts: list[str], labels: list[str]) -> Any:
    """A fitted pipeline (exposed for the held-out tests and the evaluation)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1
                ),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - a regex, not a password
                ),
            ),
        ]
    )
    model = Pipeline(
        [
            ("features", features),
            (
                "clf",
                LogisticRegression(
                    C=10.0, solver="saga", tol=1e-3, max_iter=300, class_weight="balanced"
                ),
            ),
        ]
    )
    with warnings.catch_warnings():
        # saga with a loose tolerance may stop before sklearn calls it converged; the
        # accuracy is the same as lbfgs to convergence (measured) at a tenth of the time.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit([_prepare(t) for t in texts], labels)
    return model


def _get_model() -> Any:
    global _model  # noqa: PLW0603 - one model per process, trained lazily
    if _model is None:
        with _lock:
            if _model is None:
                texts, labels = training_data()
                _model = build_model(texts, labels)
    return _model


def classify_with(model: Any, text: str) -> list[tuple[str, float]]:
    probabilities = model.predict_proba([_prepare(text)])[0]
    pairs = [(str(label), float(p)) for label, p in zip(model.classes_, probabilities, strict=True)]
    pairs.sort(key=lambda pair: -pair[1])
    return pairs


def classify(text: str, language: str) -> list[tuple[str, float]]:
    """Probabilities of all intents for `text`, best first (they sum to 1).

    Empty text is `unknown` with probability 1. `language` is accepted for the interface;
    the model is bilingual.
    """
    if not normalise(text):
        return [("unknown", 1.0)] + [(i, 0.0) for i in INTENTS if i != "unknown"]
    return classify_with(_get_model(), text)
