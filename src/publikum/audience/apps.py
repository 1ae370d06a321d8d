from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "publikum.audience"
    label = "audience"
    verbose_name = "Audience"
