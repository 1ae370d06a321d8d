"""The public contact form under /<org>/contact/."""

from __future__ import annotations

from django.urls import URLPattern, path

from publikum.conversations import public_views

urlpatterns: list[URLPattern] = [
    path("contact/", public_views.contact, name="public_contact"),
    path("contact/sent/", public_views.contact_sent, name="public_contact_sent"),
]
