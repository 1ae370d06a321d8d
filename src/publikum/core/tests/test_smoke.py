import pytest


@pytest.mark.django_db
def test_dashboard_shows_the_organisation_name(owner_client, organisation):
    response = owner_client.get(f"/o/{organisation.slug}/")
    assert response.status_code == 200
    assert "Stadtmuseum Test" in response.content.decode()


def test_api_answers_over_real_http(api, organisation, token_factory):
    client = api(token_factory(organisation, "viewer"))
    response = client.get("/organisation")
    assert response.status_code == 200
    assert response.json()["slug"] == organisation.slug
