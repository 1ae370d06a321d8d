from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from publikum.core import navigation, selectors
from publikum.core.models import role_at_least


def tenancy(request: HttpRequest) -> dict[str, Any]:
    organisation = getattr(request, "organisation", None)
    membership = getattr(request, "membership", None)
    context: dict[str, Any] = {"organisation": organisation, "membership": membership}
    if membership is not None and organisation is not None:
        current = request.resolver_match.url_name if request.resolver_match else ""
        nav = []
        for e in navigation.entries():
            if not role_at_least(membership.role, e.min_role):
                continue
            try:
                url = reverse(e.url_name, kwargs={"org": organisation.slug})
            except NoReverseMatch:  # a module registered an entry it does not serve (yet)
                continue
            nav.append(
                {
                    "label": e.label,
                    "url": url,
                    "active": e.url_name == current,
                    "section": e.section,
                }
            )
        context["nav"] = nav
    if request.user.is_authenticated:
        context["my_memberships"] = selectors.memberships_of(user=request.user)  # type: ignore[arg-type]
    return context
