"""Staff pages of bookings under /o/<org>/bookings/ (fixed paths before `<code>`)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from publikum.bookings import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.booking_list_page, name="bookings"),
    path("check-in/", views.check_in, name="check_in"),
    path("door-list.csv", views.door_list_export, name="bookings_door_list"),
    path(
        "waitlist/<int:entry_id>/withdraw/",
        views.waitlist_withdraw_view,
        name="waitlist_withdraw",
    ),
    path("<str:code>/", views.booking_detail, name="booking_detail"),
    path("<str:code>/cancel/", views.booking_cancel_view, name="booking_cancel"),
]
