from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiscoveryConfig(AppConfig):
    """Recommendations: the library (`recommender`, `rerank`, ...) and its Django side
    (`services`, `api`, the contact page section, the worker's precomputed lists)."""

    name = "publikum.discovery"
    label = "discovery"
    verbose_name = "Discovery"

    def ready(self) -> None:
        from publikum.core.navigation import NavEntry, register

        # Registers the personal-data handler and the periodic jobs.
        from publikum.discovery import privacy, tasks  # noqa: F401

        register(NavEntry(_("Discovery"), "discovery", order=36))
