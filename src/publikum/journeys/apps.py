from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JourneysConfig(AppConfig):
    name = "publikum.journeys"
    label = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from publikum.core.navigation import NavEntry, register
        from publikum.journeys import bounces, engine_tasks, newsletters, privacy, tasks  # noqa: F401

        register(NavEntry(_("Journeys"), "journeys", order=20))
        register(NavEntry(_("Newsletters"), "newsletters", order=21))
        register(NavEntry(_("Mail templates"), "mail_templates", order=22))
        register(NavEntry(_("Tasks"), "staff_tasks", order=23))
