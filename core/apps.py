from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure every other app leans on; owns no business data."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import api_schema  # noqa: F401  registers the strict-input schema extension
