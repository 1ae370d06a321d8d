"""Answers from the knowledge entries, small talk, and the hand-over to a person."""

from __future__ import annotations

from publikum.assistant.engine.base import Reply, Turn
from publikum.assistant.engine.phrases import say
from publikum.assistant.models import KnowledgeEntry, Topic
from publikum.assistant.nlu.slots import find_email
from publikum.conversations.services import link_visitor

# The intents a knowledge entry answers, and the topics an entry for each should have.
KNOWLEDGE_INTENTS = ("faq", "address", "accessibility", "facilities")
TOPICS_OF: dict[str, set[str]] = {
    "address": {Topic.ADDRESS},
    "accessibility": {Topic.ACCESSIBILITY},
    "facilities": {Topic.FACILITIES, Topic.GROUPS},
    "prices": {Topic.PRICES, Topic.TICKETS},
    "opening_hours": {Topic.OPENING_HOURS},
    "book": {Topic.TICKETS},
}
# An entry of the asked topic is preferred over a better-scoring one of another topic while
# its score is at least this share of the best.
TOPIC_PREFERENCE = 0.6


def best_entry(
    turn: Turn, *, topics: set[str] | None = None
) -> tuple[KnowledgeEntry, float] | None:
    """The knowledge entry that answers the message best, preferring `topics`."""
    hits = turn.hits
    if not hits:
        return None
    entries = KnowledgeEntry.objects.in_bulk([hit.entry_id for hit in hits])
    ranked = [(entries[hit.entry_id], hit.score) for hit in hits if hit.entry_id in entries]
    if not ranked:
        return None
    best_score = ranked[0][1]
    if topics:
        for entry, score in ranked:
            if entry.topic in topics and score >= TOPIC_PREFERENCE * best_score:
                return entry, score
    return ranked[0]


def knowledge_reply(turn: Turn, entry: KnowledgeEntry, *, intent: str, confidence: float) -> Reply:
    return Reply(
        text=entry.answer(turn.language),
        language=turn.language,
        intent=intent,
        confidence=confidence,
        sources=[{"type": "knowledge", "id": entry.pk}],
    )


def small_talk(turn: Turn, intent: str, *, confidence: float) -> Reply:
    lang = turn.language
    if intent == "greeting":
        custom = turn.settings.greeting_en if lang == "en" else turn.settings.greeting_de
        text = custom or say("greeting", lang, org=turn.organisation.name)
    else:
        text = say(intent, lang, org=turn.organisation.name)
    return Reply(text=text, language=lang, intent=intent, confidence=confidence)


def reply_time(turn: Turn) -> str:
    settings = turn.settings
    return settings.reply_time_en if turn.language == "en" else settings.reply_time_de


def hand_over(turn: Turn, *, reason: str, intro: str, intent: str, confidence: float) -> Reply:
    """Tell the visitor that a person takes over, and how and when they will hear back; an
    address in the message itself is remembered (and linked to the contact) at once."""
    lang = turn.language
    conversation = turn.conversation
    email = find_email(turn.text)
    if email and not conversation.visitor_email:
        link_visitor(conversation, email=email)
    when = (
        say(
            "handover_when_mail",
            lang,
            reply_time=reply_time(turn),
            email=conversation.visitor_email,
        )
        if conversation.visitor_email
        else say("handover_when_nomail", lang, reply_time=reply_time(turn))
    )
    turn.state.pop("booking", None)
    turn.state.pop("offer", None)
    return Reply(
        text=f"{say(intro, lang)} {when}",
        language=lang,
        intent=intent,
        confidence=confidence,
        handoff=True,
        handoff_reason=reason,
    )


def while_with_staff(turn: Turn) -> Reply:
    """A message after the hand-over: it waits for staff; an address in it is linked."""
    lang = turn.language
    conversation = turn.conversation
    email = find_email(turn.text)
    if email and email != conversation.visitor_email:
        link_visitor(conversation, email=email)
        if conversation.visitor_email:
            text = say(
                "mail_linked", lang, reply_time=reply_time(turn), email=conversation.visitor_email
            )
            return Reply(text=text, language=lang, intent="unknown", confidence=1.0)
    key = "with_staff" if conversation.visitor_email else "with_staff_ask_mail"
    return Reply(
        text=say(key, lang, reply_time=reply_time(turn)),
        language=lang,
        intent="unknown",
        confidence=1.0,
    )
