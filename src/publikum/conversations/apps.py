from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    """The inbox: hand-overs of the assistant, inbound mail, contact-form messages."""

    name = "publikum.conversations"
    label = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        # The personal-data handler, the periodic jobs and anymail's inbound receiver.
        from publikum.conversations import inbound, privacy, tasks  # noqa: F401
        from publikum.core.navigation import NavEntry, register

        register(NavEntry(_("Inbox"), "inbox", order=12))
