from __future__ import annotations

from collections.abc import Iterator

import pytest

from communications.backends import reset_backends
from communications.backends.push import InMemoryPushBackend
from communications.backends.sms import InMemorySMSBackend


@pytest.fixture(autouse=True)
def _fresh_outboxes() -> Iterator[None]:
    InMemorySMSBackend.outbox.clear()
    InMemoryPushBackend.outbox.clear()
    reset_backends()
    yield
    reset_backends()


@pytest.fixture
def sms_outbox() -> list:
    return InMemorySMSBackend.outbox
