"""API v1 one-time code endpoints: ask for a code, check a code. Each validates its input,
calls ``otp.services`` and shapes the output; the rules live in the service.

Codes asked for with a key belong to that key's merchant and are checked only for it.
The code itself is never in a response: it is in the message and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_schema import Refusal, api_operation
from core.errors import ApplicationError
from core.net import client_ip
from merchants.api.authentication import ApiClient
from merchants.api.schema import IDEMPOTENCY_HEADER, IDEMPOTENCY_REFUSALS
from merchants.idempotency import idempotency_key, refusal_response, run_idempotent
from merchants.models import ApiKey
from merchants.tenancy import MerchantAPIMixin
from otp import services
from otp.api import serializers as s
from otp.exceptions import (
    OtpAttemptsExceeded,
    OtpCooldown,
    OtpDisabled,
    OtpExpired,
    OtpInvalid,
    OtpNotDelivered,
    OtpRateLimited,
)

TAG = "One-time codes"

_REQUEST_REFUSALS = [
    *IDEMPOTENCY_REFUSALS,
    Refusal.of(
        OtpCooldown,
        when="a code went to this recipient for this purpose moments ago; `retry_after` "
        "and `Retry-After` say when to ask again",
        detail="A code was sent to this recipient moments ago. Ask again in 42 seconds.",
        retry_after=42,
    ),
    Refusal.of(
        OtpRateLimited,
        when="the hourly limit per recipient or per API key is reached (`limited_by`); "
        "`retry_after` and `Retry-After` say when to ask again",
        detail="This recipient reached its limit of 5 codes an hour. Try again in 38 minutes.",
        retry_after=2280,
        limited_by="recipient",
    ),
    Refusal.of(
        OtpDisabled,
        when="one-time codes are switched off on the platform; nothing was sent",
        detail="One-time codes are switched off on this platform; no code was sent.",
    ),
    Refusal.of(
        OtpNotDelivered,
        when="the message was not sent (`delivery_status`, `reason`); with "
        "`delivery_status` `rate_limited`, `retry_after` and `Retry-After` say when a new "
        "request can go out",
        detail="The code was not sent: the recipient has unsubscribed.",
        delivery_status="suppressed",
        reason="the recipient has unsubscribed",
    ),
]
_VERIFY_REFUSALS = [
    Refusal.of(
        OtpInvalid,
        when="the code is wrong (`attempts_remaining` says how many tries are left), was "
        "used already, or none is waiting for this recipient",
        detail="That code is wrong; 4 attempts left.",
        attempts_remaining=4,
    ),
    *IDEMPOTENCY_REFUSALS,
    Refusal.of(
        OtpExpired,
        when="the code's time ran out; ask for a new one",
        detail="This code has expired. Ask for a new one.",
    ),
    Refusal.of(
        OtpAttemptsExceeded,
        when="too many wrong codes were tried: this code no longer works; ask for a new one",
        detail="Too many wrong codes were tried; this code no longer works. Ask for a new one.",
        attempts_remaining=0,
    ),
]


def _refusal(request: Request, error: ApplicationError) -> Response:
    """A refusal answered rather than raised, so the transaction around it commits (a
    wrong guess is counted; an undelivered code and its log row are kept)."""
    return refusal_response(request, error, replayable=bool(idempotency_key(request)))


def _with_retry_after(response: Response) -> Response:
    """``Retry-After`` on every refusal that carries ``retry_after``: answered ones, 503s
    and replays too (the stored answer keeps the body, not the headers)."""
    body = response.data
    if (
        response.status_code >= 400
        and isinstance(body, dict)
        and "retry_after" in body
        and not response.has_header("Retry-After")
    ):
        response["Retry-After"] = str(body["retry_after"])
    return response


class OtpAPIView(MerchantAPIMixin, APIView):
    """Shared by the one-time code views (not an endpoint): the tenant comes from the key,
    and ``otp:write`` is needed to use them."""

    required_scopes = ("otp:write",)

    @property
    def api_key(self) -> ApiKey:
        client: ApiClient = self.request.user
        return client.api_key

    def _once(self, request: Request, operation: Callable[[], Response]) -> Response:
        """Run ``operation`` at most once per idempotency key. A retry whose key already
        has a stored answer gets that answer without running again: asking again would
        claim the cooldown and count against the hourly limits for a code never sent."""
        response = run_idempotent(
            request, merchant=self.merchant, operation=operation, replay_first=True
        )
        return _with_retry_after(response)


class OtpRequestView(OtpAPIView):
    @api_operation(
        operation_id="otp_request",
        tag=TAG,
        summary="Send a one-time code",
        description="Sends a new code for `purpose` to `recipient` (an email address for "
        "`email`, an E.164 number for `sms`) and supersedes the recipient's earlier codes "
        "for that purpose. The code is in the message only, never in a response. Refused "
        "within the resend cooldown and over the hourly limits per recipient and per API "
        "key (429 with `Retry-After`; requests are never limited by IP address, as a "
        "server sends them all from one), and while one-time codes are switched off (503). "
        "When the platform's hourly sending volume holds the message back, the code is "
        "still issued and `expires_at` counts from when the message goes out.",
        request=s.RequestInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(
                s.IssuedOutput, description="The code is on its way (`delivery_channel`)."
            )
        },
        refusals=_REQUEST_REFUSALS,
        problem=s.OtpProblemSerializer,
        examples=[
            OpenApiExample(
                "A sign-in code by SMS",
                value={"purpose": "login", "channel": "sms", "recipient": "+447700900123"},
                request_only=True,
            ),
            OpenApiExample(
                "Sent",
                value={
                    "id": "otp_01j9z8f4h6k8m0p2r4t6v8x0z2",
                    "object": "one_time_code",
                    "purpose": "login",
                    "channel": "sms",
                    "recipient": "+44*******123",
                    "status": "pending",
                    "expires_at": "2026-07-02T17:13:10Z",
                    "created_at": "2026-07-02T17:03:10Z",
                    "delivery_channel": "sms",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.RequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        ip = client_ip(request)

        def send_code() -> Response:
            try:
                issued = services.otp_request(
                    purpose=values["purpose"],
                    channel=values["channel"],
                    recipient=values["recipient"],
                    merchant=self.merchant,
                    api_key=self.api_key,
                    ip=ip,
                )
            except OtpNotDelivered as refusal:
                return _refusal(request, refusal)
            body = s.IssuedOutput(
                issued.otp, context={"delivery_channel": issued.delivery_channel}
            ).data
            return Response(body, status=status.HTTP_201_CREATED)

        return self._once(request, send_code)


class OtpVerifyView(OtpAPIView):
    @api_operation(
        operation_id="otp_verify",
        tag=TAG,
        summary="Check a one-time code",
        description="Checks `code` against the newest code sent to `recipient` for "
        "`purpose` with this merchant's keys. A right code works once. A wrong one is "
        "counted (`attempts_remaining`); when none are left the code is dead "
        "(`otp_attempts_exceeded`) and a new one must be asked for. Send the code as a "
        "string: a number is refused, as it would lose a leading 0.",
        request=s.VerifyInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: OpenApiResponse(s.VerifiedOutput, description="The code is right; it is now used.")
        },
        refusals=_VERIFY_REFUSALS,
        problem=s.OtpProblemSerializer,
        examples=[
            OpenApiExample(
                "Check a sign-in code",
                value={"purpose": "login", "recipient": "+447700900123", "code": "493021"},
                request_only=True,
            ),
            OpenApiExample(
                "Verified",
                value={
                    "id": "otp_01j9z8f4h6k8m0p2r4t6v8x0z2",
                    "object": "one_time_code",
                    "purpose": "login",
                    "channel": "sms",
                    "recipient": "+44*******123",
                    "status": "verified",
                    "expires_at": "2026-07-02T17:13:10Z",
                    "created_at": "2026-07-02T17:03:10Z",
                    "verified": True,
                    "verified_at": "2026-07-02T17:04:02Z",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.VerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        ip = client_ip(request)

        def check() -> Response:
            verification = services.otp_verify(
                purpose=values["purpose"],
                recipient=values["recipient"],
                code=values["code"],
                merchant=self.merchant,
                ip=ip,
            )
            if verification.error is not None:
                # Answered, not raised: the wrong guess it counted must commit.
                return _refusal(request, verification.error)
            return Response(s.VerifiedOutput(verification.otp).data)

        return self._once(request, check)
