"""The inbox figures from a known set; overdue notices; retention; export and erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from publikum.audience.models import Interaction
from publikum.audience.privacy import contact_erase, contact_export
from publikum.conversations import tasks
from publikum.conversations.models import (
    RETENTION_DAYS,
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    InboxSettings,
    Message,
)
from publikum.conversations.selectors import inbox_figures, percentile
from publikum.conversations.services import conversation_start, staff_reply
from publikum.conversations.tests.conftest import make_conversation
from publikum.core.jobs import periodic_jobs
from publikum.core.mailsink import ORG_HEADER

pytestmark = pytest.mark.django_db


def _assistant(
    organisation,
    *,
    wrote: bool = True,
    handed_after: int | None = None,
    answered_after: int | None = None,
    days_ago: float = 1,
):
    now = timezone.now()
    created = now - timedelta(days=days_ago)
    conversation = conversation_start(
        organisation=organisation, channel=ConversationChannel.ASSISTANT, now=created
    )
    if wrote:
        Message.objects.create(
            conversation=conversation, author=Author.VISITOR, text="Frage", created_at=created
        )
    fields = {}
    if handed_after is not None:
        fields["handed_over_at"] = created + timedelta(minutes=handed_after)
        fields["status"] = ConversationStatus.OPEN
        if answered_after is not None:
            fields["first_response_at"] = fields["handed_over_at"] + timedelta(
                minutes=answered_after
            )
            fields["status"] = ConversationStatus.WAITING
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    return conversation


def test_figures_from_a_known_set(organisation, other_organisation):
    # Ten conversations with the assistant in the last 30 days:
    for _ in range(5):
        _assistant(organisation)  # answered by the assistant alone
    _assistant(organisation, wrote=False)  # opened the widget, wrote nothing
    _assistant(organisation, handed_after=1, answered_after=10)
    _assistant(organisation, handed_after=2, answered_after=30)
    _assistant(organisation, handed_after=0, answered_after=60)
    _assistant(organisation, handed_after=5)  # still open, no response yet
    # A mail answered after 120 minutes counts for the response time, not the rates.
    by_mail = conversation_start(
        organisation=organisation,
        channel=ConversationChannel.EMAIL,
        status=ConversationStatus.WAITING,
        now=timezone.now() - timedelta(days=2),
    )
    Conversation.objects.filter(pk=by_mail.pk).update(
        first_response_at=by_mail.created_at + timedelta(minutes=120)
    )
    # Too old to count, and another house's: both ignored.
    _assistant(organisation, handed_after=1, answered_after=1, days_ago=40)
    _assistant(other_organisation, handed_after=1, answered_after=1)

    figures = inbox_figures(organisation, days=30)

    assert figures.assistant_conversations == 10
    assert figures.handed_over == 4
    assert figures.handover_rate == pytest.approx(0.4)
    assert figures.resolved_by_assistant == 5
    assert figures.resolution_rate == pytest.approx(0.5)
    assert figures.responses == 4
    # 10, 30, 60, 120 minutes: median 45 min, 90th percentile (nearest rank) 120 min.
    assert figures.first_response_median == pytest.approx(45 * 60)
    assert figures.first_response_p90 == pytest.approx(120 * 60)
    # Open and waiting count now, however old: the 40-day-old one waits too.
    assert figures.open == 1
    assert figures.waiting == 5


def test_figures_of_an_empty_inbox_are_empty_not_errors(organisation):
    figures = inbox_figures(organisation)
    assert figures.handover_rate is None
    assert figures.first_response_median is None
    assert (figures.open, figures.overdue) == (0, 0)


def test_percentile_is_nearest_rank():
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.0
    assert percentile([float(i) for i in range(1, 12)], 0.9) == 10.0


def test_an_overdue_conversation_is_announced_once(organisation, owner, settings):
    InboxSettings.objects.create(
        organisation=organisation, overdue_hours=24, notify_email="team@example.org"
    )
    overdue = make_conversation(
        organisation, text="Hallo?", waiting_hours=30, email="a@example.org"
    )
    make_conversation(organisation, text="Noch nicht", waiting_hours=2)

    assert tasks.overdue_notify.call() == 1
    assert tasks.overdue_notify.call() == 0

    [notice] = [m for m in mail.outbox if m.to == ["team@example.org"]]
    assert notice.extra_headers[ORG_HEADER] == organisation.slug
    assert f"/o/{organisation.slug}/inbox/{overdue.pk}/" in notice.body
    # Visitor text stays in the inbox, not in the notice.
    assert "Hallo?" not in notice.body
    overdue.refresh_from_db()
    assert overdue.overdue_notified_at is not None

    # Answered, then the visitor writes again and it runs over again: a new notice.
    staff_reply(conversation=overdue, user=owner, text="Antwort")
    Conversation.objects.filter(pk=overdue.pk).update(
        status=ConversationStatus.OPEN, awaiting_since=timezone.now() - timedelta(hours=25)
    )
    assert tasks.overdue_notify.call() == 1


def test_no_notice_without_a_notify_address(organisation):
    InboxSettings.objects.create(organisation=organisation, overdue_hours=1)
    make_conversation(organisation, waiting_hours=5)
    assert tasks.overdue_notify.call() == 0
    assert mail.outbox == []


def test_the_nightly_purge_deletes_conversations_after_the_retention_time(organisation):
    old = make_conversation(organisation, text="alt")
    young = make_conversation(organisation, text="jung")
    Conversation.objects.filter(pk=old.pk).update(
        last_message_at=timezone.now() - timedelta(days=RETENTION_DAYS + 1)
    )

    tasks.conversations_purge.call()

    assert list(Conversation.objects.values_list("pk", flat=True)) == [young.pk]
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    names = {job.name for job in periodic_jobs()}
    assert {"conversations.overdue", "conversations.retention"} <= names


def test_export_contains_and_erasure_deletes_the_persons_conversations(organisation):
    mine = make_conversation(organisation, text="Meine Frage", email="ada@example.org", name="Ada")
    other = make_conversation(organisation, text="Andere Frage", email="bob@example.org")
    contact = mine.contact

    exported = contact_export(contact=contact)

    text = str(exported)
    assert "Meine Frage" in text
    assert "Andere Frage" not in text

    contact_erase(contact=contact)

    assert not Conversation.objects.filter(pk=mine.pk).exists()
    assert Conversation.objects.filter(pk=other.pk).exists()


def test_a_failing_notify_address_does_not_stop_other_organisations(
    organisation, other_organisation
):
    # An address Django refuses to put in a header: its mail fails when it is sent.
    InboxSettings.objects.create(
        organisation=organisation, overdue_hours=1, notify_email="team@example.org\nBcc: x@x"
    )
    InboxSettings.objects.create(
        organisation=other_organisation, overdue_hours=1, notify_email="desk@example.org"
    )
    broken = make_conversation(organisation, waiting_hours=5)
    fine = make_conversation(other_organisation, waiting_hours=5)

    assert tasks.overdue_notify.call() == 1

    assert [m.to for m in mail.outbox] == [["desk@example.org"]]
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.overdue_notified_at is None  # told again on the next run
    assert fine.overdue_notified_at is not None


def test_the_purge_blanks_the_timeline_entry_of_a_deleted_conversation(organisation):
    old = make_conversation(
        organisation, text="alt", email="ada@example.org", subject="Meine Krankheit"
    )
    young = make_conversation(organisation, text="jung", email="ada@example.org", subject="Neu")
    Conversation.objects.filter(pk=old.pk).update(
        last_message_at=timezone.now() - timedelta(days=RETENTION_DAYS + 1)
    )

    tasks.conversations_purge.call()

    entries = Interaction.objects.filter(contact=old.contact, kind="message")
    assert entries.count() == 2
    assert not entries.filter(summary__contains="Krankheit").exists()
    assert not entries.filter(data__conversation=old.pk).exists()
    assert entries.get(data__conversation=young.pk).summary == "Neu"
