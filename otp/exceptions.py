"""Refusals of one-time code requests and checks, each with a stable ``code``.

| code                    | status | when                                                        |
| ----------------------- | ------ | ----------------------------------------------------------- |
| `otp_disabled`          | 503    | the platform's OTP switch is off (nothing is sent)          |
| `invalid_recipient`     | 400    | not an email / E.164 number, or not one for that channel    |
| `otp_cooldown`          | 429    | a code went to this recipient for this purpose moments ago  |
| `otp_rate_limited`      | 429    | hourly limit per recipient and per API key (browser: per    |
|                         |        | recipient, per user and per IP address); see `limited_by`   |
| `otp_not_delivered`     | 503    | the send path suppressed, rate-limited or failed the message |
| `otp_invalid`           | 400    | wrong code, or no code waiting for this recipient           |
| `otp_expired`           | 422    | the code's time ran out                                     |
| `otp_attempts_exceeded` | 429    | too many wrong codes: this code is dead, ask for a new one  |

429 and 503 refusals that a wait can cure carry ``retry_after`` (and ``Retry-After``).
``otp_expired`` is 422 rather than 410: a 410 is cacheable and would speak of the URL.
"""

from __future__ import annotations

from typing import Any

from core.errors import ApplicationError, UnprocessableError


class OtpError(ApplicationError):
    """Any refusal of the one-time code service."""

    code = "otp_error"


class OtpDisabled(OtpError):
    code = "otp_disabled"
    status = 503
    title = "One-time codes are switched off"


class OtpInvalidRecipient(OtpError):
    code = "invalid_recipient"
    title = "Invalid recipient"


class _RetryLater(OtpError):
    status = 429

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(detail, extra={"retry_after": self.retry_after, **extra})


class OtpCooldown(_RetryLater):
    code = "otp_cooldown"
    title = "Wait before asking for another code"


class OtpRateLimited(_RetryLater):
    code = "otp_rate_limited"
    title = "Too many codes requested"


class OtpNotDelivered(OtpError):
    """The code was not handed to any channel. The undelivered code and the message log
    row that says why are kept (a caller inside a transaction should commit them)."""

    code = "otp_not_delivered"
    status = 503
    title = "The code could not be delivered"


class OtpInvalid(OtpError):
    code = "otp_invalid"
    title = "Invalid code"


class OtpExpired(UnprocessableError, OtpError):
    code = "otp_expired"
    title = "Code expired"


class OtpAttemptsExceeded(OtpError):
    code = "otp_attempts_exceeded"
    status = 429
    title = "Too many wrong codes"
