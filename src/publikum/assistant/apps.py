from django.apps import AppConfig


class AssistantConfig(AppConfig):
    """The assistant: knowledge, understanding (`nlu`), answers and the booking dialogue
    (`engine`), the public API, the web widget and the evaluation command."""

    name = "publikum.assistant"
    label = "assistant"
    verbose_name = "Assistant"
