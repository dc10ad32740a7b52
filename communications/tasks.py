"""Celery tasks of the communications app: deliver a queued message, retrying
transient provider errors with exponential backoff; release deferred messages when
their hour has room; and sweep up what a crashed worker or a lost task left behind."""

from __future__ import annotations

import random
from dataclasses import asdict

from celery import Task, shared_task
from django.conf import settings

from communications import services

MAX_RETRIES = services.MAX_ATTEMPTS - 1


def backoff(retries: int) -> int:
    """30 s, 60 s, 120 s, ... with jitter, capped at an hour."""
    return int(min(3600, 30 * 2**retries) * random.uniform(0.8, 1.2))  # noqa: S311


@shared_task(
    bind=True,
    name="communications.deliver_message",
    max_retries=MAX_RETRIES,
    # Killed before its claim can be taken for a dead worker's (COMMUNICATIONS_CLAIM_TIMEOUT
    # is longer; the settings guard checks it), so no live worker sends a released message.
    time_limit=settings.COMMUNICATIONS_DELIVERY_TIME_LIMIT,
    soft_time_limit=settings.COMMUNICATIONS_DELIVERY_TIME_LIMIT - 30,
)
def deliver_message(self: Task[[int], str], log_id: int) -> str:
    wait = backoff(self.request.retries)
    outcome = services.deliver(
        log_id, final_attempt=self.request.retries >= MAX_RETRIES, retry_in=wait
    )
    if outcome == "retry":
        if self.request.is_eager:
            # Local runs and tests: try again in-process at once (eager Celery would
            # propagate the Retry exception to whoever sent the message).
            result = deliver_message.apply(args=(log_id,), retries=self.request.retries + 1)
            return str(result.result)
        raise self.retry(countdown=wait)
    return outcome


@shared_task(name="communications.release_deferred_messages", acks_late=True)
def release_deferred_messages() -> int:
    """Every minute: hand due deferred messages to workers (idempotent; several workers
    at once release each message once)."""
    return services.release_deferred_messages()


@shared_task(name="communications.sweep_stalled_messages", acks_late=True)
def sweep_stalled_messages() -> dict[str, int]:
    """Every minute: release claims of workers that died while sending and queue again
    messages whose task was lost (idempotent; sweeps at once take disjoint rows)."""
    return asdict(services.sweep_stalled_messages())
