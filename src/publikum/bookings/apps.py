from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingsConfig(AppConfig):
    name = "publikum.bookings"
    label = "bookings"
    verbose_name = "Bookings"

    def ready(self) -> None:
        from publikum.bookings import privacy, tasks  # noqa: F401
        from publikum.core.models import Role
        from publikum.core.navigation import NavEntry, register

        register(NavEntry(_("Bookings"), "bookings", order=15))
        register(NavEntry(_("Check-in"), "check_in", Role.FRONT_DESK, order=16))
