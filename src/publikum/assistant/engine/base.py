"""The reply the engine gives, and what one turn knows while it decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from publikum.assistant.models import DEFAULT_THRESHOLD, AssistantSettings
from publikum.assistant.nlu import dates as nlu_dates
from publikum.assistant.nlu import intents as nlu_intents
from publikum.assistant.nlu import retrieval
from publikum.conversations.models import Conversation
from publikum.core.models import Organisation


@dataclass
class Reply:
    text: str
    language: str
    intent: str
    confidence: float
    sources: list[dict[str, Any]] = field(default_factory=list)
    handoff: bool = False
    # {"code", "item", "date" (ISO start), "quantity", "lines", "status"} once booked.
    booking: dict[str, Any] | None = None
    # Quick replies for the widget: [{"label": ..., "text": ...}].
    options: list[dict[str, str]] = field(default_factory=list)
    # Why the conversation goes to staff (a conversations.models.HandoffReason value).
    handoff_reason: str = ""
    # Ids of the stored visitor message and reply (set by services.message_post).
    message_ids: list[int] = field(default_factory=list)


def settings_of(organisation: Organisation) -> AssistantSettings:
    """The organisation's settings, or the defaults (unsaved) when it has none yet."""
    found = AssistantSettings.objects.filter(organisation=organisation).first()
    if found is None:
        found = AssistantSettings(organisation=organisation, threshold=DEFAULT_THRESHOLD)
    return found


@dataclass
class Turn:
    """One visitor message being answered; understanding is computed once, on demand."""

    conversation: Conversation
    organisation: Organisation
    settings: AssistantSettings
    text: str
    language: str
    now: datetime
    zone: ZoneInfo
    state: dict[str, Any]
    link_base: str = ""
    # What was worked out about this message once (title match, count), not saved.
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.local(self.now).date()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    @cached_property
    def intents(self) -> list[tuple[str, float]]:
        return nlu_intents.classify(self.text, self.language) or [("unknown", 1.0)]

    @property
    def intent(self) -> str:
        return self.intents[0][0]

    @property
    def intent_p(self) -> float:
        return float(self.intents[0][1])

    def p(self, *names: str) -> float:
        return float(sum(p for name, p in self.intents if name in names))

    @cached_property
    def hits(self) -> list[retrieval.Hit]:
        return retrieval.search(self.organisation, self.text, self.language, k=5)

    @cached_property
    def when(self) -> nlu_dates.When | None:
        try:
            return nlu_dates.parse_when(self.text, self.language, today=self.today)
        except (ValueError, OverflowError):  # an impossible date the visitor typed
            return None
