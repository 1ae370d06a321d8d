"""Staff pages under /o/<org>/. Every view here must be wrapped in `staff_view`."""

from django.urls import include, path

from publikum.core import views
from publikum.web import staff_views

urlpatterns = [
    path("", staff_views.dashboard, name="dashboard"),
    path("outbox/", views.outbox_list, name="outbox"),
    path("outbox/<int:mail_id>/", views.outbox_detail, name="outbox_detail"),
    path("team/", views.members, name="members"),
    path("team/<int:membership_id>/", views.member_edit, name="member_edit"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("audit/", views.audit, name="audit"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:job_id>/resolve/", views.job_resolve, name="job_resolve"),
    path("", include("publikum.audience.urls")),
    path("programme/", include("publikum.programme.urls")),
    path("bookings/", include("publikum.bookings.urls")),
    path("", include("publikum.journeys.urls")),
    path("inbox/", include("publikum.conversations.urls")),
]
