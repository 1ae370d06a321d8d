"""The demo inbox: hand-overs of the assistant, mails and contact-form messages.

Fifteen conversations as a museum's inbox looks on an ordinary Tuesday: some answered by the
assistant alone, some handed over (a complaint, a group visit in a wheelchair, a donation),
mails from the press and from tourists, a contact-form message; some done, some waiting for
the visitor, some open, one overdue. Plus saved replies in German and English and the
inbox settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from publikum.audience.models import Contact
from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Delivery,
    HandoffReason,
    InboxSettings,
    Message,
    Note,
    SavedReply,
)
from publikum.conversations.services import link_visitor
from publikum.core.demo import progress
from publikum.core.models import Organisation, User

NOTIFY_EMAIL = "besucherservice@stadtmuseum.example"

SAVED_REPLIES: tuple[tuple[str, str, str], ...] = (
    (
        "Gruppenführung anfragen",
        "Vielen Dank für Ihr Interesse an einer Gruppenführung! Für Gruppen ab 10 Personen "
        "bieten wir Führungen dienstags bis freitags zwischen 10 und 16 Uhr an. Nennen Sie "
        "uns bitte Ihren Wunschtermin, die Zahl der Teilnehmenden und ob jemand einen "
        "Rollstuhl oder eine Gebärdensprachdolmetschung braucht.",
        "Thank you for your interest in a group tour! We offer tours for groups of 10 or "
        "more from Tuesday to Friday between 10 am and 4 pm. Please let us know your "
        "preferred date, the number of people and whether anyone needs a wheelchair or sign "
        "language interpreting.",
    ),
    (
        "Fundsachen",
        "Danke für Ihre Nachricht. Fundsachen bewahren wir vier Wochen an der Kasse auf. "
        "Beschreiben Sie uns den Gegenstand bitte möglichst genau; wir sehen nach und melden "
        "uns.",
        "Thank you for your message. We keep lost property at the ticket desk for four weeks. "
        "Please describe the item as precisely as you can; we will look for it and get back "
        "to you.",
    ),
    (
        "Beschwerde: Entschuldigung",
        "Es tut uns leid, dass Ihr Besuch nicht so war, wie Sie es sich gewünscht haben. "
        "Danke, dass Sie uns davon erzählen: Wir haben Ihre Hinweise an das Team "
        "weitergegeben. Gern laden wir Sie zu einem weiteren Besuch ein.",
        "We are sorry that your visit was not what you had hoped for. Thank you for telling "
        "us: we have passed your remarks on to the team. We would be glad to welcome you "
        "again as our guest.",
    ),
    (
        "Presseanfrage",
        "Vielen Dank für Ihre Anfrage. Unsere Pressestelle meldet sich innerhalb von zwei "
        "Werktagen bei Ihnen. Pressebilder finden Sie auf unserer Website unter Presse.",
        "Thank you for your enquiry. Our press office will get back to you within two working "
        "days. Press images are on our website under Press.",
    ),
)


@dataclass
class Line:
    author: str
    text: str
    minute: int  # after the conversation started
    intent: str = ""
    confidence: float | None = None
    staff: int | None = None  # index into the demo users
    delivery: str = ""
    mail: bool = False


@dataclass
class Spec:
    channel: str
    status: str
    language: str
    started_hours_ago: float
    lines: list[Line]
    subject: str = ""
    reason: str = ""
    handover_minute: int | None = None
    contact: bool = True
    assigned: int | None = None
    notes: list[str] = field(default_factory=list)
    waiting_since_minute: int | None = None


def _v(text: str, minute: int, **kw: Any) -> Line:
    return Line(Author.VISITOR, text, minute, **kw)


def _a(text: str, minute: int, intent: str, confidence: float) -> Line:
    return Line(Author.ASSISTANT, text, minute, intent=intent, confidence=confidence)


def _s(text: str, minute: int, staff: int, delivery: str = Delivery.EMAIL) -> Line:
    return Line(Author.STAFF, text, minute, staff=staff, delivery=delivery, mail=True)


def _sys(text: str, minute: int) -> Line:
    return Line(Author.SYSTEM, text, minute)


HANDOVER_DE = "An das Team übergeben."
HANDOVER_EN = "Handed over to the team."


def _specs() -> list[Spec]:
    a, s, v = ConversationChannel.ASSISTANT, ConversationStatus, _v
    return [
        Spec(
            a,
            s.OPEN,
            "de",
            3,
            [
                v("Hallo, wir sind eine Gruppe von 25 Personen, zwei davon im Rollstuhl.", 0),
                _a(
                    "Das Museum ist barrierefrei: Alle Ausstellungsräume erreichen Sie mit dem "
                    "Aufzug, zwei Rollstühle können Sie an der Kasse leihen.",
                    0,
                    "accessibility",
                    0.81,
                ),
                v("Kann ich mit jemandem über eine Führung sprechen?", 2),
                _a(
                    "Gern gebe ich Ihre Frage an mein Team weiter. Wenn Sie mir Ihre "
                    "E-Mail-Adresse nennen, antworten wir Ihnen dort.",
                    2,
                    "human",
                    0.93,
                ),
                v("{email}", 3),
                _sys(HANDOVER_DE, 3),
            ],
            reason=HandoffReason.ASKED_FOR_PERSON,
            handover_minute=3,
        ),
        Spec(
            a,
            s.OPEN,
            "de",
            31,
            [
                v(
                    "Ich möchte mich beschweren. Am Samstag war die Garderobe geschlossen und "
                    "wir mussten die nassen Mäntel durch die ganze Ausstellung tragen.",
                    0,
                ),
                _a(
                    "Das tut mir leid. Ich gebe Ihr Anliegen an eine Kollegin oder einen "
                    "Kollegen weiter; Sie bekommen eine Antwort per E-Mail.",
                    0,
                    "faq",
                    0.22,
                ),
                _sys(HANDOVER_DE, 0),
            ],
            reason=HandoffReason.PERSONAL_TOPIC,
            handover_minute=0,
            assigned=1,
            notes=["Garderobe war am Samstag wegen Krankheit zu. Jonas klärt das mit dem Dienst."],
        ),
        Spec(
            a,
            s.WAITING,
            "en",
            26,
            [
                v("Do you have a room where I can feed my baby?", 0),
                _a(
                    "I am not sure I understood. A colleague will answer you by e-mail.",
                    0,
                    "unknown",
                    0.31,
                ),
                _sys(HANDOVER_EN, 0),
                _s(
                    "Hello, yes: there is a quiet family room with a changing table on the "
                    "ground floor, next to the cloakroom. You are very welcome!",
                    130,
                    3,
                ),
            ],
            reason=HandoffReason.LOW_CONFIDENCE,
            handover_minute=0,
        ),
        Spec(
            a,
            s.DONE,
            "de",
            120,
            [
                v("Wir würden gern für die Restaurierung des Stadtmodells spenden.", 0),
                _a(
                    "Wie schön! Ich gebe Ihre Nachricht an unser Team weiter, das sich per "
                    "E-Mail bei Ihnen meldet.",
                    0,
                    "faq",
                    0.4,
                ),
                _sys(HANDOVER_DE, 0),
                _s(
                    "Herzlichen Dank für Ihre Unterstützung! Ich schicke Ihnen gleich die "
                    "Unterlagen zum Förderverein und die Bankverbindung.",
                    95,
                    1,
                ),
                v("Vielen Dank, ist angekommen.", 1500, mail=True),
            ],
            reason=HandoffReason.PERSONAL_TOPIC,
            handover_minute=0,
        ),
        Spec(
            a,
            s.OPEN,
            "en",
            1,
            [
                v("Hi, can I talk to a real person please?", 0),
                _a(
                    "Of course. I will pass your question on; leave your e-mail address and "
                    "a colleague answers you there.",
                    0,
                    "human",
                    0.95,
                ),
                _sys(HANDOVER_EN, 1),
            ],
            reason=HandoffReason.ASKED_FOR_PERSON,
            handover_minute=1,
        ),
        Spec(
            a,
            s.DONE,
            "de",
            72,
            [
                v("2 Karten für die Führung am Samstag bitte", 0),
                _a(
                    "Die Führung am Samstag ist leider ausgebucht. Ich gebe Ihre Anfrage an "
                    "das Team weiter.",
                    1,
                    "book",
                    0.88,
                ),
                _sys(HANDOVER_DE, 1),
                _s(
                    "Wir haben Sie auf die Warteliste gesetzt und melden uns, sobald Plätze "
                    "frei werden. Am Sonntag um 15 Uhr gibt es noch Plätze.",
                    40,
                    3,
                ),
            ],
            reason=HandoffReason.BOOKING_FAILED,
            handover_minute=1,
        ),
        Spec(
            a,
            s.ASSISTANT,
            "de",
            5,
            [
                v("Habt ihr am Montag offen?", 0),
                _a(
                    "Montags ist das Museum geschlossen. Dienstag bis Sonntag sind wir von "
                    "10 bis 18 Uhr für Sie da, donnerstags bis 20 Uhr.",
                    0,
                    "opening_hours",
                    0.94,
                ),
                v("Danke!", 1),
                _a("Gern geschehen!", 1, "thanks", 0.97),
            ],
            contact=False,
        ),
        Spec(
            a,
            s.ASSISTANT,
            "en",
            20,
            [
                v("How much is a ticket for students?", 0),
                _a(
                    "Students pay the reduced price of 5 euros with a valid student ID.",
                    0,
                    "prices",
                    0.9,
                ),
            ],
            contact=False,
        ),
        Spec(
            a,
            s.ASSISTANT,
            "de",
            50,
            [
                v("Wo kann man in der Nähe parken?", 0),
                _a(
                    "Das Parkhaus am Kornmarkt liegt fünf Minuten zu Fuß entfernt; zwei "
                    "Behindertenparkplätze gibt es direkt vor dem Eingang.",
                    0,
                    "address",
                    0.86,
                ),
            ],
            contact=False,
        ),
        Spec(
            ConversationChannel.EMAIL,
            s.OPEN,
            "de",
            5,
            [
                v(
                    "Sehr geehrte Damen und Herren,\n\nfür einen Bericht über die neue "
                    "Fotografie-Ausstellung würden wir gern am Donnerstag mit einem Fotografen "
                    "vorbeikommen. Wer ist dafür Ihre Ansprechperson?\n\nMit freundlichen "
                    "Grüßen",
                    0,
                    mail=True,
                ),
            ],
            subject="Presseanfrage: Fotografie-Ausstellung",
        ),
        Spec(
            ConversationChannel.EMAIL,
            s.OPEN,
            "de",
            50,
            [
                v("Kann ich im Museum einen Kindergeburtstag feiern?", 0, mail=True),
                _s(
                    "Ja, gern! Wir bieten Geburtstagsführungen für Kinder von 6 bis 12 Jahren "
                    "an, samstags und sonntags. Wie viele Kinder kommen denn?",
                    180,
                    3,
                ),
                v("Es wären 8 Kinder, am liebsten am 14. um 14 Uhr.", 2900, mail=True),
            ],
            subject="Kindergeburtstag",
            waiting_since_minute=2900,
        ),
        Spec(
            ConversationChannel.EMAIL,
            s.DONE,
            "en",
            200,
            [
                v(
                    "Hello, we are visiting from Canada next month. Are your exhibitions "
                    "labelled in English?",
                    0,
                    mail=True,
                ),
                _s(
                    "Hello, yes: all texts in the permanent exhibition are in German and "
                    "English, and there is a free English audio guide. Enjoy your trip!",
                    300,
                    4,
                ),
            ],
            subject="English labels?",
        ),
        Spec(
            ConversationChannel.EMAIL,
            s.WAITING,
            "de",
            28,
            [
                v(
                    "Ich habe gestern meinen blauen Schal im Museum liegen lassen, "
                    "wahrscheinlich im Café.",
                    0,
                    mail=True,
                ),
                _s(
                    "Danke für Ihre Nachricht. An der Kasse liegt ein blauer Wollschal. Ist "
                    "er das? Sie können ihn zu den Öffnungszeiten abholen.",
                    60,
                    3,
                ),
            ],
            subject="Schal vergessen",
        ),
        Spec(
            ConversationChannel.FORM,
            s.OPEN,
            "de",
            20,
            [
                v(
                    "Liebes Museumsteam, die Ausstellung zur Textilgeschichte hat uns sehr "
                    "gefallen! Gibt es den Katalog auch zu kaufen?",
                    0,
                ),
            ],
        ),
        Spec(
            ConversationChannel.FORM,
            s.DONE,
            "en",
            150,
            [
                v("Is the museum dog-friendly?", 0),
                _s(
                    "Hello, assistance dogs are always welcome; other dogs unfortunately "
                    "have to stay outside.",
                    240,
                    4,
                ),
            ],
        ),
    ]


def _staff(organisation: Organisation) -> list[User]:
    users = list(
        User.objects.filter(memberships__organisation=organisation).order_by(
            "memberships__created_at", "pk"
        )
    )
    return users or [None]  # type: ignore[list-item]


def _build(
    *,
    organisation: Organisation,
    spec: Spec,
    number: int,
    now: datetime,
    person: Contact | None,
    staff: list[User],
) -> Conversation:
    started = now - timedelta(hours=spec.started_hours_ago)

    def at(minute: int) -> datetime:
        return started + timedelta(minutes=minute)

    conversation = Conversation.objects.create(
        organisation=organisation,
        channel=spec.channel,
        status=spec.status,
        language=spec.language,
        subject=spec.subject,
        created_at=started,
        last_message_at=at(spec.lines[-1].minute),
        handoff_reason=spec.reason,
        handed_over_at=at(spec.handover_minute) if spec.handover_minute is not None else None,
        assigned_to=staff[spec.assigned % len(staff)] if spec.assigned is not None else None,
    )
    first_response = None
    for i, line in enumerate(spec.lines):
        user = staff[line.staff % len(staff)] if line.staff is not None else None
        Message.objects.create(
            conversation=conversation,
            author=line.author,
            user=user,
            text=line.text.replace("{email}", person.email if person else "gruppe@example.org"),
            language=spec.language,
            intent=line.intent,
            confidence=line.confidence,
            delivery=line.delivery,
            mail_message_id=f"<demo-{number}-{i}@stadtmuseum.example>" if line.mail else "",
            created_at=at(line.minute),
        )
        if line.author == Author.STAFF and first_response is None:
            first_response = at(line.minute)
    if spec.status == ConversationStatus.OPEN:
        minute = spec.waiting_since_minute
        conversation.awaiting_since = at(minute if minute is not None else 0)
    conversation.first_response_at = first_response
    conversation.save()
    if spec.contact and person is not None and person.email:
        link_visitor(conversation, email=person.email, name=str(person))
    for text in spec.notes:
        Note.objects.create(
            conversation=conversation,
            user=staff[1 % len(staff)],
            text=text,
            created_at=at(spec.lines[-1].minute + 30),
        )
    return conversation


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """Saved replies, the inbox settings and fifteen conversations."""
    picker = random.Random(rng.getrandbits(64))
    for title, text_de, text_en in SAVED_REPLIES:
        SavedReply.objects.create(
            organisation=organisation, title=title, text_de=text_de, text_en=text_en
        )
    settings = InboxSettings.objects.create(
        organisation=organisation, overdue_hours=24, notify_email=NOTIFY_EMAIL
    )
    people = list(
        Contact.objects.filter(organisation=organisation, erased_at__isnull=True)
        .exclude(email="")
        .order_by("pk")[:400]
    )
    staff = _staff(organisation)
    specs = _specs()
    chosen = picker.sample(people, min(len(people), len(specs))) if people else []
    built = []
    for number, spec in enumerate(specs):
        person = chosen[number] if number < len(chosen) else None
        built.append(
            _build(
                organisation=organisation,
                spec=spec,
                number=number,
                now=now,
                person=person,
                staff=staff,
            )
        )
    # The demo's overdue conversation was announced already: no mail at the first tick.
    overdue_before = now - timedelta(hours=settings.overdue_hours)
    Conversation.objects.filter(
        organisation=organisation,
        status=ConversationStatus.OPEN,
        awaiting_since__lt=overdue_before,
    ).update(overdue_notified_at=now)
    progress(
        stdout,
        f"  conversations: {len(built)} in the inbox, {len(SAVED_REPLIES)} saved replies",
    )
