"""Ready-made journeys for a cultural house, shipped with Publikum.

Each entry is a journey definition plus the mail templates it sends, in German and English.
`library_install` copies one into an organisation (as a draft, or active), so that the
house edits its own copy; the shipped texts stay as they are. docs/journeys-library.md says
what each one does and why.

Template references in a definition are written `"@<template key>"`; installing replaces
them by the id of the organisation's template of that name (created when missing, reused
when the house already has one of that name).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from publikum.core.errors import ValidationFailed
from publikum.core.models import Organisation
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    JourneyStatus,
    MessageKind,
    Reentry,
    Trigger,
)

GREETING_DE = (
    "{% if contact.first_name %}Hallo {{ contact.first_name }},{% else %}Hallo,{% endif %}"
)
GREETING_EN = "{% if contact.first_name %}Dear {{ contact.first_name }},{% else %}Hello,{% endif %}"


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    kind: str
    purpose: str
    subject_de: str
    subject_en: str
    blocks: list[dict[str, Any]]
    preheader_de: str = ""
    preheader_en: str = ""


@dataclass(frozen=True)
class ReadyMade:
    key: str
    name: Any  # lazy translation: stored in the installing person's language
    description: Any
    trigger: str
    definition: dict[str, Any]
    templates: list[TemplateSpec]
    trigger_config: dict[str, Any] = field(default_factory=dict)
    reentry: str = Reentry.ONCE
    reentry_days: int = 0


def _text(de: str, en: str) -> dict[str, Any]:
    return {"type": "text", "markdown_de": de, "markdown_en": en}


def _heading(de: str, en: str) -> dict[str, Any]:
    return {"type": "heading", "text_de": de, "text_en": en}


WELCOME_1 = TemplateSpec(
    name="Willkommen 1: Schön, dass Sie da sind",
    kind=MessageKind.MARKETING,
    purpose="newsletter",
    subject_de="Willkommen! Schön, dass Sie dabei sind",
    subject_en="Welcome, and thank you for signing up",
    preheader_de="Was Sie von uns erwarten dürfen, und was wir uns von Ihnen wünschen.",
    preheader_en="What to expect from us, and what we hope for from you.",
    blocks=[
        _heading("Schön, dass Sie da sind", "We are glad you are here"),
        _text(
            GREETING_DE + "\n\n"
            "vielen Dank für Ihre Anmeldung. Wir schreiben Ihnen, wenn etwas Neues beginnt, "
            "das zu Ihnen passt, höchstens zweimal im Monat. Und wir hören gern zu: Antworten "
            "Sie einfach auf diese Mail, wenn Sie eine Idee, einen Wunsch oder eine Frage "
            "haben. Ein Mensch aus unserem Team liest mit.",
            GREETING_EN + "\n\n"
            "thank you for signing up. We will write when something new begins that suits "
            "you, at most twice a month. And we like to listen: just reply to this e-mail if "
            "you have an idea, a wish or a question. A person from our team reads every reply.",
        ),
        {
            "type": "events",
            "title_de": "Demnächst bei uns",
            "title_en": "Coming up",
            "limit": 3,
            "match_interests": True,
        },
    ],
)

WELCOME_2 = TemplateSpec(
    name="Willkommen 2: Blick hinter die Kulissen",
    kind=MessageKind.MARKETING,
    purpose="newsletter",
    subject_de="Ein Blick hinter die Kulissen",
    subject_en="A look behind the scenes",
    blocks=[
        _heading("Was uns bewegt", "What drives us"),
        _text(
            GREETING_DE + "\n\n"
            "hinter jeder Ausstellung und jedem Abend stehen Menschen, die Geschichten "
            "sammeln, prüfen und erzählen. Viele dieser Geschichten kommen von unserem "
            "Publikum. Erzählen Sie uns Ihre: Welches Thema fehlt Ihnen bei uns?",
            GREETING_EN + "\n\n"
            "behind every exhibition and every evening are people who collect, check and "
            "tell stories. Many of those stories come from our audience. Tell us yours: "
            "which subject do you miss here?",
        ),
        {
            "type": "events",
            "title_de": "Vielleicht auch etwas für Sie",
            "title_en": "Perhaps something for you",
            "limit": 3,
            "match_interests": False,
        },
    ],
)

THANK_YOU = TemplateSpec(
    name="Danke für Ihren Besuch",
    kind=MessageKind.MARKETING,
    purpose="feedback",
    subject_de="Danke für Ihren Besuch: Wie war es?",
    subject_en="Thank you for your visit: how was it?",
    blocks=[
        _heading("Danke für Ihren Besuch", "Thank you for your visit"),
        _text(
            GREETING_DE + "\n\n"
            "schön, dass Sie gestern bei uns waren. Was hat Ihnen gefallen, was hat gefehlt? "
            "Antworten Sie einfach auf diese Mail, zwei Sätze genügen. Wir lesen jede "
            "Antwort und sagen Ihnen, was daraus geworden ist.",
            GREETING_EN + "\n\n"
            "thank you for coming yesterday. What did you enjoy, what was missing? Just "
            "reply to this e-mail; two sentences are plenty. We read every reply and will "
            "tell you what came of it.",
        ),
    ],
)

REMINDER = TemplateSpec(
    name="Erinnerung an Ihren Termin",
    kind=MessageKind.TRANSACTIONAL,
    purpose="",
    subject_de="Bald ist es so weit: Ihr Besuch",
    subject_en="Coming soon: your visit",
    blocks=[
        _heading("Wir freuen uns auf Sie", "We look forward to seeing you"),
        _text(
            GREETING_DE + "\n\nhier noch einmal alles für Ihren Besuch: wann, wo, wie Sie "
            "hinkommen und was wir für einen barrierefreien Besuch bereithalten.",
            GREETING_EN + "\n\nhere is everything for your visit once more: when, where, how "
            "to get here and what we offer for an accessible visit.",
        ),
        {"type": "occurrence"},
        _text(
            "Sie können nicht kommen? Der Link zum Stornieren steht in Ihrer "
            "Buchungsbestätigung; so bekommt jemand von der Warteliste Ihren Platz.",
            "Can't make it? The cancellation link is in your booking confirmation; that "
            "way someone on the waiting list gets your seat.",
        ),
    ],
)

WIN_BACK = TemplateSpec(
    name="Wir vermissen Sie",
    kind=MessageKind.MARKETING,
    purpose="offers",
    subject_de="Wir vermissen Sie",
    subject_en="We miss you",
    blocks=[
        _heading("Lange nicht gesehen", "It has been a while"),
        _text(
            GREETING_DE + "\n\n"
            "Sie waren oft bei uns, und in letzter Zeit nicht mehr. Vielleicht hat das "
            "Programm nicht gepasst; dann sagen Sie es uns. Und vielleicht ist hier etwas "
            "Neues für Sie dabei, das Sie noch nicht kennen:",
            GREETING_EN + "\n\n"
            "you used to visit often, and lately you haven't. Perhaps the programme did not "
            "suit you; then tell us. And perhaps there is something new here for you that "
            "you do not know yet:",
        ),
        {
            "type": "events",
            "title_de": "Neu bei uns",
            "title_en": "New here",
            "limit": 3,
            "match_interests": False,
        },
    ],
)

BIRTHDAY = TemplateSpec(
    name="Alles Gute zum Geburtstag",
    kind=MessageKind.MARKETING,
    purpose="offers",
    subject_de="Alles Gute zum Geburtstag!",
    subject_en="Happy birthday!",
    blocks=[
        _heading("Alles Gute!", "Happy birthday!"),
        _text(
            GREETING_DE + "\n\n"
            "wir alle hier im Haus wünschen Ihnen von Herzen alles Gute zum "
            "Geburtstag. Kommen Sie in diesem Monat vorbei: Zeigen Sie diese Mail an der "
            "Kasse, der Eintritt für Sie und eine Begleitung geht auf uns.",
            GREETING_EN + "\n\n"
            "the whole team of {{ organisation.name }} wishes you a happy birthday. Come "
            "and see us this month: show this e-mail at the ticket desk, and admission for "
            "you and a companion is on us.",
        ),
    ],
)

PREVIEW = TemplateSpec(
    name="Einladung zur Vorbesichtigung",
    kind=MessageKind.MARKETING,
    purpose="offers",
    subject_de="Ihre Freunde kommen: Einladung zur Vorbesichtigung",
    subject_en="Your friends are coming: an invitation to the preview",
    blocks=[
        _heading("Sie gehören dazu", "You are part of this"),
        _text(
            GREETING_DE + "\n\n"
            "Sie kommen seit Langem zu uns, und deshalb sollen Sie Neues zuerst sehen. Wir "
            "laden Sie und eine Begleitung zur Vorbesichtigung unserer nächsten Ausstellung "
            "ein, bevor sie für alle öffnet. Bringen Sie Ihre Fragen mit: Die "
            "Kuratorinnen und Kuratoren sind da und hören zu.",
            GREETING_EN + "\n\n"
            "you have been coming to us for a long time, so you should see new things "
            "first. We invite you and a companion to the preview of our next exhibition "
            "before it opens to everyone. Bring your questions: the curators will be there "
            "and want to hear them.",
        ),
        {
            "type": "events",
            "title_de": "Demnächst",
            "title_en": "Coming up",
            "limit": 2,
            "match_interests": False,
        },
    ],
)


LIBRARY: dict[str, ReadyMade] = {
    r.key: r
    for r in (
        ReadyMade(
            key="welcome",
            name=gettext_lazy("Welcome after subscribing"),
            description=gettext_lazy(
                "Two mails after a confirmed subscription: a welcome right away, three days "
                "later a look behind the scenes with suggestions."
            ),
            trigger=Trigger.SUBSCRIBED,
            templates=[WELCOME_1, WELCOME_2],
            definition={
                "start": "hello",
                "steps": [
                    {
                        "id": "hello",
                        "type": "email",
                        "template": f"@{WELCOME_1.name}",
                        "next": "pause",
                    },
                    {"id": "pause", "type": "wait", "duration": {"days": 3}, "next": "inside"},
                    {
                        "id": "inside",
                        "type": "email",
                        "template": f"@{WELCOME_2.name}",
                        "next": "end",
                    },
                    {"id": "end", "type": "end"},
                ],
            },
        ),
        ReadyMade(
            key="thank_you",
            name=gettext_lazy("Thank-you and feedback after a visit"),
            description=gettext_lazy(
                "The day after a visit at 10:00: thanks and a request for two sentences of "
                "feedback. At most once in 30 days."
            ),
            trigger=Trigger.DATE_PASSED,
            reentry=Reentry.EVERY,
            reentry_days=30,
            templates=[THANK_YOU],
            definition={
                "start": "morning",
                "steps": [
                    {
                        "id": "morning",
                        "type": "wait",
                        "until": {"weekday": None, "time": "10:00"},
                        "next": "thanks",
                    },
                    {
                        "id": "thanks",
                        "type": "email",
                        "template": f"@{THANK_YOU.name}",
                        "next": "end",
                    },
                    {"id": "end", "type": "end"},
                ],
            },
        ),
        ReadyMade(
            key="reminder",
            name=gettext_lazy("Reminder two days before a booked date"),
            description=gettext_lazy(
                "Two days before a booked date: when, where, how to get there and "
                "accessibility. A service mail, without advertising."
            ),
            trigger=Trigger.BOOKED_DATE_AHEAD,
            trigger_config={"days_before": 2},
            reentry=Reentry.ALWAYS,
            templates=[REMINDER],
            definition={
                "start": "morning",
                "steps": [
                    # A transactional mail is not held back by quiet hours, and the scan
                    # may find the booking just after midnight: wait for the morning.
                    {
                        "id": "morning",
                        "type": "wait",
                        "until": {"weekday": None, "time": "09:00"},
                        "next": "remind",
                    },
                    {
                        "id": "remind",
                        "type": "email",
                        "template": f"@{REMINDER.name}",
                        "next": "end",
                    },
                    {"id": "end", "type": "end"},
                ],
            },
        ),
        ReadyMade(
            key="win_back",
            name=gettext_lazy("Win-back: we miss you"),
            description=gettext_lazy(
                "Whoever moves from loyal to lapsing gets a personal mail with something new. "
                "Who has not reacted after two weeks becomes a task for the team: a call or a "
                "card does more than the next mail."
            ),
            trigger=Trigger.STAGE_CHANGED,
            trigger_config={"from": "loyal", "to": "lapsing"},
            reentry=Reentry.EVERY,
            reentry_days=180,
            templates=[WIN_BACK],
            definition={
                "start": "miss",
                "steps": [
                    {
                        "id": "miss",
                        "type": "email",
                        "template": f"@{WIN_BACK.name}",
                        "next": "wait",
                    },
                    {"id": "wait", "type": "wait", "duration": {"days": 14}, "next": "reacted"},
                    {
                        "id": "reacted",
                        "type": "branch",
                        "condition": {"previous_mail": "clicked"},
                        "yes": "end",
                        "no": "call",
                    },
                    {
                        "id": "call",
                        "type": "task",
                        "title": "Persönlich nachfragen: lange nicht mehr da",
                        "assignee": None,
                        "notify": False,
                        "due_days": 7,
                        "next": "end",
                    },
                    {"id": "end", "type": "end"},
                ],
            },
        ),
        ReadyMade(
            key="birthday",
            name=gettext_lazy("Birthday greeting"),
            description=gettext_lazy(
                "On the birthday at 09:00, a greeting with free admission for two."
            ),
            trigger=Trigger.BIRTHDAY,
            reentry=Reentry.EVERY,
            reentry_days=300,
            templates=[BIRTHDAY],
            definition={
                "start": "nine",
                "steps": [
                    {
                        "id": "nine",
                        "type": "wait",
                        "until": {"weekday": None, "time": "09:00"},
                        "next": "greet",
                    },
                    {
                        "id": "greet",
                        "type": "email",
                        "template": f"@{BIRTHDAY.name}",
                        "next": "end",
                    },
                    {"id": "end", "type": "end"},
                ],
            },
        ),
        ReadyMade(
            key="preview",
            name=gettext_lazy("Your friends are coming: a preview for loyal visitors"),
            description=gettext_lazy(
                "Whoever becomes loyal gets an invitation to the next preview, and a tag so "
                "that the team sees the guest list."
            ),
            trigger=Trigger.STAGE_CHANGED,
            trigger_config={"to": "loyal"},
            reentry=Reentry.EVERY,
            reentry_days=90,
            templates=[PREVIEW],
            definition={
                "start": "invite",
                "steps": [
                    {
                        "id": "invite",
                        "type": "email",
                        "template": f"@{PREVIEW.name}",
                        "next": "mark",
                    },
                    {"id": "mark", "type": "tag", "add": "vorbesichtigung", "next": "end"},
                    {"id": "end", "type": "end"},
                ],
            },
        ),
    )
}


def _template_for(organisation: Organisation, spec: TemplateSpec) -> EmailTemplate:
    template, _created = EmailTemplate.objects.get_or_create(
        organisation=organisation,
        name=spec.name,
        defaults={
            "kind": spec.kind,
            "purpose": spec.purpose,
            "subject_de": spec.subject_de,
            "subject_en": spec.subject_en,
            "preheader_de": spec.preheader_de,
            "preheader_en": spec.preheader_en,
            "blocks": copy.deepcopy(spec.blocks),
        },
    )
    return template


def _resolve(definition: dict[str, Any], ids: dict[str, int]) -> dict[str, Any]:
    resolved = copy.deepcopy(definition)
    for step in resolved.get("steps", []):
        ref = step.get("template")
        if isinstance(ref, str) and ref.startswith("@"):
            step["template"] = ids[ref[1:]]
    return resolved


def library_install(*, organisation: Organisation, key: str, activate: bool = False) -> Journey:
    """Copy the ready-made journey `key` and its templates into `organisation`.

    Activating runs the engine's validation first (a broken copy is never active).
    """
    ready = LIBRARY.get(key)
    if ready is None:
        message = _("There is no ready-made journey %(key)s.") % {"key": key}
        raise ValidationFailed(message, fields={"key": [message]})
    with transaction.atomic():
        ids = {spec.name: _template_for(organisation, spec).pk for spec in ready.templates}
        journey = Journey.objects.create(
            organisation=organisation,
            name=str(ready.name),
            description=str(ready.description),
            trigger=ready.trigger,
            trigger_config=copy.deepcopy(ready.trigger_config),
            definition=_resolve(ready.definition, ids),
            reentry=ready.reentry,
            reentry_days=ready.reentry_days,
            template_key=ready.key,
            status=JourneyStatus.DRAFT,
        )
        if activate:
            from publikum.journeys.engine import journey_activate

            journey_activate(journey=journey)
            journey.refresh_from_db()
    return journey


def library_keys() -> list[str]:
    return list(LIBRARY)
