"""The kinds of message the platform sends (events), each registered by the app it belongs to.

Communications knows how to send, limit, log and edit messages, not what gift cards,
orders or payouts are. An app that sends a message registers its event here from its
``AppConfig.ready``, with a label for people and the texts it ships for each channel
(``templates``: dicts with ``channel``, ``variables``, ``sample``, ``subject``, ``text``,
``html`` and an optional ``note``). The models' ``event`` fields take their choices from
this registry through a callable, so adding an event needs no migration here; rows that
name an event nobody registers any more keep their value and show it as their label.

``Event.ORDER_RECEIPT`` reads ``"order_receipt"`` once the orders app registered it; the
owners also export their own constants (``orders.messages.ORDER_RECEIPT``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Events whose rules live in communications itself: the one-time code's switch
# (``otp_enabled``) and the channels it may use; the admins' test message; mail sent the
# Django way (``communications.mail``). The otp app registers OTP_CODE with its texts.
OTP_CODE = "otp_code"
TEST_MESSAGE = "test_message"
SYSTEM_EMAIL = "system_email"
# Every template may use these: ``send`` adds them to every message's context.
SITE_VARIABLES = ["site_name"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # fits CommunicationTemplate.event
_CHANNELS = frozenset({"email", "sms", "push"})
_TEMPLATE_KEYS = frozenset({"channel", "variables", "sample", "subject", "text", "html"})


@dataclass(frozen=True)
class EventType:
    """One registered event: its name, what people read, and the texts it ships."""

    name: str
    label: str
    owner: str
    templates: tuple[Mapping[str, Any], ...] = ()


class EventRegistry:
    """Every event the platform can send, in the order the apps registered them."""

    def __init__(self) -> None:
        self._events: dict[str, EventType] = {}

    def register(
        self,
        name: str,
        *,
        label: str,
        owner: str,
        templates: Iterable[Mapping[str, Any]] = (),
    ) -> str:
        """Register ``name`` (again: the new registration replaces the old one, as when an
        app's ready runs twice). Returns the name, for a module constant."""
        if not _NAME.match(name):
            raise ValueError(f"Event name {name!r}: lower-case letters, digits, _; 40 at most.")
        shipped = tuple(templates)
        for spec in shipped:
            missing = _TEMPLATE_KEYS - set(spec)
            if missing:
                raise ValueError(f"Event {name!r}: a shipped template lacks {sorted(missing)}.")
            if spec["channel"] not in _CHANNELS:
                raise ValueError(f"Event {name!r}: unknown channel {spec['channel']!r}.")
        channels = [spec["channel"] for spec in shipped]
        if len(channels) != len(set(channels)):
            raise ValueError(f"Event {name!r}: one shipped template per channel.")
        other = self._events.get(name)
        if other is not None and other.owner != owner:
            raise ValueError(f"Event {name!r} is already registered by {other.owner}.")
        self._events[name] = EventType(name=name, label=label, owner=owner, templates=shipped)
        return name

    def __getattr__(self, attribute: str) -> str:
        # ``Event.ORDER_RECEIPT``: the registered event named ``order_receipt``.
        name = attribute.lower()
        if attribute.isupper() and name in self.__dict__.get("_events", {}):
            return name
        raise AttributeError(f"No registered event {attribute!r}.")

    def __contains__(self, name: object) -> bool:
        return name in self._events

    def get(self, name: str) -> EventType | None:
        return self._events.get(name)

    def label(self, name: str) -> str:
        """What people read for ``name``: its label, or the name itself when no app
        registers it (a log row from before an event was retired)."""
        found = self._events.get(name)
        return found.label if found else name

    @property
    def values(self) -> list[str]:
        return list(self._events)

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [(event.name, event.label) for event in self._events.values()]

    def shipped_templates(self) -> list[dict[str, Any]]:
        """Every shipped text, each with its ``event``, in registration order."""
        return [
            {"event": event.name, **spec}
            for event in self._events.values()
            for spec in event.templates
        ]


events = EventRegistry()
# The name the code has always used: ``Event.OTP_CODE``, ``Event.choices``.
Event = events


def event_choices() -> list[tuple[str, str]]:
    """The models' ``event`` choices (a callable: read when needed, never migrated)."""
    return events.choices
