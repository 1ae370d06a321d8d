"""Staff pages of discovery (under /o/<org>/discovery/)."""

from django.urls import path

from publikum.discovery import views

urlpatterns = [
    path("", views.discovery_dashboard, name="discovery"),
]
