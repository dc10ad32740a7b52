from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    """Owns channel switches, message templates, sending and the communication log."""

    name = "communications"
    verbose_name = "Communications"
