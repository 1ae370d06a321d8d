"""REST endpoints of the programme: events (programme items) with their dates."""

from ninja import Router

router = Router(tags=["events"])
