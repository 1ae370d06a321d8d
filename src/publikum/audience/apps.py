from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "publikum.audience"
    label = "audience"
    verbose_name = "Audience"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from publikum.audience import tasks  # noqa: F401
        from publikum.core.models import Role
        from publikum.core.navigation import NavEntry, register

        register(NavEntry(_("Contacts"), "contacts", order=20))
        register(NavEntry(_("Segments"), "segments", order=30))
        register(NavEntry(_("Loyalty"), "lifecycle", order=35))
        register(NavEntry(_("Imports"), "imports", Role.EDITOR, order=40))
        register(NavEntry(_("Duplicates"), "duplicates", Role.EDITOR, order=45))
        register(NavEntry(_("Retention"), "retention", Role.MANAGER, order=50, section="admin"))
