"""The assistant's answers and booking dialogue: `respond` decides the reply to one visitor
message; `assistant.services.message_post` stores it.

Order of decisions for a message:

1. Language (`nlu.language.detect_language`, the conversation's language as the fallback
   for short text). A message in another language is answered in English and handed over
   at once (reason `other_language`): the visitor may not understand a question back, and
   a colleague can answer the message as written, by e-mail if the visitor leaves an
   address. Inside a running booking dialogue, short answers (names) keep the language.
2. A running booking dialogue reads the message first (`dialogue.proceed`); a question on
   the side is answered and the open question repeated.
3. An offer made by the previous reply: "shall I pass you on?" (yes hands over) or "would
   you like to book one of these?" (a number or yes starts the booking).
4. A personal topic of the house (`nlu.retrieval.matching_personal_topic`) hands over
   (`personal_topic`); a request for a person (intent `human`) too (`asked_for_person`).
5. The answer route with its confidence:
   - structured answers (opening hours, prices, programme, booking, small talk) score the
     intent probability `p(intent)` of the classifier;
   - a knowledge entry scores `(p(knowledge intents) + retrieval score) / 2`, where the
     knowledge intents are faq, address, accessibility, facilities (plus the asked intent
     when a prices or opening-hours question is answered from an entry of that topic);
     both parts are in 0..1, so is the mean;
   - the route with the higher confidence wins; ties go to the structured answer.
   Below `AssistantSettings.threshold` the message is handed over (`low_confidence`).
   Text that does not look like language at all (no known word) first gets "I did not
   understand, could you rephrase, or shall I pass you on?"; the second such message in
   a row is handed over.

Every hand-over reply says how and when the visitor hears back (`reply_time_de/en`) and
asks for an e-mail address unless one is known; `answers.while_with_staff` links an
address sent after the hand-over.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from publikum.assistant.engine import answers, dialogue, facts, titles
from publikum.assistant.engine import programme as programme_answers
from publikum.assistant.engine.base import Reply, Turn, settings_of
from publikum.assistant.engine.phrases import say
from publikum.assistant.models import KnowledgeEntry, Topic
from publikum.assistant.nlu.language import detect_language
from publikum.assistant.nlu.retrieval import matching_personal_topic
from publikum.assistant.nlu.slots import is_no, is_yes
from publikum.assistant.nlu.text import LEXICON, STOPWORDS, tokens
from publikum.conversations.models import Conversation, HandoffReason
from publikum.programme.selectors import zone_of

__all__ = ["Reply", "respond", "respond_with_staff"]

LANGUAGES = ("de", "en")
SMALL_TALK = ("greeting", "thanks", "goodbye")
# A prices or opening-hours question is answered from a knowledge entry of that topic when
# the entry matches at least this well ("Gibt es eine Ermäßigung für Studierende?").
STRONG_MATCH = 0.6
# "ok danke" after an offer is small talk when the classifier is at least this sure.
SMALL_TALK_WINS = 0.6
# A message naming a programme title with a date, a count or a booking word is a booking
# at least this surely; a count or booking word with a date ("2 Karten am Samstag") too.
TITLE_BOOKING = 0.9
DATED_BOOKING = 0.8
# A kind of event named ("Vorträge", "theatre") with no entry that matches makes a
# programme question at least this surely.
EVENTS_ASKED = 0.5
# "das Programm", "events", "what's on" make a programme question at least this surely.
PROGRAMME_NAMED = 0.7
# A programme title named without wanting to book ("wann ist {title}"): its dates.
TITLE_PROGRAMME = 0.6
# A price or reduction of the house named ("Familienkarte") makes a prices question at
# least this surely when no knowledge entry matches.
PRICE_NAMED = 0.5
# The intents a programme question may be mistaken for.
QUESTION_INTENTS = frozenset({"programme", "faq", "facilities", "accessibility", "unknown"})
# Entries of these topics answer a booking question that names nothing to book.
ANSWERS_ABOUT_BOOKING = frozenset({Topic.TICKETS, Topic.GROUPS})
# A programme answer narrowed by accessibility adds an entry that matches this well.
ACCESS_ENTRY_MATCH = 0.4


def _turn(
    conversation: Conversation, text: str, language: str, now: datetime, link_base: str
) -> Turn:
    organisation = conversation.organisation
    return Turn(
        conversation=conversation,
        organisation=organisation,
        settings=settings_of(organisation),
        text=text,
        language=language,
        now=now,
        zone=zone_of(organisation),
        state=dict(conversation.state or {}),
        link_base=link_base,
    )


def respond(
    *,
    conversation: Conversation,
    text: str,
    now: datetime | None = None,
    link_base: str = "",
) -> Reply:
    """The reply to `text` (already cleaned). Updates `conversation.state` and
    `conversation.language` in memory; the caller saves them. A booking is written
    through the bookings service when the visitor confirms one."""
    now = now or timezone.now()
    previous = conversation.language if conversation.language in LANGUAGES else None
    detected = detect_language(text, previous=previous)
    if detected not in LANGUAGES and isinstance((conversation.state or {}).get("booking"), dict):
        detected = previous or "de"
    language = detected if detected in LANGUAGES else "en"
    turn = _turn(conversation, text, language, now, link_base)
    facts.warm(turn.organisation, turn.today)
    if detected not in LANGUAGES:
        reply = answers.hand_over(
            turn,
            reason=HandoffReason.OTHER_LANGUAGE,
            intro="handover_other_language",
            intent="unknown",
            confidence=0.0,
        )
    else:
        conversation.language = language
        reply = _decide(turn)
    if reply.handoff or reply.intent != "unknown":
        turn.state["failures"] = 0
    turn.state["last_intent"] = reply.intent
    conversation.state = turn.state
    return reply


def respond_with_staff(
    *, conversation: Conversation, text: str, now: datetime | None = None
) -> Reply:
    """The short note for a message to a conversation that staff have taken over."""
    now = now or timezone.now()
    previous = conversation.language if conversation.language in LANGUAGES else "de"
    detected = detect_language(text, previous=previous)
    language = detected if detected in LANGUAGES else previous
    return answers.while_with_staff(_turn(conversation, text, language, now, ""))


def _decide(turn: Turn) -> Reply:
    offer = turn.state.pop("offer", None)
    if dialogue.active(turn):
        reply = dialogue.proceed(turn)
        if reply is not None:
            return reply
        side = _answer(turn)
        if dialogue.active(turn) and not side.handoff:
            question, options = dialogue.open_question(turn)
            side.text += "\n\n" + say("book_back", turn.language, question=question)
            side.options = options
        return side
    if isinstance(offer, dict):
        followed = _follow_offer(turn, offer)
        if followed is not None:
            return followed
    return _answer(turn)


def _follow_offer(turn: Turn, offer: dict[str, Any]) -> Reply | None:
    if turn.intent in SMALL_TALK and turn.intent_p >= SMALL_TALK_WINS:
        return None  # "Super, danke!" is thanks, not a yes to the offer
    if offer.get("kind") == "handoff":
        return _follow_handoff_offer(turn)
    if offer.get("kind") == "book":
        return _follow_book_offer(turn, offer)
    return None


def _follow_handoff_offer(turn: Turn) -> Reply | None:
    """After "shall I pass you on?": yes hands over, no asks for the next question."""
    lang = turn.language
    if is_yes(turn.text, lang):
        return answers.hand_over(
            turn,
            reason=HandoffReason.LOW_CONFIDENCE,
            intro="handover_person",
            intent="human",
            confidence=1.0,
        )
    if is_no(turn.text, lang):
        turn.state["failures"] = 0
        return Reply(
            text=say("ask_something_else", lang), language=lang, intent="unknown", confidence=1.0
        )
    return None


def _follow_book_offer(turn: Turn, offer: dict[str, Any]) -> Reply | None:
    """After a programme answer: a number, a yes or "buchen" starts the booking with the
    listed dates."""
    dates = [pk for pk in offer.get("dates", []) if isinstance(pk, int)]
    if dates and (
        dialogue.choice(turn, dates) is not None
        or is_yes(turn.text, turn.language)
        or (turn.intent == "book" and not programme_answers.dates_named(turn)[1])
    ):
        return dialogue.start(turn, candidates=dates, confidence=1.0)
    return None


def _looks_like_language(text: str) -> bool:
    words = tokens(text)
    return any(w in STOPWORDS["de"] or w in STOPWORDS["en"] or w in LEXICON for w in words)


def _not_confident(turn: Turn, *, intent: str, confidence: float) -> Reply:
    failures = int(turn.state.get("failures", 0) or 0)
    if failures == 0 and not _looks_like_language(turn.text):
        turn.state["failures"] = 1
        turn.state["offer"] = {"kind": "handoff"}
        return Reply(
            text=say("not_understood", turn.language),
            language=turn.language,
            intent="unknown",
            confidence=confidence,
            options=[
                {
                    "label": say("talk_to_person", turn.language),
                    "text": say("talk_to_person", turn.language),
                }
            ],
        )
    return answers.hand_over(
        turn,
        reason=HandoffReason.LOW_CONFIDENCE,
        intro="handover_unsure",
        intent=intent,
        confidence=confidence,
    )


def _answer(turn: Turn) -> Reply:
    threshold = float(turn.settings.threshold)
    intent, p = turn.intent, turn.intent_p
    if matching_personal_topic(turn.organisation, turn.text, turn.language) is not None:
        return answers.hand_over(
            turn,
            reason=HandoffReason.PERSONAL_TOPIC,
            intro="handover_personal",
            intent=intent,
            confidence=1.0,
        )
    if intent == "human" and p >= threshold:
        return answers.hand_over(
            turn,
            reason=HandoffReason.ASKED_FOR_PERSON,
            intro="handover_person",
            intent="human",
            confidence=p,
        )
    routes = _routes(turn)
    reply: Reply | None = None
    for _confidence, build in sorted(routes, key=lambda route: -route[0]):
        reply = build()
        if reply is not None:
            break
    if reply is None:
        best = max((c for c, _build in routes), default=0.0)
        return _not_confident(turn, intent=intent, confidence=best)
    if reply.confidence < threshold:
        return _not_confident(turn, intent=reply.intent, confidence=reply.confidence)
    return reply


Route = tuple[float, Callable[[], Reply | None]]


def _routes(turn: Turn) -> list[Route]:
    """The ways this message could be answered, each with its confidence; `sorted` is
    stable, so on a tie the structured answer (listed first) wins."""
    intent, p = turn.intent, turn.intent_p
    routes: list[Route] = []
    found = answers.best_entry(turn, topics=answers.TOPICS_OF.get(intent))
    entry_score = found[1] if found is not None else 0.0
    strong_entry = entry_score >= STRONG_MATCH
    title = titles.title_match(turn)
    dated = dialogue.meaningful_when(turn)
    # What the knowledge route may add to its intent share: the share of a structured
    # intent whose answer gives way to a matching entry.
    lent = 0.0

    booking = _booking_confidence(turn, title=title, dated=dated, found=found)
    if booking is not None:
        routes.append((booking, lambda: _book_or_unsure(turn, booking)))
    elif intent == "book" and found is not None:
        # "Bekomme ich mein Geld für die Tickets wieder?": a question about tickets with
        # nothing to book is a question for the knowledge base.
        lent = p

    if intent in SMALL_TALK:
        routes.append((p, lambda: answers.small_talk(turn, intent, confidence=p)))
    elif intent == "opening_hours":
        routes.append((p, lambda: facts.opening_hours(turn, confidence=p)))
    elif intent == "prices":
        routes.append((p, lambda: facts.prices(turn, confidence=p)))
    elif (
        intent in QUESTION_INTENTS | {"book"}
        and (booking or 0.0) < PRICE_NAMED
        and entry_score < ACCESS_ENTRY_MATCH
        and titles.price_named(turn)
    ):
        # "habt ihr ne Familienkarte": a price of the house named, no entry about it.
        price_p = max(turn.p("prices"), PRICE_NAMED)
        routes.append((price_p, lambda: facts.prices(turn, confidence=price_p)))

    programme_routes, programme_lent = _programme_routes(
        turn, found=found, title=title, dated=dated
    )
    routes += programme_routes
    lent = max(lent, programme_lent)

    if found is not None:
        entry, score = found
        p_route = turn.p(*answers.KNOWLEDGE_INTENTS) + lent
        # An entry of the asked topic answers a prices or opening-hours question when it
        # matches well; opening hours for a named day are always computed.
        if (
            intent in ("prices", "opening_hours")
            and entry.topic in answers.TOPICS_OF[intent]
            and score >= STRONG_MATCH
            and not (intent == "opening_hours" and turn.when)
        ):
            p_route += p
        shown = (
            intent if intent in (*answers.KNOWLEDGE_INTENTS, "prices", "opening_hours") else "faq"
        )
        entry_p = (min(1.0, p_route) + score) / 2
        # An address question is answered by an entry of another topic only when it
        # matches well ("Wie ist eure Telefonnummer?" is the contact entry).
        if not (
            intent == "address"
            and entry.topic not in answers.TOPICS_OF["address"]
            and not strong_entry
        ):
            routes.append(
                (
                    entry_p,
                    lambda: answers.knowledge_reply(turn, entry, intent=shown, confidence=entry_p),
                )
            )
    address_entry = found is not None and (
        found[0].topic in answers.TOPICS_OF["address"] or strong_entry
    )
    if intent == "address" and not address_entry:
        routes.append((p, lambda: facts.address(turn, confidence=p)))
    return routes


def _programme_routes(
    turn: Turn,
    *,
    found: tuple[KnowledgeEntry, float] | None,
    title: titles.TitleMatch,
    dated: bool,
) -> tuple[list[Route], float]:
    """The programme answers this message may get, and the share of the classifier's
    programme intent lent to a knowledge entry that answers a question about an offer
    in general better."""
    intent, p = turn.intent, turn.intent_p
    wish = programme_answers.wish_of(turn)
    entry_score = found[1] if found is not None else 0.0
    strong_entry = entry_score >= STRONG_MATCH
    routes: list[Route] = []
    lent = 0.0
    events_named = programme_answers.asks_for_events(turn)
    # A kind of event or a theme of the programme ("zur Stadtgeschichte").
    events_asked = bool(wish.kinds or wish.themes) or events_named
    weak_entry = entry_score < ACCESS_ENTRY_MATCH
    if wish.access and events_asked:
        # "Welche Veranstaltungen sind rollstuhlgerecht?", "Gibt es Führungen in
        # Gebärdensprache?": the programme narrowed to the feature, and what the house
        # says about it when an entry matches.
        extra = found[0] if found is not None and entry_score >= ACCESS_ENTRY_MATCH else None
        access_p = min(1.0, turn.p("programme", *answers.KNOWLEDGE_INTENTS))
        routes.append(
            (
                access_p,
                lambda: programme_answers.programme(turn, confidence=access_p, entry=extra),
            )
        )
    elif intent == "programme" or (
        intent in QUESTION_INTENTS | {"opening_hours"}
        and ((events_asked and weak_entry) or events_named or title.strong)
    ):
        # A kind of event, "das Programm" or a title asked for and no entry that answers
        # it: the programme, however unsure the classifier is ("habt ihr demnächst
        # vorträge", "wann ist das nächste Mal {title}").
        programme_p = turn.p("programme")
        if title.strong:
            programme_p = max(programme_p, TITLE_PROGRAMME)
        if events_named:
            programme_p = max(programme_p, PROGRAMME_NAMED)
        elif events_asked and weak_entry:
            programme_p = max(programme_p, EVENTS_ASKED)
        # "Programm", "events", a day, a title: the dates are asked for, not an offer.
        general = not (dated or title.strong or events_named)
        if (
            intent == "programme"
            and general
            and (
                strong_entry
                # "Ich trage ein Hörgerät, gibt es da was für mich?": a feature without any
                # event asked about is a question about the house.
                or (wish.access and found is not None and found[0].topic == Topic.ACCESSIBILITY)
            )
        ):
            # "Gibt es Führungen auf Englisch?", "programmes for schools": a question
            # about a kind of offer in general, which an entry answers well, so the
            # entry is the answer.
            lent = p
            programme_p *= 1 - entry_score
        routes.append(
            (programme_p, lambda: programme_answers.programme(turn, confidence=programme_p))
        )
    elif (
        intent in ("accessibility", "facilities", "faq", "unknown") and wish.kinds and wish.targets
    ):
        # "Gibt es Führungen für Kinder?" read as a question about the house: a kind of
        # event with an audience asks for the programme.
        audience_p = min(1.0, turn.p("programme") + (p if intent != "unknown" else 0.0))
        routes.append(
            (audience_p, lambda: programme_answers.programme(turn, confidence=audience_p))
        )

    return routes, lent


def _booking_confidence(
    turn: Turn,
    *,
    title: titles.TitleMatch,
    dated: bool,
    found: tuple[KnowledgeEntry, float] | None,
) -> float | None:
    """How sure the message asks to book, or None when it does not.

    Evidence of something to book raises the classifier's share: a programme title the
    message names together with a date, a count or a wish ("wir möchten mit den Kindern
    zu {title} am Samstag kommen") is a booking; so is "2 Karten … am Samstag". A message
    the classifier calls a booking without anything to book and without a wish ("Muss ich
    Karten vorher kaufen?", "can I book a private guided tour") is left to a knowledge
    entry about tickets or groups, or to one that matches well."""
    p_book = turn.p("book")
    words = titles.booking_words(turn.text)
    count = titles.ticket_count(turn) if words.ticket_word else None
    if title.strong and (
        dated or count is not None or words.explicit or words.wish or turn.intent == "book"
    ):
        return max(p_book, TITLE_BOOKING)
    if dated and (count is not None or words.explicit):
        return max(p_book, DATED_BOOKING)
    if turn.intent != "book":
        return None
    if title.strong or dated or count is not None or words.wish or words.bare or found is None:
        return p_book
    entry, score = found
    if score >= STRONG_MATCH or entry.topic in ANSWERS_ABOUT_BOOKING:
        return None
    return p_book


def _book_or_unsure(turn: Turn, p: float) -> Reply:
    if p < float(turn.settings.threshold):
        return _not_confident(turn, intent="book", confidence=p)
    return dialogue.start(turn, confidence=p)
