"""One small interface per channel: ``send(message) -> SentReceipt``.

A backend raises ``TransientError`` when a retry may succeed (timeouts, throttling,
provider 5xx) and ``PermanentError`` when it cannot (a bad number, a refused address).
Backends are the only code that talks to providers; only ``communications.tasks``
calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class TransientError(Exception):
    """The provider may accept the message if we try again later."""


class PermanentError(Exception):
    """The provider will never accept this message as it is."""


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str
    to: str
    subject: str
    text: str
    html: str = ""
    log_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Images the HTML body shows with ``<img src="cid:...">``: content id -> PNG bytes.
    # Only email carries them; other channels' backends ignore them.
    inline_images: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class SentReceipt:
    provider: str
    message_id: str = ""
    cost: int | None = None
    cost_currency: str = ""


class Backend(Protocol):
    def send(self, message: OutgoingMessage) -> SentReceipt: ...


@cache
def _load(path: str) -> Backend:
    backend: Backend = import_string(path)()
    return backend


def backend_for(channel: str) -> Backend:
    paths: dict[str, str] = settings.COMMUNICATIONS_BACKENDS
    return _load(paths[channel])


def reset_backends() -> None:
    """Forget loaded backends (tests switch them with settings overrides)."""
    _load.cache_clear()
