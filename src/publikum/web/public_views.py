"""Public pages of an organisation under /<org>/: its home page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from publikum.programme import jsonld
from publikum.programme import selectors as programme_selectors
from publikum.programme.public_links import PublicLinks
from publikum.programme.public_views import (
    Rows,
    cacheable,
    current_language,
    public_org,
)

UPCOMING = 12


@require_safe
def organisation_home(request: HttpRequest, org: str) -> HttpResponse:
    organisation = public_org(org)
    language = current_language()
    now = timezone.now()
    links = PublicLinks.of(request, organisation)
    venue = programme_selectors.main_venue(organisation=organisation)
    dates = programme_selectors.next_dates(organisation=organisation, limit=UPCOMING, now=now)
    events = [
        jsonld.event(
            occ,
            organisation=organisation,
            item=occ.item,
            venue=occ.item.venue or venue,
            language=language,
            links=links,
            now=now,
        )
        for occ in dates
    ]
    document = jsonld.organisation_document(
        organisation, main_venue=venue, events=events, language=language, links=links
    )
    make = Rows(organisation, language, now)
    upcoming = [make.item(occ.item, [occ], 1) for occ in dates]
    response = render(
        request,
        "web/public_home.html",
        {
            "public_org": organisation,
            "description": organisation.description(language),
            "venue": venue,
            "venue_name": venue.name(language) if venue else "",
            "upcoming": upcoming,
            "language": language,
            "jsonld": jsonld.script(document),
        },
    )
    return cacheable(response)
