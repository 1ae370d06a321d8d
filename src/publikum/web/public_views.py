"""Public pages of an organisation under /<org>/."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from publikum.core.models import Organisation
from publikum.programme import selectors as programme_selectors


def organisation_home(request: HttpRequest, org: str) -> HttpResponse:
    organisation = Organisation.objects.filter(slug=org).first()
    if organisation is None:
        raise Http404("No such organisation.")
    language = (get_language() or "de")[:2]
    upcoming = programme_selectors.upcoming_occurrences(organisation=organisation)[:12]
    return render(
        request,
        "web/public_home.html",
        {
            "public_org": organisation,
            "description": organisation.description(language),
            "upcoming": upcoming,
            "language": language,
        },
    )
