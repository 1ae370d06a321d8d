from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantConfig(AppConfig):
    """The assistant: knowledge, understanding (`nlu`), answers and the booking dialogue
    (`engine`), the public API, the web widget and the evaluation command."""

    name = "publikum.assistant"
    label = "assistant"
    verbose_name = "Assistant"

    def ready(self) -> None:
        from publikum.core.navigation import NavEntry, register

        register(NavEntry(_("Assistant"), "assistant", order=37))
