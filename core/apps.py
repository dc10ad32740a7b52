from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure every other app leans on; owns no business data."""

    name = "core"
    verbose_name = "Core"
