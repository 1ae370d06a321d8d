from django.urls import path

from publikum.web import public_views

urlpatterns = [
    path("", public_views.organisation_home, name="public_home"),
]
