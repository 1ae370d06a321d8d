from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "publikum.bookings"
    label = "bookings"
    verbose_name = "Bookings"

    def ready(self) -> None:
        from publikum.bookings import privacy, tasks  # noqa: F401
