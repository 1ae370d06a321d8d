"""Staff pages live under /o/<org>/: every one of them goes through `staff_view`.

A user who is not a member of the organisation gets 404 (not 403), so that staff of one
house cannot even learn which other organisations exist. Anonymous users are sent to log in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from publikum.core import selectors
from publikum.core.models import Membership, Organisation, Role, User, role_at_least

ViewFunc = Callable[..., HttpResponse]


class StaffRequest(HttpRequest):
    """The request a staff view receives: a logged-in member of the organisation."""

    user: User  # type: ignore[assignment]
    organisation: Organisation
    membership: Membership


def staff_view(min_role: str = Role.VIEWER) -> Callable[[ViewFunc], ViewFunc]:
    """Resolve `org` from the URL to the member's organisation; enforce the minimum role.

    The wrapped view receives `request.organisation` and `request.membership`.
    """

    def decorate(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, org: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = selectors.membership_for(user=request.user, organisation_slug=org)  # type: ignore[arg-type]
            if membership is None:
                raise Http404("No such organisation.")
            if not role_at_least(membership.role, min_role):
                # Members know the organisation exists; a missing right is a 403.
                from django.core.exceptions import PermissionDenied

                raise PermissionDenied("Your role does not allow this.")
            request.organisation = membership.organisation  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapped.staff_min_role = min_role  # type: ignore[attr-defined]
        return wrapped

    return decorate
