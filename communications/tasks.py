"""Celery tasks of the communications app: deliver a queued message, retrying
transient provider errors with exponential backoff, and release deferred messages when
their hour has room."""

from __future__ import annotations

import random

from celery import Task, shared_task

from communications import services

MAX_RETRIES = 5


def backoff(retries: int) -> int:
    """30 s, 60 s, 120 s, ... with jitter, capped at an hour."""
    return int(min(3600, 30 * 2**retries) * random.uniform(0.8, 1.2))  # noqa: S311


@shared_task(bind=True, name="communications.deliver_message", max_retries=MAX_RETRIES)
def deliver_message(self: Task, log_id: int) -> str:
    outcome = services.deliver(log_id, final_attempt=self.request.retries >= MAX_RETRIES)
    if outcome == "retry":
        if self.request.is_eager:
            # Local runs and tests: try again in-process at once (eager Celery would
            # propagate the Retry exception to whoever sent the message).
            result: str = deliver_message.apply(
                args=(log_id,), retries=self.request.retries + 1
            ).result
            return result
        raise self.retry(countdown=backoff(self.request.retries))
    return outcome


@shared_task(name="communications.release_deferred_messages", acks_late=True)
def release_deferred_messages() -> int:
    """Every minute: hand due deferred messages to workers (idempotent; several workers
    at once release each message once)."""
    return services.release_deferred_messages()
