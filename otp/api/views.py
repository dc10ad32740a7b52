"""API v1 one-time code endpoints: ask for a code, check a code. Each validates its input,
calls ``otp.services`` and shapes the output; the rules live in the service.

Codes asked for with a key belong to that key's merchant and are checked only for it.
The code itself is never in a response: it is in the message and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_schema import problem_responses
from core.errors import ApplicationError
from core.net import client_ip
from merchants.api.authentication import ApiClient
from merchants.idempotency import idempotency_key, refusal_response, run_idempotent
from merchants.models import ApiKey
from merchants.tenancy import MerchantAPIMixin
from otp import services
from otp.api import serializers as s
from otp.exceptions import OtpNotDelivered

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retry safely: the same key and body replays the first response.",
)

_REQUEST_REFUSALS = {
    400: "Invalid input (`validation_error`); `errors` lists fields.",
    429: "`otp_cooldown` (a code went to this recipient moments ago) or `otp_rate_limited` "
    "(the hourly limit per recipient or per API key, see `limited_by`); both carry "
    "`retry_after` and `Retry-After`.",
    503: "`otp_disabled`: one-time codes are switched off and nothing was sent. "
    "`otp_not_delivered`: the message was not sent (`delivery_status`, `reason`; "
    "`retry_after` and `Retry-After` when a wait helps).",
}
_VERIFY_REFUSALS = {
    400: "Invalid input (`validation_error`), or `otp_invalid`: a wrong code (with "
    "`attempts_remaining`), a used one, or none waiting.",
    422: "`otp_expired`: the code's time ran out; ask for a new one.",
    429: "`otp_attempts_exceeded`: too many wrong codes; this code no longer works.",
}


def _otp_problems(descriptions: dict[int, str]) -> dict[Any, OpenApiResponse]:
    """``problem_responses`` with the OTP fields (``retry_after``, ``attempts_remaining``,
    ...) and what each status means for the endpoint."""
    documented = problem_responses(403, 409, *descriptions)
    for key, response in documented.items():
        documented[key] = OpenApiResponse(
            response=s.OtpProblemSerializer,
            description=descriptions.get(key[0], response.description),
        )
    return documented


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
    """Base for one-time code endpoints: tenant from the key, ``otp:write`` to use them."""

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
    @extend_schema(
        operation_id="otp_request",
        summary="Send a one-time code",
        description="Sends a new code for `purpose` to `recipient` (an email address for "
        "`email`, an E.164 number for `sms`) and supersedes the recipient's earlier codes "
        "for that purpose. The code is in the message only, never in a response. Refused "
        "within the resend cooldown and over the hourly limits per recipient and per API "
        "key (429 with `Retry-After`; requests are never limited by IP address, as a "
        "server sends them all from one), and while one-time codes are switched off (503). "
        "When the platform's hourly sending volume holds the message back, the code is "
        "still issued and `expires_at` counts from when the message goes out.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.RequestInput,
        responses={201: s.IssuedOutput, **_otp_problems(_REQUEST_REFUSALS)},
        examples=[
            OpenApiExample(
                "A sign-in code by SMS",
                value={"purpose": "login", "channel": "sms", "recipient": "+447700900123"},
                request_only=True,
            ),
            OpenApiExample(
                "Too soon",
                value={
                    "type": "about:blank#otp_cooldown",
                    "status": 429,
                    "title": "Wait before asking for another code",
                    "detail": "A code was sent to this recipient moments ago. "
                    "Ask again in 42 seconds.",
                    "code": "otp_cooldown",
                    "retry_after": 42,
                },
                response_only=True,
                status_codes=["429"],
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
    @extend_schema(
        operation_id="otp_verify",
        summary="Check a one-time code",
        description="Checks `code` against the newest code sent to `recipient` for "
        "`purpose` with this merchant's keys. A right code works once. A wrong one is "
        "counted (`attempts_remaining`); when none are left the code is dead "
        "(`otp_attempts_exceeded`) and a new one must be asked for.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.VerifyInput,
        responses={200: s.VerifiedOutput, **_otp_problems(_VERIFY_REFUSALS)},
        examples=[
            OpenApiExample(
                "Check a sign-in code",
                value={"purpose": "login", "recipient": "+447700900123", "code": "493021"},
                request_only=True,
            ),
            OpenApiExample(
                "A wrong code",
                value={
                    "type": "about:blank#otp_invalid",
                    "status": 400,
                    "title": "Invalid code",
                    "detail": "That code is wrong; 4 attempts left.",
                    "code": "otp_invalid",
                    "attempts_remaining": 4,
                },
                response_only=True,
                status_codes=["400"],
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
