"""Finding the knowledge entry a question is about, and personal topics.

Index: a small BM25F over the organisation's active `KnowledgeEntry` rows, one index per
query language. A document's fields count with weights (question and phrases in the asked
language 3, its answer 1, question and phrases of the other language 1, the other answer
0.3); every field is turned into terms with its own language's stemmer
(`text.term_groups`), with German compounds split against the knowledge base's own words.
Each line (phrases are one per line) also gives its pairs of adjacent words as terms
("dog guid"), and synonym groups add terms to the documents: the organisation's groups
and the general ones shipped in `lexicon` ("Klo", "restroom" for an entry about toilets).
A group adds the terms of its single words and the pairs of its phrases, so "guide dog"
does not make every entry with "guide" one about dogs. Added terms weigh like the field's
own but do not lengthen it. Own implementation (no numpy): a knowledge base has tens to
a few hundred entries, where plain dictionaries are faster than bm25s's sparse matrices
and the index builds in milliseconds.

Query: one group per word (its term and its compound parts), plus the pairs of adjacent
words that the index knows. Numbers the index does not know are left out. Typos: a word
(6 letters or more, no weekday or month name) that the index does not know, nor any of its
parts, is replaced by the closest vocabulary term (rapidfuzz ratio 90, or 85 from 8
letters).

Score (0..1, comparable across queries; the engine uses it as confidence):

    weight(g)   = idf of the word; of its known parts on average when only they are known;
                  the highest idf when the index knows neither; a pair 0.5 * its idf
    covered(g,d)= weight(g) when d has the word (or a pair of the query with it), else
                  0.8 * weight(g) * the idf share of its parts that d has; a term found only
                  in an answer counts 0.6
    coverage(d) = sum of covered(g, d) / sum of weight(g)
    bm25(d)     = BM25 of the words + 0.5 * of their parts + 0.5 * of the pairs, times
                  (1 + 0.3 * the largest idf share of one of d's question sentences or
                  phrases that the query says, synonyms included)
    score(d)    = coverage(d) * bm25(d) / bm25(best) * (0.8 + 0.2 * margin)
    margin      = (bm25(best) - bm25(second)) / bm25(best), for the best hit only; 0 else

So a question whose important words are all found in one entry, clearly ahead of the next,
scores near 1; off-topic text ("wie wird das Wetter") scores near 0 because its words are
unknown to the index; two equally good entries each keep at least 0.8 of their coverage,
and of two entries that know the words the one with a phrase the query says ("Wo ist das
Klo?" rather than "barrierefreies Klo") ranks first. A compound counts once, whether it
is found whole or by its parts.

Cache: per (organisation, language) with a version key from the count of entries, the
latest `updated_at` of entries and the settings' `updated_at`; checking it is one small
aggregate query. Building is guarded by a lock; searching only reads.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Q
from rapidfuzz import fuzz, process

from publikum.assistant.nlu.dates import DAY_NAMES, MONTH_NAMES
from publikum.assistant.nlu.lexicon import general_groups
from publikum.assistant.nlu.text import (
    STOPWORDS,
    normalise,
    parse_synonyms,
    stem,
    term_groups,
    terms,
    tokens,
)

if TYPE_CHECKING:
    from publikum.assistant.models import PersonalTopic
    from publikum.core.models import Organisation

K1 = 1.2
B = 0.75
ANSWER_ONLY = 0.6
# A part of a German compound counts this much in the BM25 sum ("Familienführung" gives
# the whole word and "famili", "fuhrung"), and a word matched only by its parts this share
# of the word's weight in the coverage.
PART_WEIGHT = 0.5
PART_COVER = 0.8
# Two adjacent words ("guide dog", "private Führung") are a term of their own, known to
# the index when an entry has them; a query's known pairs count this much.
PAIR_WEIGHT = 0.5
# An entry with a question or phrase (one line, query language) that the query covers
# (its words, synonyms included, weighted by idf) ranks up to this much higher: of two
# entries that both know "Klo", the one with the phrase "Wo ist das Klo?" beats the one
# with "barrierefreies Klo".
PHRASE_BONUS = 0.3
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
    # terms of each sentence of the question and each phrase, in the query language
    lines: tuple[frozenset[str], ...] = ()


@dataclass
class _Index:
    docs: list[_Doc]
    idf: dict[str, float]
    postings: dict[str, list[int]]
    avg_length: float
    vocabulary: frozenset[str]  # folded words, for the compound splitter
    term_list: list[str] = field(default_factory=list)  # for fuzzy lookups
    max_idf: float = 1.0
    synonyms: list[set[str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Group:
    """One word of the query: its term, its compound parts, and its weight."""

    whole: str
    parts: tuple[str, ...]
    weight: float
    pair: bool = False


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
    """The organisation's synonym groups and the general ones (`lexicon`)."""
    from publikum.assistant.models import AssistantSettings

    text = (
        AssistantSettings.objects.filter(organisation=organisation)
        .values_list("synonyms", flat=True)
        .first()
    )
    return parse_synonyms(text or "") + [set(g) for g in general_groups()]


def _pairs(groups: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Adjacent words as one term, in sorted order ("dog guid"; German word order varies)."""
    wholes = [whole for whole, _ in groups if not whole.isdigit()]
    return [" ".join(sorted((a, b))) for a, b in itertools.pairwise(wholes) if a != b]


@lru_cache(maxsize=4096)
def _member(member: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    """A synonym member as (terms, pairs) per language. A single word stands for its terms
    (a compound for its parts too); a phrase for its word pairs, so that "guide dog" adds
    the pair and not "guide" and "dog" on their own."""
    out: list[tuple[frozenset[str], frozenset[str]]] = []
    for lang in ("de", "en"):
        groups = term_groups(member, lang)
        if not groups:
            continue
        if len(groups) == 1:
            whole, parts = groups[0]
            out.append((frozenset((whole, *parts)), frozenset()))
        else:
            found = frozenset(t for whole, parts in groups for t in (whole, *parts))
            out.append((found, frozenset(_pairs(groups))))
    return tuple(out)


def _expand(found: set[str], synonyms: list[set[str]]) -> list[str]:
    """The terms and pairs the synonym groups add to `found` (terms and pairs): a group
    with a present member (all its terms there) adds its single words' terms and its
    phrases' pairs."""
    added: list[str] = []
    for group in synonyms:
        variants = [v for member in sorted(group) for v in _member(member)]
        if not any(terms_ <= found for terms_, _ in variants):
            continue
        for terms_, pairs in variants:
            for term in sorted(pairs or terms_):
                if term not in found:
                    found.add(term)
                    added.append(term)
    return added


def _field_terms(
    text: str, lang: str, vocab: frozenset[str], synonyms: list[set[str]]
) -> tuple[list[str], list[str]]:
    """(terms that make the field's length, added terms: synonyms and word pairs), line
    by line (phrases are one per line)."""
    base: list[str] = []
    pairs: list[str] = []
    for line in text.splitlines():
        groups = term_groups(line, lang, vocabulary=vocab)
        for whole, parts in groups:
            base.append(whole)
            base.extend(parts)
        pairs.extend(_pairs(groups))
    expanded = _expand(set(base) | set(pairs), synonyms)
    return base, pairs + expanded


def _build(organisation: Organisation, language: str) -> _Index:
    from publikum.assistant.models import KnowledgeEntry

    entries = list(
        KnowledgeEntry.objects.filter(organisation=organisation, active=True).only(
            "id", "question_de", "question_en", "answer_de", "answer_en", "phrases_de", "phrases_en"
        )
    )
    groups = _synonyms(organisation)
    stop = STOPWORDS["de"]
    vocabulary: set[str] = set()
    for entry in entries:
        for text in (entry.question_de, entry.phrases_de, entry.answer_de):
            vocabulary.update(
                t for t in tokens(text) if len(t) >= 3 and t.isalpha() and t not in stop
            )
    for group in groups:
        for member in group:
            vocabulary.update(
                t for t in tokens(member) if len(t) >= 3 and t.isalpha() and t not in stop
            )
    vocab = frozenset(vocabulary)
    other = "en" if language == "de" else "de"

    docs: list[_Doc] = []
    for entry in entries:
        tf: defaultdict[str, float] = defaultdict(float)
        strong: set[str] = set()
        length = 0.0
        asked = f"{getattr(entry, f'question_{language}')}\n{getattr(entry, f'phrases_{language}')}"
        lines = tuple(
            found
            for line in re.split(r"[\n?!.]+", asked)
            if (found := frozenset(terms(line, language, vocabulary=vocab)))
        )
        for lang, weights in ((language, SAME_WEIGHTS), (other, OTHER_WEIGHTS)):
            fields = {
                "question": getattr(entry, f"question_{lang}"),
                "phrases": getattr(entry, f"phrases_{lang}"),
                "answer": getattr(entry, f"answer_{lang}"),
            }
            for name, text in fields.items():
                if not text:
                    continue
                base, added = _field_terms(text, lang, vocab, groups)
                for term in (*base, *added):
                    tf[term] += weights[name]
                length += weights[name] * len(base)
                if name != "answer":
                    strong.update(base)
                    strong.update(added)
        docs.append(
            _Doc(
                entry_id=entry.id,
                tf=dict(tf),
                strong=frozenset(strong),
                length=length,
                lines=lines,
            )
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
        term_list=sorted(t for t in postings if " " not in t),
        max_idf=math.log(1 + (n + 0.5) / 0.5),
        synonyms=groups,
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


# Words the fuzzy match must leave alone: "Tuesday" is not a typo of "Thursday".
_NO_FUZZ = frozenset(
    form
    for names in (*DAY_NAMES.values(), *MONTH_NAMES.values())
    for name in names
    for form in (normalise(name), stem(normalise(name), "de"), stem(normalise(name), "en"))
)


def _fuzzy(index: _Index, term: str) -> str:
    """The vocabulary term `term` is a typo of, or `term`: rapidfuzz ratio 85 or more for
    words of 8 letters or more, 90 for 6 or 7; shorter words are left as they are."""
    if len(term) < 6 or term.isdigit() or not index.term_list:
        return term
    cutoff = 85 if len(term) >= 8 else 90
    best = process.extractOne(term, index.term_list, scorer=fuzz.ratio, score_cutoff=cutoff)
    return str(best[0]) if best else term


def _query(index: _Index, text: str, language: str) -> list[_Group]:
    """The query's words as groups with their coverage weight, then its known pairs."""
    found = term_groups(text, language, vocabulary=index.vocabulary)
    out: dict[str, _Group] = {}
    words: list[tuple[str, tuple[str, ...]]] = []
    for whole, parts in found:
        if whole.isdigit() and whole not in index.idf:
            continue  # "mit meiner 4. Klasse": a number the entries do not have says little
        if (
            whole not in index.idf
            and whole not in _NO_FUZZ
            and not any(p in index.idf for p in parts)
        ):
            whole = _fuzzy(index, whole)  # noqa: PLW2901 - the word as the index knows it
        if whole in out:
            continue
        known_parts = [index.idf[p] for p in parts if p in index.idf]
        if whole in index.idf:
            weight = index.idf[whole]
        elif known_parts:
            weight = sum(known_parts) / len(known_parts)
        else:
            weight = index.max_idf
        out[whole] = _Group(whole=whole, parts=parts, weight=weight)
        words.append((whole, parts))
    for pair in _pairs(words):
        if pair in index.idf and pair not in out:
            out[pair] = _Group(
                whole=pair, parts=(), weight=PAIR_WEIGHT * index.idf[pair], pair=True
            )
    return list(out.values())


def _query_terms(index: _Index, text: str, language: str) -> list[str]:
    """The query's terms (words, parts and known pairs), for inspection."""
    out: list[str] = []
    for group in _query(index, text, language):
        out.append(group.whole)
        out.extend(group.parts)
    return list(dict.fromkeys(out))


def _bm25(index: _Index, doc: _Doc, term: str) -> float:
    tf = doc.tf.get(term)
    if not tf:
        return 0.0
    norm = K1 * (1 - B + B * doc.length / index.avg_length)
    return index.idf[term] * tf * (K1 + 1) / (tf + norm)


def _covered(index: _Index, doc: _Doc, group: _Group, paired: dict[str, str]) -> float:
    """How much of the group's weight `doc` covers (module doc); `paired` maps the words
    of the query's pairs that `doc` has to that pair (a phrase synonym such as "schlecht
    sehen" adds only its pair to an entry, which then covers both words)."""

    def strength(term: str) -> float:
        return 1.0 if term in doc.strong else ANSWER_ONLY

    if group.whole in doc.tf:
        return group.weight * strength(group.whole)
    if group.whole in paired:
        return group.weight * strength(paired[group.whole])
    if not group.parts:
        return 0.0
    total = sum(index.idf.get(p, index.max_idf) for p in group.parts)
    matched = sum(index.idf[p] * strength(p) for p in group.parts if p in doc.tf)
    return group.weight * PART_COVER * matched / total


def _best_line(index: _Index, doc: _Doc, said: set[str]) -> float:
    """The largest share (by idf) of one of the entry's lines that the query says."""
    best = 0.0
    for line in doc.lines:
        if line.isdisjoint(said):
            continue
        weight = sum(index.idf[t] for t in line)
        if weight:
            best = max(best, sum(index.idf[t] for t in line if t in said) / weight)
    return best


def search(organisation: Organisation, text: str, language: str, *, k: int = 3) -> list[Hit]:
    """The best `k` active entries for `text`, best first, with scores 0..1 (module doc)."""
    lang = "en" if language == "en" else "de"
    index = index_for(organisation, lang)
    if not index.docs:
        return []
    query = _query(index, text, lang)
    if not query:
        return []
    candidates: set[int] = set()
    for group in query:
        for term in (group.whole, *group.parts):
            candidates.update(index.postings.get(term, ()))
    if not candidates:
        return []
    raw: dict[int, float] = {}
    for i in candidates:
        doc = index.docs[i]
        value = 0.0
        for group in query:
            if group.pair:
                value += PAIR_WEIGHT * _bm25(index, doc, group.whole)
                continue
            value += _bm25(index, doc, group.whole)
            value += PART_WEIGHT * sum(_bm25(index, doc, p) for p in group.parts)
        if value > 0:
            raw[i] = value
    if not raw:
        return []
    said = {t for group in query for t in (group.whole, *group.parts)}
    said.update(_expand(set(said), index.synonyms))
    for i in raw:
        raw[i] *= 1 + PHRASE_BONUS * _best_line(index, index.docs[i], said)
    total = sum(group.weight for group in query)
    ranked = sorted(raw.items(), key=lambda item: (-item[1], index.docs[item[0]].entry_id))
    best = ranked[0][1]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (best - second) / best if best > 0 else 0.0
    hits: list[Hit] = []
    for rank, (i, value) in enumerate(ranked[:k]):
        doc = index.docs[i]
        paired = {
            word: group.whole
            for group in query
            if group.pair and group.whole in doc.tf
            for word in group.whole.split()
        }
        covered = sum(_covered(index, doc, group, paired) for group in query)
        coverage = covered / total if total else 0.0
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
