"""Reads of the communication settings, the templates and the state of queued messages.

The settings row is read from the database every time it is asked for (one row by primary
key): the switch in force is the one in the database at that moment, in every process,
however it was changed (the admin, the shell, SQL, a migration). There is no copy per
process or in the cache that could be stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Field, Q, QuerySet

from communications.defaults import install_defaults, shipped_defaults
from communications.events import OTP_CODE
from communications.models import (
    Channel,
    CommunicationLog,
    CommunicationSettings,
    CommunicationSettingsChange,
    CommunicationTemplate,
    MessageStatus,
    TemplateVersion,
)


def communication_settings() -> CommunicationSettings:
    """The settings in force now, read from the database."""
    current = CommunicationSettings.objects.filter(pk=1).first()
    if current is None:
        current, _ = CommunicationSettings.objects.get_or_create(pk=1)
    return current


def claim_timeout() -> timedelta:
    """How long a worker may hold a message it is handing to the provider. A claim older
    than this belongs to a worker that died (the task's hard time limit is shorter)."""
    return timedelta(seconds=settings.COMMUNICATIONS_CLAIM_TIMEOUT)


def redispatch_after() -> timedelta:
    """How long a queued message's attempt may be overdue before its task counts as lost."""
    return timedelta(seconds=settings.COMMUNICATIONS_REDISPATCH_AFTER)


def stuck_after() -> timedelta:
    """The bound: a worker crash or a lost task is repaired by the sweep well within it,
    so a message still waiting past it means the sweep or the workers are not running."""
    return claim_timeout() + redispatch_after()


def stuck_condition(*, now: datetime) -> Q:
    """Queued messages (not held by a volume limit) waiting past ``stuck_after``."""
    since = now - stuck_after()
    return Q(status=MessageStatus.QUEUED, deferred_until__isnull=True) & (
        Q(claimed_at__isnull=True, next_attempt_at__lt=since) | Q(claimed_at__lt=since)
    )


def stuck_messages(*, now: datetime) -> QuerySet[CommunicationLog]:
    return CommunicationLog.objects.filter(stuck_condition(now=now))


def is_stuck(log: CommunicationLog, *, now: datetime) -> bool:
    """``stuck_condition`` for one row already in memory."""
    if log.status != MessageStatus.QUEUED or log.deferred_until is not None:
        return False
    since = now - stuck_after()
    if log.claimed_at is not None:
        return log.claimed_at < since
    return log.next_attempt_at is not None and log.next_attempt_at < since


@dataclass(frozen=True)
class QueuedNow:
    """Queued messages on one channel: ``ready`` go out as soon as a worker takes them;
    ``held`` wait for an hour with room under a volume limit."""

    ready: int = 0
    held: int = 0


def queued_messages() -> dict[str, QueuedNow]:
    """Queued messages per channel, and under ``"otp"`` the one-time codes among them (on
    any channel): what switching each off would stop. One grouped query."""
    rows = (
        CommunicationLog.objects.filter(status=MessageStatus.QUEUED)
        .values("channel")
        .annotate(
            ready=Count("pk", filter=Q(deferred_until__isnull=True)),
            held=Count("pk", filter=Q(deferred_until__isnull=False)),
            otp_ready=Count("pk", filter=Q(event=OTP_CODE, deferred_until__isnull=True)),
            otp_held=Count("pk", filter=Q(event=OTP_CODE, deferred_until__isnull=False)),
        )
    )
    found = {channel: QueuedNow() for channel in Channel.values}
    otp_ready = otp_held = 0
    for row in rows:
        found[row["channel"]] = QueuedNow(ready=row["ready"], held=row["held"])
        otp_ready += row["otp_ready"]
        otp_held += row["otp_held"]
    found["otp"] = QueuedNow(ready=otp_ready, held=otp_held)
    return found


def _is_shipped(event: str, channel: str) -> bool:
    return any((s["event"], s["channel"]) == (event, channel) for s in shipped_defaults())


def template_for(*, event: str, channel: str) -> CommunicationTemplate | None:
    """The template of an event on a channel. A shipped default that is missing (a new
    event, or a database emptied by hand) is installed on first use."""
    found = (
        CommunicationTemplate.objects.select_related("active_version")
        .filter(event=event, channel=channel)
        .first()
    )
    if found is None and _is_shipped(event, channel):
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
