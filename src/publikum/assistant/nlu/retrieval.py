"""Finding the knowledge entry a question is about, and personal topics.

Index: a small BM25F over the organisation's active `KnowledgeEntry` rows, one index per
query language. A document's fields count with weights (question and phrases in the asked
language 3, its answer 1, question and phrases of the other language 1, the other answer
0.3); every field is turned into terms with its own language's stemmer
(`text.terms`), with German compounds split against the knowledge base's own words and
the organisation's synonym groups added to the documents. Own implementation (no numpy):
a knowledge base has tens to a few hundred entries, where plain dictionaries are faster
than bm25s's sparse matrices and the index builds in milliseconds.

Typos: a query term (5 letters or more) not in the index vocabulary is replaced by the
closest vocabulary term when rapidfuzz's ratio is 85 or more.

Score (0..1, comparable across queries; the engine uses it as confidence):

    coverage(d) = sum of idf(t) over the query terms t that d contains (a term found only in
                  an answer counts 0.6), divided by the sum of idf over all query terms
                  (a term the index does not know counts with the highest idf)
    score(d)    = coverage(d) * bm25(d) / bm25(best) * (0.8 + 0.2 * margin)
    margin      = (bm25(best) - bm25(second)) / bm25(best), for the best hit only; 0 else

So a question whose important words are all found in one entry, clearly ahead of the next,
scores near 1; off-topic text ("wie wird das Wetter") scores near 0 because its words are
unknown to the index; two equally good entries each keep at least 0.8 of their coverage.

Cache: per (organisation, language) with a version key from the count of entries, the
latest `updated_at` of entries and the settings' `updated_at`; checking it is one small
aggregate query. Building is guarded by a lock; searching only reads.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Q
from rapidfuzz import fuzz, process

from publikum.assistant.nlu.text import (
    expand_synonyms,
    normalise,
    parse_synonyms,
    terms,
    tokens,
)

if TYPE_CHECKING:
    from publikum.assistant.models import PersonalTopic
    from publikum.core.models import Organisation

K1 = 1.2
B = 0.75
FUZZY_CUTOFF = 85
ANSWER_ONLY = 0.6
# (field, weight) for a query in the entry's language; the other language's fields follow.
SAME_WEIGHTS = {"question": 3.0, "phrases": 3.0, "answer": 1.0}
OTHER_WEIGHTS = {"question": 1.0, "phrases": 1.0, "answer": 0.3}


@dataclass(frozen=True)
class Hit:
    entry_id: int
    score: float  # 0..1, see the module doc


@dataclass
class _Doc:
    entry_id: int
    tf: dict[str, float]  # weighted term frequency over all fields
    strong: frozenset[str]  # terms in a question or phrases (either language)
    length: float


@dataclass
class _Index:
    docs: list[_Doc]
    idf: dict[str, float]
    postings: dict[str, list[int]]
    avg_length: float
    vocabulary: frozenset[str]  # folded words, for the compound splitter
    term_list: list[str] = field(default_factory=list)  # for fuzzy lookups
    max_idf: float = 1.0


_cache: dict[tuple[int, str], tuple[Any, _Index]] = {}
_topics_cache: dict[int, tuple[Any, list[tuple[Any, list[frozenset[str]], list[str]]]]] = {}
_lock = threading.Lock()


def _version(organisation: Organisation) -> tuple[Any, ...]:
    from publikum.assistant.models import AssistantSettings, KnowledgeEntry

    figures = KnowledgeEntry.objects.filter(organisation=organisation).aggregate(
        n=Count("id"), active=Count("id", filter=Q(active=True)), latest=Max("updated_at")
    )
    settings_at = (
        AssistantSettings.objects.filter(organisation=organisation)
        .values_list("updated_at", flat=True)
        .first()
    )
    return (figures["n"], figures["active"], figures["latest"], settings_at)


def _synonyms(organisation: Organisation) -> list[set[str]]:
    from publikum.assistant.models import AssistantSettings

    text = (
        AssistantSettings.objects.filter(organisation=organisation)
        .values_list("synonyms", flat=True)
        .first()
    )
    return parse_synonyms(text or "")


def _build(organisation: Organisation, language: str) -> _Index:
    from publikum.assistant.models import KnowledgeEntry

    entries = list(
        KnowledgeEntry.objects.filter(organisation=organisation, active=True).only(
            "id", "question_de", "question_en", "answer_de", "answer_en", "phrases_de", "phrases_en"
        )
    )
    groups = _synonyms(organisation)
    vocabulary: set[str] = set()
    for entry in entries:
        for text in (entry.question_de, entry.phrases_de, entry.answer_de):
            vocabulary.update(t for t in tokens(text) if len(t) >= 3 and t.isalpha())
    for group in groups:
        for member in group:
            vocabulary.update(t for t in tokens(member) if len(t) >= 3 and t.isalpha())
    vocab = frozenset(vocabulary)
    other = "en" if language == "de" else "de"

    docs: list[_Doc] = []
    for entry in entries:
        tf: defaultdict[str, float] = defaultdict(float)
        strong: set[str] = set()
        for lang, weights in ((language, SAME_WEIGHTS), (other, OTHER_WEIGHTS)):
            fields = {
                "question": getattr(entry, f"question_{lang}"),
                "phrases": getattr(entry, f"phrases_{lang}"),
                "answer": getattr(entry, f"answer_{lang}"),
            }
            for name, text in fields.items():
                if not text:
                    continue
                found = expand_synonyms(terms(text, lang, vocabulary=vocab), groups)
                for term in found:
                    tf[term] += weights[name]
                if name != "answer":
                    strong.update(found)
        docs.append(
            _Doc(entry_id=entry.id, tf=dict(tf), strong=frozenset(strong), length=sum(tf.values()))
        )
    n = len(docs)
    postings: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        for term in doc.tf:
            postings.setdefault(term, []).append(i)
    idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
    avg = sum(d.length for d in docs) / n if n else 1.0
    return _Index(
        docs=docs,
        idf=idf,
        postings=postings,
        avg_length=avg or 1.0,
        vocabulary=vocab,
        term_list=sorted(postings),
        max_idf=math.log(1 + (n + 0.5) / 0.5),
    )


def index_for(organisation: Organisation, language: str) -> _Index:
    """The (cached) index of the organisation for queries in `language`."""
    lang = "en" if language == "en" else "de"
    key = (organisation.pk, lang)
    version = _version(organisation)
    cached = _cache.get(key)
    if cached and cached[0] == version:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == version:
            return cached[1]
        index = _build(organisation, lang)
        _cache[key] = (version, index)
        return index


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _topics_cache.clear()


def _query_terms(index: _Index, text: str, language: str) -> list[str]:
    out: list[str] = []
    for term in dict.fromkeys(terms(text, language, vocabulary=index.vocabulary)):
        if term in index.idf or len(term) < 5 or term.isdigit() or not index.term_list:
            out.append(term)
            continue
        best = process.extractOne(
            term, index.term_list, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
        )
        out.append(best[0] if best else term)
    return list(dict.fromkeys(out))


def search(organisation: Organisation, text: str, language: str, *, k: int = 3) -> list[Hit]:
    """The best `k` active entries for `text`, best first, with scores 0..1 (module doc)."""
    lang = "en" if language == "en" else "de"
    index = index_for(organisation, lang)
    if not index.docs:
        return []
    query = _query_terms(index, text, lang)
    if not query:
        return []
    raw: dict[int, float] = {}
    for term in query:
        idf = index.idf.get(term)
        if idf is None:
            continue
        for i in index.postings[term]:
            doc = index.docs[i]
            tf = doc.tf[term]
            norm = K1 * (1 - B + B * doc.length / index.avg_length)
            raw[i] = raw.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
    if not raw:
        return []
    total_idf = sum(index.idf.get(t, index.max_idf) for t in query)
    ranked = sorted(raw.items(), key=lambda item: (-item[1], index.docs[item[0]].entry_id))
    best = ranked[0][1]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (best - second) / best if best > 0 else 0.0
    hits: list[Hit] = []
    for rank, (i, value) in enumerate(ranked[:k]):
        doc = index.docs[i]
        matched = sum(
            index.idf[t] * (1.0 if t in doc.strong else ANSWER_ONLY) for t in query if t in doc.tf
        )
        coverage = matched / total_idf if total_idf else 0.0
        factor = 0.8 + 0.2 * margin if rank == 0 else 0.8
        score = coverage * (value / best) * factor
        hits.append(Hit(entry_id=doc.entry_id, score=round(min(1.0, max(0.0, score)), 4)))
    hits.sort(key=lambda h: -h.score)
    return hits


# --- personal topics ---------------------------------------------------------------------


def _topics_version(organisation: Organisation) -> tuple[Any, ...]:
    from publikum.assistant.models import PersonalTopic

    figures = PersonalTopic.objects.filter(organisation=organisation).aggregate(
        n=Count("id"), latest=Max("updated_at")
    )
    return (figures["n"], figures["latest"])


def _topics(organisation: Organisation) -> list[tuple[Any, list[frozenset[str]], list[str]]]:
    """Each topic with its phrases as term sets (German and English stemming) and its
    single folded words (for fuzzy matching)."""
    from publikum.assistant.models import PersonalTopic

    version = _topics_version(organisation)
    cached = _topics_cache.get(organisation.pk)
    if cached and cached[0] == version:
        return cached[1]
    built: list[tuple[Any, list[frozenset[str]], list[str]]] = []
    for topic in PersonalTopic.objects.filter(organisation=organisation):
        phrase_terms: list[frozenset[str]] = []
        singles: list[str] = []
        for raw_line in topic.phrases.splitlines():
            line = raw_line.strip()
            if not line:
                continue
            for lang in ("de", "en"):
                found = frozenset(terms(line, lang, keep_stopwords=True))
                if found and found not in phrase_terms:
                    phrase_terms.append(found)
            words = tokens(line)
            if len(words) == 1 and len(words[0]) >= 5:
                singles.append(words[0])
        built.append((topic, phrase_terms, singles))
    with _lock:
        _topics_cache[organisation.pk] = (version, built)
    return built


def matching_personal_topic(
    organisation: Organisation, text: str, language: str
) -> PersonalTopic | None:
    """The first personal topic (by name) one of whose phrases is in `text`.

    A phrase matches when all its stemmed terms are among the text's terms (German or
    English stemming, compounds split against the phrase words), or, for a single word of
    five letters or more, when a word of the text is within rapidfuzz ratio 88 of it
    ("Beschwerde" ~ "Beschwerte") or starts/ends with it as part of a compound.
    """
    topics = _topics(organisation)
    if not topics or not normalise(text):
        return None
    words = tokens(text)
    vocab = frozenset(w for _, _, singles in topics for w in singles)
    text_terms = set(terms(text, "de", vocabulary=vocab, keep_stopwords=True)) | set(
        terms(text, "en", keep_stopwords=True)
    )
    for topic, phrase_terms, singles in topics:
        if any(p <= text_terms for p in phrase_terms):
            return topic
        for single in singles:
            for word in words:
                if len(word) < 4:
                    continue
                if fuzz.ratio(word, single) >= 88:
                    return topic
                if len(word) > len(single) and (
                    word.startswith(single[:-1]) or word.endswith(single)
                ):
                    return topic
    return None
