"""Public booking pages under /<org>/: book a date, the booking's own page, waiting list."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from publikum.bookings import public_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("programme/book/<int:occurrence_id>/", public_views.book, name="public_book"),
    path(
        "programme/book/<int:occurrence_id>/waiting-list/",
        public_views.waitlist_joined,
        name="public_waitlist_joined",
    ),
    path("bookings/<str:code>/<str:token>/", public_views.booking_page, name="public_booking"),
    path(
        "bookings/<str:code>/<str:token>/confirmed/",
        public_views.booking_confirmed,
        name="public_booking_confirmed",
    ),
    path(
        "bookings/<str:code>/<str:token>/cancel/",
        public_views.booking_cancel_page,
        name="public_booking_cancel",
    ),
    path(
        "waitlist/<int:entry_id>/<str:token>/",
        public_views.waitlist_offer,
        name="public_waitlist_offer",
    ),
]
