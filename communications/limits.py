"""The send path's hourly limits (CM-2), counted in the shared cache (Redis when
configured, so every process counts together; ``cache_incr`` is atomic).

Two kinds, with different answers:

* The limit per recipient is against abuse: messages to one address or number on one
  channel, whoever sends them. A message over it is refused (``rate_limited``).
* Volume limits share out the provider's quota: each merchant has its own hourly limit per
  channel, the platform's own messages (no merchant: account emails, admin test
  messages) have one bucket of their own, and all of them together stay under the
  platform's ceiling. A message over one of these is never dropped: it waits, queued,
  until the next hour, and one merchant's busy hour holds up only that merchant.

Windows are clock hours (UTC). A message counts against the volume limits once, in the
window it is handed to a worker (at once, or when it is released), never on a retry.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.cache import cache

from communications.models import CommunicationSettings, messages_count
from core.counters import cache_incr
from merchants.models import Merchant

WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class Window:
    """One clock hour: counters are keyed by ``index``."""

    index: int
    seconds_left: int

    @property
    def ends_at(self) -> datetime:
        return datetime.fromtimestamp((self.index + 1) * WINDOW_SECONDS, tz=UTC)

    @property
    def ends(self) -> str:
        """The hour it ends, as people read it: ``14:00 UTC``."""
        return f"{self.ends_at:%H:%M} UTC"

    @property
    def ttl(self) -> int:
        return self.seconds_left + 60


def current_window() -> Window:
    now = int(time.time())
    return Window(index=now // WINDOW_SECONDS, seconds_left=WINDOW_SECONDS - now % WINDOW_SECONDS)


@dataclass(frozen=True)
class Deferral:
    """A message held back by a volume limit: when it may go, and who is limited."""

    until: datetime
    reason: str


def recipient_refusal(conf: CommunicationSettings, *, channel: str, recipient_digest: str) -> str:
    """Count one message to this recipient; over the abuse limit, the reason it is refused
    (naming the limit and when more can go), else ``""``."""
    window = current_window()
    key = f"comm:rate:{channel}:{recipient_digest}:{window.index}"
    limit = conf.per_recipient_hourly_limit
    if cache_incr(key, ttl=window.ttl) <= limit:
        return ""
    return (
        f"limit of {messages_count(limit, channel)} an hour to one recipient reached; "
        f"more can go to this recipient after {window.ends}"
    )


def _buckets(
    conf: CommunicationSettings, channel: str, merchant: Merchant | None, window: Window
) -> list[tuple[str, int, str]]:
    """The counters a message on ``channel`` counts against: (key, limit, who is limited)."""
    prefix = f"comm:volume:{channel}"
    if merchant is not None:
        limit = conf.merchant_hourly_limit(channel)
        own = (
            f"{prefix}:m{merchant.pk}:{window.index}",
            limit,
            f"{merchant.name} reached its {messages_count(limit, channel)} an hour",
        )
    else:
        limit = conf.platform_hourly_limit(channel)
        own = (
            f"{prefix}:platform:{window.index}",
            limit,
            "the platform's own messages (no merchant) reached their "
            f"{messages_count(limit, channel)} an hour",
        )
    ceiling = conf.hourly_ceiling(channel)
    return [
        own,
        (
            f"{prefix}:all:{window.index}",
            ceiling,
            f"the whole platform reached its ceiling of {messages_count(ceiling, channel)} an hour",
        ),
    ]


def _deferral(window: Window, who: str) -> Deferral:
    return Deferral(until=window.ends_at, reason=f"deferred: {who}; sends after {window.ends}")


def take_volume(
    conf: CommunicationSettings, *, channel: str, merchant: Merchant | None
) -> Deferral | None:
    """Count one message handed to a worker now against its bucket (its merchant's, or the
    platform's own) and the ceiling. When either is full the counts are taken back (a
    message that waits uses up nothing) and the deferral says until when, and why."""
    window = current_window()
    counted: list[str] = []
    for key, limit, who in _buckets(conf, channel, merchant, window):
        counted.append(key)
        if cache_incr(key, ttl=window.ttl) > limit:
            for taken in counted:
                with contextlib.suppress(ValueError):  # the window just ended
                    cache.decr(taken)
            return _deferral(window, who)
    return None


def volume_deferral(
    conf: CommunicationSettings, *, channel: str, merchant: Merchant | None
) -> Deferral | None:
    """Whether a message sent now would wait, without counting it."""
    window = current_window()
    for key, limit, who in _buckets(conf, channel, merchant, window):
        count = cache.get(key, 0)
        if isinstance(count, int) and count >= limit:
            return _deferral(window, who)
    return None
