"""The organisation's public home page at /<org>/: who they are, what comes next."""

from __future__ import annotations

import pytest

from publikum.core.models import Organisation
from publikum.programme.models import OccurrenceStatus
from publikum.programme.tests.public_factories import (
    add_date,
    local,
    make_item,
    make_venue,
    text,
    visitor,
)

pytestmark = pytest.mark.django_db


def test_home_page_shows_the_house_and_what_comes_next(
    organisation: Organisation, other_organisation: Organisation
) -> None:
    organisation.description_en = "The museum of the town."
    organisation.save()
    make_venue(organisation, name_de="Haupthaus", name_en="Main building", is_main=True)
    walk = make_item(organisation, "altstadt", title_en="Old town walk")
    add_date(walk, local(organisation, days=2))
    add_date(walk, local(organisation, days=-2))
    called_off = make_item(organisation, "abgesagt", title_en="Called off")
    add_date(called_off, local(organisation, days=3), status=OccurrenceStatus.CANCELLED)
    draft = make_item(organisation, "entwurf", title_en="Draft", published=False)
    add_date(draft, local(organisation, days=2))
    theirs = make_item(other_organisation, "fremd", title_en="Not ours")
    add_date(theirs, local(other_organisation, days=2))

    response = visitor("en").get(f"/{organisation.slug}/")

    assert response.status_code == 200
    page = text(response)
    assert "The museum of the town." in page
    assert "Main building, Kornmarkt 1, 12345 Beispielstadt" in page
    assert "Old town walk" in page
    assert "Called off Guided tour Cancelled" in page
    assert "Draft" not in page
    assert "Not ours" not in page
    content = response.content.decode()
    assert f'href="/{organisation.slug}/programme/"' in content
    assert f'href="/{organisation.slug}/programme/altstadt/"' in content
    assert f'href="/{organisation.slug}/programme.ics"' in content
    assert response["Cache-Control"] == "public, max-age=60"


def test_unknown_organisations_are_not_found(db: None) -> None:
    client = visitor("en")
    for path in ("/kein-haus/", "/kein-haus/programme/", "/kein-haus/programme.json"):
        assert client.get(path).status_code == 404


def test_public_pages_answer_get_and_head_only(organisation: Organisation) -> None:
    client = visitor("en")
    for path in ("", "programme/", "programme.ics", "programme.json"):
        assert client.head(f"/{organisation.slug}/{path}").status_code == 200
        assert client.put(f"/{organisation.slug}/{path}").status_code == 405
