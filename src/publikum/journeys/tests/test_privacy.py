"""A person's journeys and mails in the export, and gone from them after erasure."""

from __future__ import annotations

import json

import pytest

from publikum.audience.privacy import contact_erase, contact_export
from publikum.audience.services import contact_create
from publikum.journeys.delivery import message_queue
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    JourneyRun,
    Message,
    MessageStatus,
    RunStatus,
    StaffTask,
)


@pytest.mark.django_db
def test_export_lists_the_mails_and_journeys_and_erasure_removes_the_person(organisation):
    anna = contact_create(organisation=organisation, first_name="Anna", email="anna@example.org")
    template = EmailTemplate.objects.create(
        organisation=organisation, name="Brief", kind="marketing", purpose="newsletter",
        subject_de="Hallo {{ contact.first_name }}", blocks=[],
    )  # fmt: skip
    journey = Journey.objects.create(organisation=organisation, name="Willkommen",
                                     trigger="api")  # fmt: skip
    run = JourneyRun.objects.create(
        organisation=organisation, journey=journey, contact=anna, entered_at=anna.created_at,
        step_id="s1", due_at=anna.created_at, context={"booking": 12},
    )  # fmt: skip
    sent = message_queue(organisation=organisation, contact=anna, template=template, key="k:1")
    Message.objects.filter(pk=sent.pk).update(
        status=MessageStatus.SENT, to_email="anna@example.org", subject="Hallo Anna"
    )
    queued = message_queue(organisation=organisation, contact=anna, template=template, key="k:2")
    StaffTask.objects.create(organisation=organisation, contact=anna, title="Anna anrufen",
                             key="t:1")  # fmt: skip

    exported = contact_export(contact=anna)
    text = json.dumps(exported, default=str)
    assert "Hallo Anna" in text
    assert "Willkommen" in text
    assert "Anna anrufen" in text

    contact_erase(contact=anna)

    sent.refresh_from_db()
    queued.refresh_from_db()
    run.refresh_from_db()
    assert (sent.status, sent.to_email, sent.subject) == (MessageStatus.SENT, "", "")
    assert (queued.status, queued.reason) == (MessageStatus.SUPPRESSED, "erased")
    assert (run.status, run.context) == (RunStatus.EXITED, {})
    assert not StaffTask.objects.filter(organisation=organisation).exists()
    leftovers = json.dumps(
        list(Message.objects.values()) + list(JourneyRun.objects.values()), default=str
    )
    assert "anna" not in leftovers.lower()
