"""Public links in the mails under /<org>/mail/: one-click unsubscribe and tracked clicks."""

from __future__ import annotations

from django.urls import URLPattern, path

from publikum.journeys import public_views

urlpatterns: list[URLPattern] = [
    path(
        "mail/unsubscribe/<str:token>",
        public_views.unsubscribe,
        name="public_mail_unsubscribe",
    ),
    path("mail/click/<str:token>", public_views.click, name="public_mail_click"),
]
