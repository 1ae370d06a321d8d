"""Staff pages of journeys, mail templates, newsletters and tasks, through the test client."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conftest import make_member
from publikum.audience.services import contact_create
from publikum.core.models import Role
from publikum.journeys import library
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    JourneyStatus,
    Newsletter,
    StaffTask,
    TaskStatus,
)


def client_for(organisation, role):
    client = Client()
    client.force_login(make_member(organisation, role))
    return client


def url(name, organisation, **kwargs):
    return reverse(name, kwargs={"org": organisation.slug, **kwargs})


@pytest.mark.django_db
def test_install_a_ready_made_journey_read_it_and_switch_it_on(organisation, owner_client):
    page = owner_client.get(url("journeys", organisation)).content.decode()
    assert page.count('name="key"') == len(library.library_keys())  # all six on offer

    response = owner_client.post(url("journey_install", organisation), {"key": "win_back"})
    journey = Journey.objects.get(organisation=organisation, template_key="win_back")
    assert response.status_code == 302
    listing = owner_client.get(url("journeys", organisation)).content.decode()
    assert listing.count('name="key"') == len(library.library_keys()) - 1  # no longer offered
    assert response["Location"] == url("journey_detail", organisation, journey_id=journey.pk)

    detail = owner_client.get(response["Location"]).content.decode()
    # The steps in words, with both ways of the branch.
    for text in (
        "Send the mail “Wir vermissen Sie”",
        "Wait 14 days",
        "Did they click a link in the previous mail?",
        "Create a task for the team",
    ):
        assert text in detail, text
    assert "Fix before switching on" not in detail

    owner_client.post(url("journey_action", organisation, journey_id=journey.pk,
                          action="activate"))  # fmt: skip
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ACTIVE
    owner_client.post(url("journey_action", organisation, journey_id=journey.pk, action="pause"))
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.PAUSED


@pytest.mark.django_db
def test_a_broken_journey_shows_its_problems_and_stays_off(organisation, owner_client):
    response = owner_client.post(
        url("journey_create", organisation),
        {
            "name": "Kaputt",
            "trigger": "subscribed",
            "trigger_config": "{}",
            "reentry": "once",
            "reentry_days": "0",
            "definition": '{"start": "a", "steps": [{"id": "a", "type": "wait", "next": "b"},'
            ' {"id": "b", "type": "email", "template": 999999, "next": "a"},'
            ' {"id": "lost", "type": "end"}]}',
        },
    )
    journey = Journey.objects.get(organisation=organisation, name="Kaputt")
    detail = owner_client.get(response["Location"]).content.decode()
    assert "Fix before switching on" in detail
    assert "never reached" in detail  # the step "lost"

    activated = owner_client.post(
        url("journey_action", organisation, journey_id=journey.pk, action="activate"),
        follow=True,
    )
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.DRAFT
    assert "lost" in activated.content.decode()


@pytest.mark.django_db
def test_invalid_json_in_the_editor_is_reported_and_nothing_saved(organisation, owner_client):
    response = owner_client.post(
        url("journey_create", organisation),
        {
            "name": "X",
            "trigger": "subscribed",
            "reentry": "once",
            "reentry_days": "0",
            "definition": '{"start": "a", ',
        },
    )
    assert response.status_code == 200
    assert "not valid JSON" in response.content.decode()
    assert not Journey.objects.filter(organisation=organisation).exists()


@pytest.mark.django_db
def test_the_dry_run_shows_what_would_happen_without_sending(organisation, owner_client):
    journey = library.library_install(organisation=organisation, key="welcome")
    contact_create(organisation=organisation, first_name="Anna", email="anna@example.org")
    page = owner_client.get(
        url("journey_detail", organisation, journey_id=journey.pk), {"contact": "anna@example.org"}
    ).content.decode()
    assert 'data-testid="dry-run"' in page
    assert "Willkommen 1" in page
    unknown = owner_client.get(
        url("journey_detail", organisation, journey_id=journey.pk), {"contact": "nobody@x.org"}
    ).content.decode()
    assert "No contact with this e-mail address" in unknown


@pytest.mark.django_db
def test_viewers_read_but_cannot_change(organisation):
    journey = library.library_install(organisation=organisation, key="birthday")
    viewer = client_for(organisation, Role.VIEWER)
    assert viewer.get(url("journey_detail", organisation, journey_id=journey.pk)).status_code == 200
    refused = viewer.post(
        url("journey_action", organisation, journey_id=journey.pk, action="activate")
    )
    assert refused.status_code == 403
    assert viewer.post(url("journey_install", organisation), {"key": "welcome"}).status_code == 403
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.DRAFT


@pytest.mark.django_db
def test_another_houses_journey_is_not_found(organisation, other_organisation, owner_client):
    theirs = library.library_install(organisation=other_organisation, key="birthday")
    response = owner_client.get(url("journey_detail", organisation, journey_id=theirs.pk))
    assert response.status_code == 404


@pytest.mark.django_db
def test_template_editor_previews_both_languages_and_names_problems(organisation, owner_client):
    response = owner_client.post(
        url("template_create", organisation),
        {
            "name": "Gruß",
            "kind": "marketing",
            "purpose": "newsletter",
            "subject_de": "Hallo {{ contact.first_name }}",
            "subject_en": "Hello {{ contact.firstname }}",
            "blocks": '[{"type": "text", "markdown_de": "Willkommen", "markdown_en": "Welcome"}]',
        },
    )
    template = EmailTemplate.objects.get(organisation=organisation, name="Gruß")
    assert response["Location"] == url("template_edit", organisation, template_id=template.pk)
    page = owner_client.get(response["Location"]).content.decode()
    assert 'data-testid="template-problems"' in page
    assert "firstname" in page  # the unknown variable of the English subject
    assert "srcdoc=" in page  # the German preview renders

    missing_purpose = owner_client.post(
        url("template_create", organisation),
        {"name": "Ohne", "kind": "marketing", "purpose": "", "subject_de": "x", "blocks": "[]"},
    )
    assert "needs the consent" in missing_purpose.content.decode()


@pytest.mark.django_db
def test_newsletter_is_created_from_the_list_page(organisation, owner_client):
    from publikum.audience.segments import segment_create

    template = EmailTemplate.objects.create(
        organisation=organisation, name="Brief", kind="marketing", purpose="newsletter",
        subject_de="Brief", blocks=[],
    )  # fmt: skip
    segment = segment_create(organisation=organisation, name="Alle", rules={"all": []})
    response = owner_client.post(
        url("newsletter_create", organisation),
        {"name": "Dezember", "template": template.pk, "segment": segment.pk},
    )
    newsletter = Newsletter.objects.get(organisation=organisation)
    assert response["Location"] == url(
        "newsletter_detail", organisation, newsletter_id=newsletter.pk
    )
    # The segment matches nobody (no contacts yet): sending is refused with the reason.
    refused = owner_client.post(
        url("newsletter_action", organisation, newsletter_id=newsletter.pk, action="send"),
        follow=True,
    ).content.decode()
    assert "matches nobody" in refused


@pytest.mark.django_db
def test_tasks_can_be_marked_done(organisation, owner_client):
    task = StaffTask.objects.create(organisation=organisation, title="Anrufen", key="t1")
    page = owner_client.get(url("staff_tasks", organisation)).content.decode()
    assert "Anrufen" in page
    owner_client.post(url("staff_tasks", organisation), {"task": task.pk})
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert owner_client.post(url("staff_tasks", organisation), {"task": "x"}).status_code == 404


@pytest.mark.django_db
def test_an_ab_split_names_the_way_that_leads_once_both_have_enough_contacts(
    organisation, owner_client
):
    from datetime import timedelta

    from django.utils import timezone

    from publikum.audience.services import interaction_record
    from publikum.journeys.models import JourneyRun, StepEvent
    from publikum.journeys.results import SPLIT_MIN_PER_WAY

    journey = Journey.objects.create(
        organisation=organisation,
        name="Test A/B",
        trigger="api",
        definition={
            "start": "ab",
            "steps": [
                {"id": "ab", "type": "split", "a": "end", "b": "end", "percent_a": 50,
                 "metric": "booked"},
                {"id": "end", "type": "end"},
            ],
        },
    )  # fmt: skip
    at = timezone.now() - timedelta(days=20)

    def enter(way: str, n: int, booking_after_days: int | None) -> None:
        for i in range(n):
            contact = contact_create(
                organisation=organisation, first_name=f"{way}{i}", email=f"{way}{i}@example.org"
            )
            run = JourneyRun.objects.create(
                organisation=organisation, journey=journey, contact=contact, entered_at=at,
                step_id="end", status="done",
            )  # fmt: skip
            StepEvent.objects.create(organisation=organisation, journey=journey, run=run,
                                     step_id="ab", event=f"split_{way}", at=at)  # fmt: skip
            if booking_after_days is not None and i % 2 == 0:
                interaction_record(
                    contact=contact, kind="booking",
                    occurred_at=at + timedelta(days=booking_after_days),
                )  # fmt: skip

    enter("a", SPLIT_MIN_PER_WAY - 1, 3)  # half of A book within the window
    enter("b", SPLIT_MIN_PER_WAY, 30)  # B's bookings come too late to count
    page = owner_client.get(url("journey_detail", organisation, journey_id=journey.pk))
    text = page.content.decode()
    assert "no leader yet" in text  # A has one contact too few

    # One more contact on way A: now both ways have enough, and A's bookings lead.
    contact = contact_create(organisation=organisation, first_name="extra", email="x@example.org")
    run = JourneyRun.objects.create(organisation=organisation, journey=journey, contact=contact,
                                    entered_at=at, step_id="end", status="done")  # fmt: skip
    StepEvent.objects.create(organisation=organisation, journey=journey, run=run, step_id="ab",
                             event="split_a", at=at)  # fmt: skip
    text = owner_client.get(url("journey_detail", organisation, journey_id=journey.pk)).content
    assert "way A leads" in text.decode()
