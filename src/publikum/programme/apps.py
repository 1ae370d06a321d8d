from django.apps import AppConfig


class ProgrammeConfig(AppConfig):
    name = "publikum.programme"
    label = "programme"
    verbose_name = "Programme"
