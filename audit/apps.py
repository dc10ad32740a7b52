from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Owns the tamper-evident audit log and its viewers."""

    name = "audit"
    verbose_name = "Audit"
