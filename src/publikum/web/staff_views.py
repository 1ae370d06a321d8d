"""The dashboard: what a director sees first."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

from publikum.audience import selectors as audience_selectors
from publikum.audience.models import InteractionKind
from publikum.core import selectors as core_selectors
from publikum.core.models import Role
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.programme import selectors as programme_selectors
from publikum.web.charts import bar_chart


@staff_view(Role.VIEWER)
def dashboard(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    now = timezone.now()
    language = (get_language() or "de")[:2]
    contacts = audience_selectors.contact_list(organisation=organisation)
    year_ago = (now - timedelta(days=365)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    visits = audience_selectors.interactions_per_month(
        organisation=organisation, kind=InteractionKind.VISIT, since=year_ago
    )
    upcoming = programme_selectors.upcoming_occurrences(organisation=organisation)
    figures = {
        "contacts": contacts.count(),
        "new_contacts": contacts.filter(created_at__gte=now - timedelta(days=30)).count(),
        "visits_30d": sum(n for month, n in visits[-1:]) if visits else 0,
        "upcoming": upcoming.count(),
        "outbox": core_selectors.outbox_list(organisation=organisation).count(),
    }
    chart = bar_chart(
        [(month.strftime("%m/%y"), n) for month, n in visits],
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
            "failed_jobs": core_selectors.failed_job_list(organisation=organisation).count()
            if request.membership.role in (Role.OWNER, Role.MANAGER)
            else 0,
        },
    )
