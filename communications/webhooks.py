"""The HTTP endpoints that providers and browsers call (mounted at ``/hooks/``).

* ``twilio/status/``: Twilio's message status callback, verified with Twilio's signature
  scheme (``X-Twilio-Signature``) against the public URL in ``SITE_URL``.
* ``anymail/<esp>/tracking/``: the email provider's delivery webhook, parsed by
  django-anymail for the one ESP named in ``ANYMAIL_TRACKING_ESP`` and refused unless the
  basic-auth secret ``ANYMAIL['WEBHOOK_SECRET']`` is configured and sent.
* ``push/vapid-public-key/`` and ``push/subscribe/``: what a browser needs to subscribe
  to Web Push, and where it stores (POST) or removes (DELETE) its subscription.

A delivery outcome moves a ``CommunicationLog`` row to delivered or failed once: a
provider repeating a callback, or reporting an outcome the row already has, changes
nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import ROUND_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any, cast

import structlog
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.generic import View
from twilio.request_validator import (
    HMAC_SHA1,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from communications.models import Channel
from communications.push import (
    InvalidPushSubscription,
    push_subscription_remove,
    push_subscription_save,
)
from communications.services import record_outcome
from core.api import problem_response
from core.money import CURRENCY_EXPONENTS
from core.site import site_url

logger = structlog.get_logger(__name__)


# --- Twilio -------------------------------------------------------------------------

_TWILIO_DELIVERED = frozenset({"delivered", "read"})
_TWILIO_FAILED = frozenset({"undelivered", "failed", "canceled"})
# The codes admins meet most, so the log says what happened without a trip to Twilio.
_TWILIO_ERRORS = {
    "21610": "the recipient replied STOP and has opted out",
    "30003": "unreachable destination handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "message filtered by the carrier",
    "30008": "unknown error",
}


def _twilio_signature_ok(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    signing = request.headers.get(SIGNATURE_SETTINGS_HEADER, "")
    if signing:  # a Webhook Rule signs with a SharedKey and names the algorithm
        secret = settings.TWILIO_WEBHOOK_SHARED_KEY_SECRET
        algorithm = get_signature_algorithm(signing)
    else:
        secret, algorithm = settings.TWILIO_AUTH_TOKEN, HMAC_SHA1
    if not signature or not secret:
        return False
    # Twilio signs the URL it called: behind a proxy only SITE_URL knows its scheme and
    # host (the backend gives Twilio SITE_URL + the path as the callback).
    url = site_url() + request.get_full_path()
    return bool(
        RequestValidator(secret).validate(url, request.POST, signature, algorithm=algorithm)
    )


def twilio_price_minor_units(price: str, unit: str) -> tuple[int | None, str]:
    """Twilio's price (a negative decimal string, ``"-0.00750"``) as a positive amount of
    minor units of ``unit``.

    Rounding is up, to the next whole minor unit: the log never shows less than was
    spent, and a message that cost anything never shows as free (``-0.00750`` USD is
    1 cent, ``-0.0420`` EUR is 5 cents). Twilio's usage records keep the exact figure.
    A currency we do not know is not guessed at: no cost is recorded.
    """
    currency = unit.strip().upper()
    if not price or currency not in CURRENCY_EXPONENTS:
        return None, ""
    try:
        value = abs(Decimal(price))
    except InvalidOperation:
        return None, ""
    if not value.is_finite():
        return None, ""
    minor = value.scaleb(CURRENCY_EXPONENTS[currency]).to_integral_value(rounding=ROUND_UP)
    return int(minor), currency


def _twilio_error(status: str, code: str, message: str) -> str:
    detail = message or _TWILIO_ERRORS.get(code, "")
    text = f"Twilio: {status}"
    if code:
        text += f" (error {code})"
    if detail:
        text += f": {detail}"
    return text


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for a message we sent (``StatusCallback``)."""
    if not _twilio_signature_ok(request):
        logger.warning("twilio_callback_refused", reason="signature")
        return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
    data = request.POST
    sid = data.get("MessageSid") or data.get("SmsSid") or ""
    status = (data.get("MessageStatus") or data.get("SmsStatus") or "").lower()
    cost, currency = twilio_price_minor_units(data.get("Price", ""), data.get("PriceUnit", ""))
    changed = 0
    if status in _TWILIO_DELIVERED:
        changed = record_outcome(
            channel=Channel.SMS,
            provider_message_id=sid,
            delivered=True,
            cost=cost,
            cost_currency=currency,
        )
    elif status in _TWILIO_FAILED:
        changed = record_outcome(
            channel=Channel.SMS,
            provider_message_id=sid,
            delivered=False,
            error=_twilio_error(status, data.get("ErrorCode", ""), data.get("ErrorMessage", "")),
            cost=cost,
            cost_currency=currency,
        )
    # queued, sending, sent, accepted, scheduled: on the way, nothing to record.
    logger.info("twilio_status", message_sid=sid, status=status, changed=changed)
    return HttpResponse(status=204)


# --- Email providers (django-anymail) ------------------------------------------------------

_ANYMAIL_DELIVERED = frozenset({"delivered"})
_ANYMAIL_FAILED = frozenset({"bounced", "rejected", "failed", "complained"})


class _SecretRequired:
    """Refuse every request while no webhook secret is configured. (Anymail alone only
    warns and accepts anyone's events.) Anymail runs every ``validate_request`` along the
    class's MRO, this one included."""

    basic_auth: list[str] | None

    def validate_request(self, request: HttpRequest) -> None:
        from anymail.exceptions import AnymailWebhookValidationFailure

        if not self.basic_auth:
            raise AnymailWebhookValidationFailure(
                "ANYMAIL['WEBHOOK_SECRET'] is not configured: webhook refused."
            )


@cache
def _anymail_tracking_view(esp: str) -> Callable[..., HttpResponseBase] | None:
    """Anymail's tracking view for ``esp`` (as its own ``anymail.urls`` names it), made to
    insist on the webhook secret."""
    from anymail import urls as anymail_urls

    for pattern in anymail_urls.urlpatterns:
        if getattr(pattern, "name", None) == f"{esp}_tracking_webhook":
            esp_view: type[View] = pattern.callback.view_class
            secured = cast(
                type[View], type(f"Secret{esp_view.__name__}", (_SecretRequired, esp_view), {})
            )
            return secured.as_view()
    return None


@csrf_exempt
def anymail_tracking(request: HttpRequest, esp: str) -> HttpResponseBase:
    """The configured ESP's delivery webhook; anymail verifies and parses it and sends
    its ``tracking`` signal, which ``anymail_tracking_received`` handles."""
    view = _anymail_tracking_view(esp) if esp == settings.ANYMAIL_TRACKING_ESP else None
    if view is None:
        raise Http404("No tracking webhook for this provider.")
    return view(request)


def anymail_tracking_received(sender: object, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Receiver of anymail's ``tracking`` signal (connected in ``CommunicationsConfig``).

    Our email backend stores anymail's ``message_id`` as the log's provider id; events
    for messages we did not send match nothing and are ignored.
    """
    event_type = str(event.event_type or "")
    if event_type in _ANYMAIL_DELIVERED:
        delivered = True
        error = ""
    elif event_type in _ANYMAIL_FAILED:
        delivered = False
        details = [str(part) for part in (event.description, event.mta_response) if part]
        error = f"{esp_name}: {event_type}" + (f": {' / '.join(details)}" if details else "")
    else:  # queued, sent, deferred, opened, clicked, ...: not an outcome
        return
    changed = record_outcome(
        channel=Channel.EMAIL,
        provider_message_id=str(event.message_id or ""),
        delivered=delivered,
        error=error,
        at=event.timestamp,
    )
    logger.info("email_tracking", esp=esp_name, event_type=event_type, changed=changed)


# --- Web Push: what a browser calls to subscribe ------------------------------------------


@require_GET
def vapid_public_key(request: HttpRequest) -> JsonResponse:
    """The application server key a browser passes to ``pushManager.subscribe()``."""
    key = settings.WEBPUSH_VAPID_PUBLIC_KEY
    if not key:
        return problem_response(
            request,
            status_code=503,
            code="push_not_configured",
            title="Push notifications are not available",
            detail="This platform has no Web Push key configured.",
        )
    return JsonResponse({"publicKey": key})


@never_cache
@require_http_methods(["POST", "DELETE"])
def push_subscription(request: HttpRequest) -> HttpResponse:
    """POST the browser's ``PushSubscription`` JSON to store it for the signed-in person;
    DELETE ``{"endpoint": ...}`` to remove it. Both need the CSRF token (``X-CSRFToken``)."""
    if not request.user.is_authenticated:
        return problem_response(
            request,
            status_code=401,
            code="not_authenticated",
            title="Sign in first",
            detail="Sign in to turn on notifications.",
        )
    user = request.user
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    try:
        if request.method == "DELETE":
            endpoint = body.get("endpoint") if isinstance(body, dict) else None
            if not isinstance(endpoint, str) or not endpoint:
                raise InvalidPushSubscription("Send the endpoint to remove.")
            if not push_subscription_remove(user=user, endpoint=endpoint):
                return problem_response(
                    request,
                    status_code=404,
                    code="not_found",
                    title="Not found",
                    detail="No such subscription.",
                )
            return HttpResponse(status=204)
        saved = push_subscription_save(
            user=user, subscription=body, user_agent=request.headers.get("User-Agent", "")
        )
    except InvalidPushSubscription as exc:
        return problem_response(
            request, status_code=exc.status, code=exc.code, title=exc.title, detail=exc.detail
        )
    return JsonResponse({"id": saved.pk}, status=201)
