"""The REST API under /api/v1/: one NinjaAPI, a router per module."""

from __future__ import annotations

from ninja import NinjaAPI

from publikum.assistant.api import router as assistant_public_router
from publikum.assistant.api_knowledge import router as knowledge_router
from publikum.audience.api import router as contacts_router
from publikum.audience.api_imports import router as imports_router
from publikum.audience.api_privacy import router as privacy_router
from publikum.audience.api_segments import router as segments_router
from publikum.bookings.api import router as bookings_router
from publikum.conversations.api import router as conversations_router
from publikum.core.api import router as core_router
from publikum.core.apikit import TokenAuth, install_error_handlers
from publikum.discovery.api import router as discovery_router
from publikum.journeys.api import router as journeys_router
from publikum.programme.api import router as events_router

api = NinjaAPI(
    title="Publikum API",
    version="1",
    description=(
        "REST API of Publikum. Authenticate with `Authorization: Bearer <token>`; a token "
        "belongs to one organisation and one role. Errors are JSON: "
        '`{"error": {"code": ..., "message": ..., "fields": {...}}}`.'
    ),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=TokenAuth(),
)
install_error_handlers(api)
api.add_router("/", core_router)
api.add_router("/", contacts_router)
api.add_router("/", privacy_router)
api.add_router("/", segments_router)
api.add_router("/", imports_router)
api.add_router("/", events_router)
api.add_router("/", bookings_router)
api.add_router("/", journeys_router)
api.add_router("/", discovery_router)
api.add_router("/", conversations_router)
api.add_router("/", knowledge_router)
api.add_router("/", assistant_public_router)
