"""The brakes on asking for codes (OT-1), counted in the cache (Redis when configured, so
every web process shares them): a resend cooldown per recipient and purpose, and hourly
limits per recipient, per user and per IP address.

Recipient and address counters are kept per merchant (or for the platform): one tenant's
traffic never refuses, nor reveals itself to, another. The send path's own limit per
recipient and channel (CM-2) still holds across all of them.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

from core.counters import cache_incr
from otp.exceptions import OtpCooldown, OtpRateLimited

WINDOW_SECONDS = 3600


def scope_of(merchant_id: int | None) -> str:
    return f"m{merchant_id}" if merchant_id is not None else "platform"


def _cooldown_key(scope: str, recipient_digest: str, purpose: str) -> str:
    return f"otp:cooldown:{scope}:{purpose}:{recipient_digest}"


@dataclass(frozen=True)
class Cooldown:
    """A claimed resend cooldown; ``release()`` gives it back when no code went out."""

    key: str

    def release(self) -> None:
        if self.key:
            cache.delete(self.key)


def claim_cooldown(*, scope: str, recipient_digest: str, purpose: str, seconds: int) -> Cooldown:
    """Claim the cooldown for this recipient and purpose, or raise OtpCooldown.

    ``cache.add`` is atomic, so of two parallel requests exactly one claims it."""
    if seconds <= 0:
        return Cooldown("")
    key = _cooldown_key(scope, recipient_digest, purpose)
    until = time.time() + seconds
    if cache.add(key, until, seconds):
        return Cooldown(key)
    held = cache.get(key)
    wait = math.ceil(float(held) - time.time()) if isinstance(held, int | float) else seconds
    raise OtpCooldown(
        f"A code was sent to this recipient moments ago. Ask again in {max(1, wait)} seconds.",
        retry_after=max(1, wait),
    )


def count_request(
    *,
    scope: str,
    recipient_digest: str,
    user_id: int | None,
    ip: str | None,
    limit: int,
) -> None:
    """Count one request against each hourly limit; over any of them, take the counts
    back (a refusal uses up nothing) and raise OtpRateLimited."""
    now = int(time.time())
    window = now // WINDOW_SECONDS
    remaining = WINDOW_SECONDS - now % WINDOW_SECONDS
    counters = [("recipient", f"otp:rate:{scope}:recipient:{recipient_digest}:{window}")]
    if user_id is not None:
        counters.append(("user", f"otp:rate:user:{user_id}:{window}"))
    if ip:
        counters.append(("ip", f"otp:rate:{scope}:ip:{ip}:{window}"))
    counted: list[str] = []
    for name, key in counters:
        counted.append(key)
        if cache_incr(key, ttl=remaining + 60) > limit:
            for taken in counted:
                with contextlib.suppress(ValueError):  # the window just ended
                    cache.decr(taken)
            raise OtpRateLimited(
                f"At most {limit} codes an hour per {_LIMIT_NAMES[name]}. "
                f"Try again in {remaining} seconds.",
                retry_after=remaining,
                limited_by=name,
            )


_LIMIT_NAMES = {"recipient": "recipient", "user": "person", "ip": "IP address"}
