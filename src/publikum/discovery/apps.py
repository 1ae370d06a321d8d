from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    """Recommendations: the library (`recommender`, `rerank`, ...) and its Django side
    (`services`, `api`, the contact page section). No models yet."""

    name = "publikum.discovery"
    label = "discovery"
    verbose_name = "Discovery"
