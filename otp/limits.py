"""The brakes on asking for codes (OT-1), counted in the cache (Redis when configured, so
every web process shares them): a resend cooldown per recipient and purpose, and hourly
limits per recipient and, for requests made with an API key, per key; for requests from
the browser, per user and per IP address instead.

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
    limit: int,
    api_key_id: int | None = None,
    api_key_limit: int = 0,
    user_id: int | None = None,
    ip: str | None = None,
) -> None:
    """Count one request against each of its hourly limits; over any of them, take the
    counts back (a refusal uses up nothing) and raise OtpRateLimited naming the limit.

    A request made with an API key counts per key (``api_key_limit``) and per recipient,
    never per IP address: all of a merchant's server traffic comes from one address, and
    one merchant's callers must not use up another's. Without a key (the browser), it
    counts per recipient, per user and per IP address, each up to ``limit``."""
    now = int(time.time())
    window = now // WINDOW_SECONDS
    remaining = WINDOW_SECONDS - now % WINDOW_SECONDS
    counters = [("recipient", f"otp:rate:{scope}:recipient:{recipient_digest}:{window}", limit)]
    if api_key_id is not None:
        counters.append(("api_key", f"otp:rate:key:{api_key_id}:{window}", api_key_limit))
    else:
        if user_id is not None:
            counters.append(("user", f"otp:rate:user:{user_id}:{window}", limit))
        if ip:
            counters.append(("ip", f"otp:rate:{scope}:ip:{ip}:{window}", limit))
    counted: list[str] = []
    for name, key, most in counters:
        counted.append(key)
        if cache_incr(key, ttl=remaining + 60) > most:
            for taken in counted:
                with contextlib.suppress(ValueError):  # the window just ended
                    cache.decr(taken)
            raise OtpRateLimited(
                f"{_LIMITED[name]} reached its limit of {most:,} "
                f"{'code' if most == 1 else 'codes'} an hour. "
                f"Try again in {_wait(remaining)}.",
                retry_after=remaining,
                limited_by=name,
            )


_LIMITED = {
    "recipient": "This recipient",
    "api_key": "This API key",
    "user": "This person",
    "ip": "This IP address",
}


def _wait(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
