"""Reads of the communication settings and templates, through a cache that every
process drops when the settings change (a switch takes effect on the next message)."""

from __future__ import annotations

from django.core.cache import cache

from communications.defaults import DEFAULTS, install_defaults
from communications.models import CommunicationSettings, CommunicationTemplate, TemplateVersion

SHIPPED = frozenset((spec["event"], spec["channel"]) for spec in DEFAULTS)

SETTINGS_KEY = "comm:settings:v1"
SETTINGS_TTL = 300


def communication_settings() -> CommunicationSettings:
    cached = cache.get(SETTINGS_KEY)
    if isinstance(cached, CommunicationSettings):
        return cached
    current, _ = CommunicationSettings.objects.get_or_create(pk=1)
    cache.set(SETTINGS_KEY, current, SETTINGS_TTL)
    return current


def forget_settings() -> None:
    cache.delete(SETTINGS_KEY)


def template_for(*, event: str, channel: str) -> CommunicationTemplate | None:
    """The template of an event on a channel. A shipped default that is missing (a new
    event, or a database emptied by hand) is installed on first use."""
    found = (
        CommunicationTemplate.objects.select_related("active_version")
        .filter(event=event, channel=channel)
        .first()
    )
    if found is None and (event, channel) in SHIPPED:
        install_defaults(CommunicationTemplate, TemplateVersion)
        return template_for(event=event, channel=channel)
    return found
