"""The ready-made journeys: each one installs, passes the engine's checks and switches on."""

from __future__ import annotations

import pytest

from publikum.core.errors import ValidationFailed
from publikum.journeys import library
from publikum.journeys.content import template_problems
from publikum.journeys.engine import journey_validate
from publikum.journeys.models import EmailTemplate, Journey, JourneyStatus


@pytest.mark.django_db
@pytest.mark.parametrize("key", library.library_keys())
def test_each_ready_made_journey_is_valid_and_can_be_switched_on(organisation, key):
    journey = library.library_install(organisation=organisation, key=key)

    assert journey.status == JourneyStatus.DRAFT
    assert [str(p) for p in journey_validate(journey)] == []
    for template_id in {
        s["template"] for s in journey.definition["steps"] if s.get("type") == "email"
    }:
        template = EmailTemplate.objects.get(pk=template_id, organisation=organisation)
        assert [str(p) for p in template_problems(template)] == [], template.name

    active = library.library_install(organisation=organisation, key=key, activate=True)
    assert active.status == JourneyStatus.ACTIVE


@pytest.mark.django_db
def test_installing_twice_makes_two_drafts_that_share_the_templates(organisation):
    first = library.library_install(organisation=organisation, key="welcome")
    second = library.library_install(organisation=organisation, key="welcome")

    assert first.pk != second.pk
    assert first.definition == second.definition  # the same template ids
    assert EmailTemplate.objects.filter(organisation=organisation).count() == 2
    # Changing one copy leaves the other alone.
    second.definition["steps"][1]["duration"] = {"days": 7}
    second.save()
    first.refresh_from_db()
    assert first.definition["steps"][1]["duration"] == {"days": 3}


@pytest.mark.django_db
def test_an_organisation_gets_its_own_templates(organisation, other_organisation):
    ours = library.library_install(organisation=organisation, key="birthday")
    theirs = library.library_install(organisation=other_organisation, key="birthday")

    ours_template = ours.definition["steps"][1]["template"]
    theirs_template = theirs.definition["steps"][1]["template"]
    assert ours_template != theirs_template
    assert EmailTemplate.objects.get(pk=theirs_template).organisation == other_organisation


@pytest.mark.django_db
def test_an_unknown_ready_made_journey_is_refused(organisation):
    with pytest.raises(ValidationFailed) as refused:
        library.library_install(organisation=organisation, key="spam-blast")
    assert "spam-blast" in refused.value.message
    assert not Journey.objects.filter(organisation=organisation).exists()
