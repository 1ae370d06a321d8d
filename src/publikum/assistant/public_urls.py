"""Public pages of the assistant under /<org>/: the widget script and the full page."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from publikum.assistant import public_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("assistant.js", public_views.assistant_js, name="public_assistant_js"),
    path("assistant/", public_views.assistant_page, name="public_assistant"),
]
