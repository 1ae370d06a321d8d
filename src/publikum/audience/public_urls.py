"""Public pages of the audience under /<org>/: subscribe, confirm, preference centre."""

from __future__ import annotations

from django.urls import URLPattern, path

from publikum.audience import public_views

urlpatterns: list[URLPattern] = [
    path("subscribe", public_views.subscribe, name="public_subscribe"),
    path("subscribe/sent", public_views.subscribe_sent, name="public_subscribe_sent"),
    path(
        "subscribe/confirm/<str:token>",
        public_views.subscribe_confirm,
        name="public_subscribe_confirm",
    ),
    path("preferences/<str:token>", public_views.preferences, name="public_preferences"),
    path(
        "unsubscribe/<str:token>",
        public_views.unsubscribe_oneclick,
        name="public_unsubscribe_oneclick",
    ),
]
