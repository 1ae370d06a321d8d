"""REST endpoints of bookings: availability of a date, book, get, cancel."""

from ninja import Router

router = Router(tags=["bookings"])
