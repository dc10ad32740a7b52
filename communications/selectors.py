"""Reads of the communication settings and templates, through a cache that every
process drops when the settings change (a switch takes effect on the next message)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field

from communications.defaults import DEFAULTS, install_defaults
from communications.models import (
    CommunicationSettings,
    CommunicationSettingsChange,
    CommunicationTemplate,
    TemplateVersion,
)

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


@dataclass(frozen=True)
class SettingChange:
    """One value of the settings as a person reads it: which, old -> new, who, when."""

    label: str
    old: str
    new: str
    actor: str
    at: datetime


def _shown(field: Field[Any, Any], value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value)) if value else "none"
    return f"{value:,}" if isinstance(value, int) else str(value)


def settings_history(*, limit: int = 20) -> list[SettingChange]:
    """The latest changes to the communication settings, newest first, a row per value."""
    rows = []
    for change in CommunicationSettingsChange.objects.select_related("actor")[:limit]:
        for name, (old, new) in sorted(dict(change.changes).items()):
            try:
                field = CommunicationSettings._meta.get_field(name)
            except FieldDoesNotExist:  # a setting removed since
                continue
            rows.append(
                SettingChange(
                    label=str(getattr(field, "verbose_name", name)),
                    old=_shown(field, old),  # type: ignore[arg-type]
                    new=_shown(field, new),  # type: ignore[arg-type]
                    actor=change.actor.email if change.actor else "",
                    at=change.created_at,
                )
            )
    return rows
