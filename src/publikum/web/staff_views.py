"""The dashboard: what a director sees first."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

from publikum.audience import selectors as audience_selectors
from publikum.audience.models import InteractionKind
from publikum.conversations.selectors import inbox_figures
from publikum.conversations.views import figures_context
from publikum.core import selectors as core_selectors
from publikum.core.models import Role, role_at_least
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.programme import selectors as programme_selectors
from publikum.web.charts import bar_chart


def last_months(now: datetime, count: int) -> list[datetime]:
    """The first instants of the last `count` months, oldest first, the current one last."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = [first]
    for _ in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(first)
    return months[::-1]


@staff_view(Role.VIEWER)
def dashboard(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    now = timezone.now()
    language = (get_language() or "de")[:2]
    contacts = audience_selectors.contact_list(organisation=organisation)
    months = last_months(timezone.localtime(now), 12)
    per_month = {
        (m.year, m.month): n
        for m, n in audience_selectors.interactions_per_month(
            organisation=organisation, kind=InteractionKind.VISIT, since=months[0]
        )
    }
    upcoming = programme_selectors.upcoming_occurrences(organisation=organisation)
    figures = {
        "contacts": contacts.count(),
        "new_contacts": contacts.filter(created_at__gte=now - timedelta(days=30)).count(),
        "visits_30d": audience_selectors.interaction_count(
            organisation=organisation, kind=InteractionKind.VISIT, since=now - timedelta(days=30)
        ),
        "upcoming": upcoming.count(),
        "outbox": core_selectors.outbox_list(organisation=organisation).count(),
    }
    chart = bar_chart(
        [(m.strftime("%m/%y"), per_month.get((m.year, m.month), 0)) for m in months],
        title="visits",
    )
    return render(
        request,
        "web/dashboard.html",
        {
            "figures": figures,
            "visits_chart": chart,
            "next_dates": upcoming[:8],
            "language": language,
            "inbox": figures_context(inbox_figures(organisation)),
            "failed_jobs": core_selectors.failed_job_list(organisation=organisation).count()
            if role_at_least(request.membership.role, Role.MANAGER)
            else 0,
        },
    )
