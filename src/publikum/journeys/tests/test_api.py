"""The journeys API over real HTTP: journeys, the API trigger, the dry run, newsletters and
messages, with roles and organisation isolation."""

from __future__ import annotations

import pytest

from publikum.audience.segments import segment_create
from publikum.audience.services import contact_create
from publikum.core.models import Role
from publikum.journeys import library
from publikum.journeys.models import EmailTemplate, Journey, JourneyRun, Message

API_JOURNEY = {
    "name": "Partner meldet Gruppe an",
    "trigger": "api",
    "reentry": "always",
    "definition": {
        "start": "tag",
        "steps": [
            {"id": "tag", "type": "tag", "add": "gruppe", "next": "end"},
            {"id": "end", "type": "end"},
        ],
    },
}


@pytest.mark.django_db(transaction=True)
def test_create_switch_on_and_start_a_contact_by_api(api, organisation, token_factory):
    client = api(token_factory(organisation, Role.EDITOR))
    anna = contact_create(organisation=organisation, first_name="Anna", email="a@example.org")

    created = client.post("/journeys", json=API_JOURNEY)
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    assert created.json()["status"] == "draft"

    # Not switched on yet: refused with a clear reason.
    early = client.post(f"/journeys/{journey_id}/contacts", json={"contact": anna.pk})
    assert early.status_code == 409
    assert client.post(f"/journeys/{journey_id}/activate").json()["status"] == "active"

    headers = {"Idempotency-Key": "gruppe-2026-12-01"}
    first = client.post(
        f"/journeys/{journey_id}/contacts", json={"contact": anna.pk}, headers=headers
    )
    again = client.post(
        f"/journeys/{journey_id}/contacts", json={"contact": anna.pk}, headers=dict(headers)
    )
    assert first.status_code == 202
    assert first.json()["entered"] is True
    assert again.json()["entered"] is False  # the same key enters nobody twice
    assert JourneyRun.objects.filter(journey_id=journey_id).count() == 1

    unknown = client.post(f"/journeys/{journey_id}/contacts", json={"contact": 999999})
    assert unknown.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_broken_journey_is_refused_on_activation_with_its_problems(
    api, organisation, token_factory
):
    client = api(token_factory(organisation, Role.EDITOR))
    broken = {
        **API_JOURNEY,
        "definition": {
            "start": "a",
            "steps": [
                {"id": "a", "type": "tag", "add": "x", "next": "b"},
                {"id": "b", "type": "tag", "add": "y", "next": "a"},
            ],
        },
    }
    journey_id = client.post("/journeys", json=broken).json()["id"]
    refused = client.post(f"/journeys/{journey_id}/activate")
    assert refused.status_code == 422
    assert "wait" in refused.text.lower()
    assert Journey.objects.get(pk=journey_id).status == "draft"
    bad_trigger = client.post("/journeys", json={**API_JOURNEY, "trigger": "full_moon"})
    assert bad_trigger.status_code == 422


@pytest.mark.django_db(transaction=True)
def test_viewers_read_and_other_houses_see_nothing(
    api, organisation, other_organisation, token_factory
):
    journey = library.library_install(organisation=organisation, key="welcome")
    viewer = api(token_factory(organisation, Role.VIEWER))
    assert [j["id"] for j in viewer.get("/journeys").json()["items"]] == [journey.pk]
    assert viewer.post("/journeys", json=API_JOURNEY).status_code == 403
    assert viewer.post(f"/journeys/{journey.pk}/activate").status_code == 403

    stranger = api(token_factory(other_organisation, Role.OWNER))
    assert stranger.get(f"/journeys/{journey.pk}").status_code == 404
    assert stranger.post(f"/journeys/{journey.pk}/activate").status_code == 404
    assert stranger.get("/journeys").json()["items"] == []


@pytest.mark.django_db(transaction=True)
def test_the_dry_run_says_what_would_happen_and_writes_nothing(api, organisation, token_factory):
    journey = library.library_install(organisation=organisation, key="welcome")
    anna = contact_create(organisation=organisation, first_name="Anna", email="a@example.org")
    client = api(token_factory(organisation, Role.VIEWER))

    lines = client.get(f"/journeys/{journey.pk}/dry-run", params={"contact": anna.pk}).json()
    assert [line["step"] for line in lines][:3] == ["hello", "pause", "inside"]
    assert any("consent" in line["what"].lower() for line in lines)  # Anna gave none
    assert not JourneyRun.objects.exists()
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_newsletters_by_api_refuse_a_segment_matching_nobody(api, organisation, token_factory):
    client = api(token_factory(organisation, Role.EDITOR))
    template = EmailTemplate.objects.create(
        organisation=organisation, name="Brief", kind="marketing", purpose="newsletter",
        subject_de="Hallo", blocks=[],
    )  # fmt: skip
    nobody = segment_create(organisation=organisation, name="Niemand", rules={"tag": "nie"})

    created = client.post(
        "/newsletters", json={"name": "Dez", "template": template.pk, "segment": nobody.pk}
    )
    assert created.status_code == 201, created.text
    newsletter_id = created.json()["id"]
    refused = client.post(f"/newsletters/{newsletter_id}/schedule", json={})
    assert refused.status_code == 422
    assert "matches nobody" in refused.json()["error"]["message"]
    assert client.get(f"/newsletters/{newsletter_id}").json()["status"] == "draft"

    wrong = client.post("/newsletters", json={"name": "X", "template": 0, "segment": nobody.pk})
    assert wrong.status_code == 422
    assert "template" in wrong.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_messages_are_listed_per_contact(api, organisation, token_factory):
    anna = contact_create(organisation=organisation, first_name="Anna", email="a@example.org")
    template = EmailTemplate.objects.create(
        organisation=organisation, name="Brief", kind="marketing", purpose="newsletter",
        subject_de="Hallo", blocks=[],
    )  # fmt: skip
    from publikum.journeys.delivery import message_queue

    message_queue(organisation=organisation, contact=anna, template=template, key="test:1")
    client = api(token_factory(organisation, Role.VIEWER))
    items = client.get("/messages", params={"contact": anna.pk}).json()["items"]
    assert [(m["key"], m["kind"], m["purpose"]) for m in items] == [
        ("test:1", "marketing", "newsletter")
    ]
    assert client.get("/messages", params={"contact": anna.pk + 1}).json()["items"] == []
