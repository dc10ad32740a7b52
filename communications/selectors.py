"""Reads of the communication settings, the templates and the state of queued messages.

The settings row is read from the database every time it is asked for (one row by primary
key): the switch in force is the one in the database at that moment, in every process,
however it was changed (the admin, the shell, SQL, a migration). There is no copy per
process or in the cache that could be stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from communications.defaults import DEFAULTS, install_defaults
from communications.models import (
    Channel,
    CommunicationLog,
    CommunicationSettings,
    CommunicationTemplate,
    Event,
    MessageStatus,
    TemplateVersion,
)

SHIPPED = frozenset((spec["event"], spec["channel"]) for spec in DEFAULTS)


def communication_settings() -> CommunicationSettings:
    """The settings in force now, read from the database."""
    current = CommunicationSettings.objects.filter(pk=1).first()
    if current is None:
        current, _ = CommunicationSettings.objects.get_or_create(pk=1)
    return current


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
            otp_ready=Count("pk", filter=Q(event=Event.OTP_CODE, deferred_until__isnull=True)),
            otp_held=Count("pk", filter=Q(event=Event.OTP_CODE, deferred_until__isnull=False)),
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
