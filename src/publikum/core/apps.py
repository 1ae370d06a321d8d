from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "publikum.core"
    label = "core"
    verbose_name = "Publikum core"

    def ready(self) -> None:
        # Register periodic jobs and task modules of the core.
        from django.utils.translation import gettext_lazy as _

        from publikum.core import tasks  # noqa: F401
        from publikum.core.models import Role
        from publikum.core.navigation import NavEntry, register

        register(NavEntry(_("Dashboard"), "dashboard", order=0))
        register(NavEntry(_("Outbox"), "outbox", order=90))
        register(NavEntry(_("Team"), "members", order=10, section="admin"))
        register(NavEntry(_("API tokens"), "tokens", Role.MANAGER, order=20, section="admin"))
        register(NavEntry(_("Background work"), "jobs", Role.MANAGER, order=30, section="admin"))
        register(NavEntry(_("Audit log"), "audit", Role.OWNER, order=40, section="admin"))
