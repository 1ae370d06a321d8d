from django.urls import include, path

from publikum.web import public_views

urlpatterns = [
    path("", public_views.organisation_home, name="public_home"),
    path("", include("publikum.audience.public_urls")),
    path("", include("publikum.programme.public_urls")),
    path("", include("publikum.bookings.public_urls")),
    path("", include("publikum.journeys.public_urls")),
    path("", include("publikum.assistant.public_urls")),
    path("", include("publikum.conversations.public_urls")),
]
