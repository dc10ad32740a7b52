from __future__ import annotations

from collections.abc import Iterator

import pytest

from communications.backends import OutgoingMessage, reset_backends
from communications.backends.sms import InMemorySMSBackend


@pytest.fixture(autouse=True)
def _fresh_outboxes() -> Iterator[None]:
    InMemorySMSBackend.outbox.clear()
    reset_backends()
    yield
    reset_backends()


@pytest.fixture
def sms_outbox() -> list[OutgoingMessage]:
    return InMemorySMSBackend.outbox
