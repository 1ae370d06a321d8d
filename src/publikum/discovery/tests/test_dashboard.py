"""The discovery dashboard and the contact page's meter, through Django's test client.

The house here lives in the real last quarter: offers are recorded with `offers_record`,
which decides on its own whether an item lay outside the person's usual themes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conftest import make_member
from publikum.audience.models import Contact
from publikum.audience.services import contact_create, interaction_record
from publikum.core.models import AuditEntry, Organisation, Role
from publikum.discovery.models import DEFAULT_HORIZON, DiscoverySettings, OfferChannel
from publikum.discovery.offers import OfferedItem, offers_record
from publikum.discovery.services import house_horizon
from publikum.programme import services as programme
from publikum.programme.models import ProgrammeItem

NASTY_TITLE = "<script>alert('offer')</script> Fotos & mehr"


@dataclass
class SmallHouse:
    organisation: Organisation
    photo: ProgrammeItem
    jazz: ProgrammeItem
    anna: Contact
    ben: Contact


def build_small_house(organisation: Organisation) -> SmallHouse:
    """Anna comes for photography; she is offered a jazz night (outside her usual themes)
    and a photo show, and books the jazz night five days later. Ben only said he likes
    music and is offered the jazz night (his usual theme)."""
    for slug, name_de, name_en in (
        ("fotografie", "Fotografie", "Photography"),
        ("musik", "Musik", "Music"),
    ):
        programme.theme_create(
            organisation=organisation, name_de=name_de, name_en=name_en, slug=slug
        )
    old_photo, photo, jazz = (
        programme.item_create(
            organisation=organisation,
            data={"slug": slug, "title_de": title, "kind": kind, "themes": [theme]},
        )
        for slug, title, kind, theme in (
            ("alte-fotos", "Alte Fotos", "exhibition", "fotografie"),
            ("neue-fotos", NASTY_TITLE, "exhibition", "fotografie"),
            ("jazznacht", "Jazznacht", "concert", "musik"),
        )
    )
    now = timezone.now()
    anna = contact_create(organisation=organisation, first_name="Anna", email="anna@example.org")
    ben = contact_create(
        organisation=organisation, first_name="Ben", email="ben@example.org", interests=["musik"]
    )
    interaction_record(
        contact=anna, kind="visit", item=old_photo, occurred_at=now - timedelta(days=200)
    )
    offers_record(
        organisation=organisation,
        contact=anna,
        items=[OfferedItem(jazz.pk, None, 1), OfferedItem(photo.pk, None, 2)],
        channel=OfferChannel.NEWSLETTER,
        horizon=0.5,
        at=now - timedelta(days=20),
    )
    offers_record(
        organisation=organisation,
        contact=ben,
        items=[OfferedItem(jazz.pk, None, 1)],
        channel=OfferChannel.WEBSITE,
        at=now - timedelta(days=10),
    )
    interaction_record(
        contact=anna, kind="booking", item=jazz, occurred_at=now - timedelta(days=15)
    )
    return SmallHouse(organisation, photo, jazz, anna, ben)


def client_for(organisation: Organisation, role: str, **options: object) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", **options)
    client.force_login(make_member(organisation, role))
    return client


def url(organisation: Organisation) -> str:
    return f"/o/{organisation.slug}/discovery/"


@pytest.fixture
def house(organisation) -> SmallHouse:
    return build_small_house(organisation)


def test_a_viewer_sees_the_figures_and_the_charts_but_no_dial_form(house):
    client = client_for(house.organisation, Role.VIEWER)

    page = client.get(url(house.organisation))

    assert page.status_code == 200
    html = page.content.decode()
    # Anna was offered something outside her usual themes, Ben was not: 1 of 2.
    assert 'data-testid="figure-outside"><span class="value">50.0 %' in html
    # Anna's only booking followed the outside-usual offer of the same item.
    assert 'data-testid="figure-conversions"><span class="value">100.0 %' in html
    assert 'role="img" aria-labelledby="chart-reach-title"' in html
    assert (
        '<title id="chart-reach-title">Reach beyond the usual themes, per month (%)</title>' in html
    )
    assert 'data-testid="top-items"' in html
    assert "Save the dial" not in html
    assert "Only managers and owners can change the dial." in html
    assert 'data-testid="discovery-empty"' not in html


def test_the_navigation_leads_to_the_dashboard(house):
    client = client_for(house.organisation, Role.VIEWER)

    html = client.get(f"/o/{house.organisation.slug}/").content.decode()

    assert f'href="{url(house.organisation)}"' in html


def test_item_titles_are_escaped(house):
    client = client_for(house.organisation, Role.VIEWER)

    html = client.get(url(house.organisation)).content.decode()

    assert "&lt;script&gt;alert(&#x27;offer&#x27;)&lt;/script&gt; Fotos &amp; mehr" in html
    assert "<script>alert(" not in html


def test_a_viewer_cannot_turn_the_dial(house):
    client = client_for(house.organisation, Role.VIEWER)

    response = client.post(url(house.organisation), {"horizon": "0.9"})

    assert response.status_code == 403
    assert house_horizon(organisation=house.organisation) == DEFAULT_HORIZON


def test_a_manager_turns_the_dial(house):
    client = client_for(house.organisation, Role.MANAGER)

    response = client.post(url(house.organisation), {"horizon": "0.7"})

    assert response.status_code == 302
    assert response["Location"] == url(house.organisation)
    assert house_horizon(organisation=house.organisation) == pytest.approx(0.7)
    settings = DiscoverySettings.objects.get(organisation=house.organisation)
    assert settings.wanted_at is not None  # the precomputed lists are to follow
    entry = AuditEntry.objects.get(
        organisation=house.organisation, action="discovery.horizon.changed"
    )
    assert entry.data == {"from": DEFAULT_HORIZON, "to": 0.7}
    page = client.get(url(house.organisation)).content.decode()
    assert '<strong data-testid="dial-value">0.70</strong>' in page
    assert "The dial is now at 0.70." in page


def test_a_decimal_comma_is_read_as_a_point(house):
    client = client_for(house.organisation, Role.OWNER)

    client.post(url(house.organisation), {"horizon": "0,4"})

    assert house_horizon(organisation=house.organisation) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", "Ensure this value is less than or equal to 1"),
        ("-0.1", "Ensure this value is greater than or equal to 0"),
        ("abc", "Enter a number between 0 and 1, such as 0.3."),
        ("nan", "Enter a number between 0 and 1, such as 0.3."),
        ("", "Enter a number between 0 and 1."),
    ],
)
def test_bad_dial_input_is_an_error_at_the_field(house, value, message):
    client = client_for(house.organisation, Role.MANAGER)

    response = client.post(url(house.organisation), {"horizon": value})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    error = html.split('data-testid="dial-error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert house_horizon(organisation=house.organisation) == DEFAULT_HORIZON
    assert not AuditEntry.objects.filter(action="discovery.horizon.changed").exists()


def test_the_dial_form_needs_the_csrf_token(house):
    client = client_for(house.organisation, Role.MANAGER, enforce_csrf_checks=True)

    refused = client.post(url(house.organisation), {"horizon": "0.8"})
    assert refused.status_code == 403
    assert house_horizon(organisation=house.organisation) == DEFAULT_HORIZON

    assert client.get(url(house.organisation)).status_code == 200
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        url(house.organisation), {"horizon": "0.8", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302
    assert house_horizon(organisation=house.organisation) == pytest.approx(0.8)


def test_another_organisations_member_gets_404(house, other_organisation):
    client = client_for(other_organisation, Role.OWNER)

    assert client.get(url(house.organisation)).status_code == 404
    assert client.post(url(house.organisation), {"horizon": "1"}).status_code == 404
    assert house_horizon(organisation=house.organisation) == DEFAULT_HORIZON
    # Their own dashboard knows nothing of the other house's offers.
    own = client.get(url(other_organisation)).content.decode()
    assert 'data-testid="discovery-empty"' in own
    assert "Jazznacht" not in own


def test_anonymous_visitors_are_sent_to_log_in(house):
    response = Client().get(url(house.organisation))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_house_without_offers_explains_what_will_appear(organisation):
    client = client_for(organisation, Role.VIEWER)

    html = client.get(url(organisation)).content.decode()

    assert 'data-testid="discovery-empty"' in html
    assert "“For you” block" in html
    assert "GET /api/v1/recommendations" in html
    assert 'data-testid="figures"' not in html
    assert "Not computed yet" in html


def test_the_state_of_the_precomputed_lists(house):
    DiscoverySettings.objects.create(
        organisation=house.organisation,
        computed_at=timezone.now() - timedelta(hours=1),
        computed_horizon=0.3,
        computed_contacts=1234,
        compute_seconds=2.5,
    )
    client = client_for(house.organisation, Role.VIEWER)

    html = client.get(url(house.organisation)).content.decode()

    shown = html.split('data-testid="precomputed">', 1)[1].split("</p>", 1)[0]
    assert "lists for 1,234 people in 2.5 s" in shown
    assert "Dial then: 0.30." in shown


def test_the_contact_page_shows_the_persons_meter(house):
    client = client_for(house.organisation, Role.VIEWER)

    html = client.get(f"/o/{house.organisation.slug}/contacts/{house.anna.pk}/").content.decode()

    meter_html = html.split('data-testid="bubble-meter"', 1)[1].split("</section>", 1)[0]
    # Her usual themes today: photography, and music since she booked the jazz night.
    assert 'data-testid="usual-themes">Music, Photography<' in meter_html
    assert 'data-testid="outside-share">1 of 2 (50 %)' in meter_html
    assert "1 of 1 bookings followed an offer outside the usual themes." in meter_html
    assert 'aria-labelledby="bubble-chart-title"' in meter_html
    # The "For you" section is still there, above the meter.
    assert html.index('data-testid="for-you"') < html.index('data-testid="bubble-meter"')


def test_the_contact_page_of_someone_never_offered_anything(house):
    client = client_for(house.organisation, Role.VIEWER)
    newcomer = contact_create(
        organisation=house.organisation, first_name="Neu", email="neu@example.org"
    )

    html = client.get(f"/o/{house.organisation.slug}/contacts/{newcomer.pk}/").content.decode()

    meter_html = html.split('data-testid="bubble-meter"', 1)[1].split("</section>", 1)[0]
    assert "No recommendations have reached this person yet." in meter_html
    assert 'data-testid="usual-themes">—' in meter_html
