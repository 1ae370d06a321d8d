from django.apps import AppConfig


class ProgrammeConfig(AppConfig):
    name = "publikum.programme"
    label = "programme"
    verbose_name = "Programme"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from publikum.core.navigation import NavEntry, register

        register(NavEntry(_("Programme"), "programme", order=12))
