from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure every other app leans on; owns no business data."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from core import (
            api_schema,  # noqa: F401  registers the strict-input schema extension
            counters,
        )

        request_started.connect(counters.request_started, dispatch_uid="counters-started")
        request_finished.connect(counters.request_finished, dispatch_uid="counters-finished")
