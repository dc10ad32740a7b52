from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Owns the demo merchants, people, products and cards of ``seed_demo``: it sits on
    top of every app and no app imports it."""

    name = "demo"
    verbose_name = "Demo data"
