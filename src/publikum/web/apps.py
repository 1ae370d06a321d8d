from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "publikum.web"
    label = "web"
    verbose_name = "Web"
