"""Public programme pages and feeds under /<org>/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from publikum.programme import public_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("programme/", public_views.programme, name="public_programme"),
    path("programme.ics", public_views.feed_ics, name="public_feed_ics"),
    path("programme.json", public_views.feed_json, name="public_feed_json"),
    path(
        "programme/theme/<slug:slug>.ics",
        public_views.theme_feed_ics,
        name="public_theme_feed_ics",
    ),
    path("programme/<slug:slug>/", public_views.item, name="public_item"),
]
