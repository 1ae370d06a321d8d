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

from publikum.assistant.engine import answers, dialogue, facts
from publikum.assistant.engine import programme as programme_answers
from publikum.assistant.engine.base import Reply, Turn, settings_of
from publikum.assistant.engine.phrases import say
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
    if intent in SMALL_TALK:
        routes.append((p, lambda: answers.small_talk(turn, intent, confidence=p)))
    elif intent == "book":
        routes.append((p, lambda: _book_or_unsure(turn, p)))
    elif intent == "opening_hours":
        routes.append((p, lambda: facts.opening_hours(turn, confidence=p)))
    elif intent == "prices":
        routes.append((p, lambda: facts.prices(turn, confidence=p)))
    elif intent == "programme":
        routes.append((p, lambda: programme_answers.programme(turn, confidence=p)))
    elif intent in ("accessibility", "facilities", "faq", "unknown"):
        # "Gibt es Führungen in Gebärdensprache?": a kind of event with a feature or an
        # audience asks for the programme, whatever words of accessibility it uses.
        wish = programme_answers.wish_of(turn)
        if wish.kinds and (wish.access or wish.targets):
            confidence = min(1.0, turn.p("programme") + (p if intent != "unknown" else 0.0))
            routes.append(
                (confidence, lambda: programme_answers.programme(turn, confidence=confidence))
            )

    found = answers.best_entry(turn, topics=answers.TOPICS_OF.get(intent))
    if found is not None:
        entry, score = found
        p_route = turn.p(*answers.KNOWLEDGE_INTENTS)
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
        confidence = (min(1.0, p_route) + score) / 2
        if not (intent == "address" and entry.topic not in answers.TOPICS_OF["address"]):
            routes.append(
                (
                    confidence,
                    lambda: answers.knowledge_reply(
                        turn, entry, intent=shown, confidence=confidence
                    ),
                )
            )
    address_entry = found is not None and found[0].topic in answers.TOPICS_OF["address"]
    if intent == "address" and not address_entry:
        routes.append((p, lambda: facts.address(turn, confidence=p)))
    return routes


def _book_or_unsure(turn: Turn, p: float) -> Reply:
    if p < float(turn.settings.threshold):
        return _not_confident(turn, intent="book", confidence=p)
    return dialogue.start(turn, confidence=p)
