"""The one way anything leaves the platform: ``send(event, recipient, context)``.

For each channel asked for, ``send`` checks the admin's switch (and uses the configured
fallback channel, or records the message as suppressed with the reason), applies the
limit per recipient (over it: rate_limited), renders the active template version, and
queues delivery on Celery once the caller's transaction commits. A message over an
hourly volume limit (its merchant's, the platform's own, or the ceiling, see
``communications.limits``) is kept queued with ``deferred_until`` and the reason, and
``release_deferred_messages`` hands it to a worker in an hour with room. Every step
ends in a ``CommunicationLog`` row. An email may carry inline images (a card's QR code) that its
HTML shows by content id; they are sealed with the rest of the message. ``deliver``
hands a queued message to its channel's backend at most once: a retry after a provider
error sends again only when the provider did not take the message. Just before that it
reads the switches again: a message whose channel (or, for a one-time code, the code
switch) was turned off while it waited is suppressed, not sent.

Every queued message reaches a final state. ``sweep_stalled_messages`` runs every minute:
a claim older than ``COMMUNICATIONS_CLAIM_TIMEOUT`` belongs to a worker that died while
sending (a deploy, the OOM killer), so it is released (the attempt counts) and the message
goes to a worker again; a message whose attempt is overdue by
``COMMUNICATIONS_REDISPATCH_AFTER`` lost its task (a broker restarted without its data)
and is queued again. A second copy can only come from a crash after the provider took the
message and before the log said so; an email's Message-ID is derived from its log id, so
such a copy is recognisable as the same message.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from communications import crypto, limits, masking
from communications.backends import (
    OutgoingMessage,
    PermanentError,
    TransientError,
    backend_for,
)
from communications.events import OTP_CODE, TEST_MESSAGE
from communications.locks import (
    lock_abandoned_claims,
    lock_deferred_messages,
    lock_lost_dispatches,
    lock_settings,
)
from communications.models import (
    Channel,
    CommunicationLog,
    CommunicationSettings,
    CommunicationSettingsChange,
    CommunicationTemplate,
    MessageStatus,
)
from communications.rendering import TemplateProblem
from communications.selectors import (
    claim_timeout,
    communication_settings,
    redispatch_after,
    template_for,
)
from communications.template_selectors import MessageText, template_text_for_send
from merchants.models import Merchant

logger = structlog.get_logger(__name__)

DEFAULT_CHANNELS: dict[str, tuple[str, ...]] = {
    OTP_CODE: (Channel.SMS,),
}

# Hand a message to its provider at most this many times (a first try and five retries);
# a worker that dies while sending uses up an attempt too.
MAX_ATTEMPTS = 6

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A content id goes into a MIME header and a ``cid:`` URL: keep it to safe characters.
_CONTENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Recipient:
    """Where a message can go. Channels without an address are skipped (and logged).

    ``push_subscriptions`` holds each of the person's devices (a browser's subscription
    as JSON); one push message goes to all of them, so its address is the JSON list.
    """

    email: str = ""
    phone: str = ""
    push_subscriptions: tuple[str, ...] = field(default_factory=tuple)
    user: User | None = None

    @classmethod
    def for_user(cls, user: User, *, phone: str = "") -> Recipient:
        from communications.push import push_subscriptions_for

        return cls(
            email=user.email,
            phone=phone,
            push_subscriptions=push_subscriptions_for(user=user),
            user=user,
        )

    def address(self, channel: str) -> str:
        if channel == Channel.EMAIL:
            return self.email
        if channel == Channel.SMS:
            return self.phone
        if channel == Channel.PUSH:
            if not self.push_subscriptions:
                return ""
            return "[" + ",".join(self.push_subscriptions) + "]"
        return ""


def _log(
    *,
    event: str,
    requested: str,
    channel: str,
    address: str,
    status: str,
    reason: str = "",
    error: str = "",
    template: CommunicationTemplate | None = None,
    template_version: int | None = None,
    user: User | None = None,
    merchant: Merchant | None = None,
    payload: str = "",
    deferred_until: datetime | None = None,
) -> CommunicationLog:
    now = timezone.now()
    on_its_way = status == MessageStatus.QUEUED and deferred_until is None
    return CommunicationLog.objects.create(
        event=event,
        requested_channel=requested,
        channel=channel,
        recipient_masked=masking.mask(channel, address) if address else "(none)",
        recipient_digest=masking.digest(channel, address) if address else "",
        template=template,
        template_version=template_version,
        status=status,
        reason=reason[:300],
        error=error,
        user=user,
        merchant=merchant,
        payload=payload,
        deferred_until=deferred_until,
        next_attempt_at=now if on_its_way else None,
        dispatched_at=now if on_its_way else None,
        failed_at=now if status == MessageStatus.FAILED else None,
        created_at=now,
    )


def _dispatch(log_id: int) -> None:
    if settings.COMMUNICATIONS_DISPATCH_ON_COMMIT:
        transaction.on_commit(lambda: _enqueue(log_id))
    else:
        _enqueue(log_id)


def _enqueue(log_id: int) -> None:
    from kombu.exceptions import OperationalError

    from communications.tasks import deliver_message

    try:
        deliver_message.delay(log_id)
    except OperationalError as exc:
        # The broker is unreachable. The message is safe in the log, queued: the sweep
        # queues it again once its attempt is overdue, so the caller need not fail.
        logger.warning("message_dispatch_failed", log_id=log_id, error=type(exc).__name__)


def _choose_channel(
    conf: CommunicationSettings, requested: str, recipient: Recipient, taken: set[str]
) -> tuple[str, str]:
    """The channel to use and, when it is not the one asked for, why.

    A switched-off channel falls back in order: to its fallback, and while that one is off
    too, to the fallback's own fallback (each channel once). The first channel on the way
    that is switched on is the one tried; it is used when this message has not used it
    already and the recipient has an address there."""
    if conf.is_enabled(requested):
        return requested, ""
    chain = _fallback_chain(conf, requested)
    if not chain:
        return "", f"{requested} is switched off and no fallback is set"
    fallback = chain[-1]
    if not conf.is_enabled(fallback):
        if len(chain) == 1:
            return "", f"{requested} is switched off and its fallback, {fallback}, is off too"
        return "", f"{requested} is switched off and so are its fallbacks ({', '.join(chain)})"
    if fallback in taken:
        return "", f"{requested} is switched off; its fallback, {fallback}, is already used"
    if not recipient.address(fallback):
        return "", f"{requested} is switched off; no {fallback} address for the fallback"
    skipped = f" ({', '.join(chain[:-1])} is off too)" if len(chain) > 1 else ""
    return fallback, f"{requested} is switched off; sent by {fallback} instead{skipped}"


def _fallback_chain(conf: CommunicationSettings, channel: str) -> list[str]:
    """The fallbacks of a switched-off ``channel`` in order, up to the first one that is on
    (each channel once; the last one is on unless every fallback is off)."""
    chain: list[str] = []
    step = conf.fallback_for(channel)
    while step and step != channel and step not in chain:
        chain.append(step)
        if conf.is_enabled(step):
            break
        step = conf.fallback_for(step)
    return chain


def send(
    event: str,
    recipient: Recipient,
    context: dict[str, Any],
    *,
    channels: Sequence[str] | None = None,
    merchant: Merchant | None = None,
    inline_images: Mapping[str, bytes] | None = None,
    text: MessageText | None = None,
) -> list[CommunicationLog]:
    """Send ``event`` to ``recipient`` on each of ``channels``; one log row each.

    ``inline_images`` (content id -> PNG bytes) go with an email only, as parts its HTML
    shows with ``<img src="cid:<content id>">``; the other channels leave them out.
    ``text`` is a message already rendered (an admin's test of a text being edited), sent
    instead of the event's template."""
    images = _checked_images(inline_images)
    conf = communication_settings()
    requested_channels = list(channels or DEFAULT_CHANNELS.get(event, (Channel.EMAIL,)))
    taken = {c for c in requested_channels if conf.is_enabled(c)}
    logs = []
    for requested in requested_channels:
        logs.append(
            _send_one(conf, event, requested, recipient, context, taken, merchant, images, text)
        )
    return logs


def _checked_images(images: Mapping[str, bytes] | None) -> dict[str, bytes]:
    checked: dict[str, bytes] = {}
    for content_id, data in (images or {}).items():
        if not _CONTENT_ID.match(content_id):
            raise ValueError(f"Not a usable content id for an inline image: {content_id!r}")
        if not bytes(data).startswith(PNG_SIGNATURE):
            raise ValueError(f"The inline image {content_id!r} is not a PNG.")
        checked[content_id] = bytes(data)
    return checked


def _send_one(
    conf: CommunicationSettings,
    event: str,
    requested: str,
    recipient: Recipient,
    context: dict[str, Any],
    taken: set[str],
    merchant: Merchant | None,
    inline_images: dict[str, bytes],
    text: MessageText | None = None,
) -> CommunicationLog:
    text_given = text
    common: dict[str, Any] = {
        "event": event,
        "requested": requested,
        "user": recipient.user,
        "merchant": merchant,
    }
    channel, reason = _choose_channel(conf, requested, recipient, taken)
    if not channel:
        address = recipient.address(requested)
        return _log(
            **common,
            channel=requested,
            address=address,
            status=MessageStatus.SUPPRESSED,
            reason=reason,
        )
    taken.add(channel)
    address = recipient.address(channel)
    if not address:
        return _log(
            **common,
            channel=channel,
            address="",
            status=MessageStatus.SUPPRESSED,
            reason=f"no {channel} address for this recipient",
        )
    limited = limits.recipient_refusal(
        conf, channel=channel, recipient_digest=masking.digest(channel, address)
    )
    if limited:
        return _log(
            **common,
            channel=channel,
            address=address,
            status=MessageStatus.RATE_LIMITED,
            reason=limited,
        )
    if text is None:
        template = template_for(event=event, channel=channel)
        if template is None or template.active_version is None:
            return _log(
                **common,
                channel=channel,
                address=address,
                status=MessageStatus.FAILED,
                reason="no active template",
                error=f"No template for {event} by {channel}.",
            )
        try:
            # The active version, or the last good one when it fails (the note says so).
            text = template_text_for_send(
                template=template, context={"site_name": settings.PLATFORM_NAME, **context}
            )
        except TemplateProblem as exc:
            return _log(
                **common,
                channel=channel,
                address=address,
                status=MessageStatus.FAILED,
                reason="template error",
                error=str(exc),
                template=template,
                template_version=template.active_version.number,
            )
    if text.note:
        reason = f"{reason}; {text.note}" if reason else text.note
    rendered = text.rendered
    message: dict[str, Any] = {
        "to": address,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
    }
    if channel == Channel.EMAIL and inline_images and rendered.html:
        message["inline_images"] = {
            content_id: base64.b64encode(data).decode("ascii")
            for content_id, data in inline_images.items()
        }
    if text_given is None:
        message["fallback"] = _fallback_data(
            event, recipient, context, merchant, inline_images, taken
        )
    payload = crypto.seal(message)
    # Counted against the volume limits now, as it goes to a worker; over one it waits,
    # sealed, for the release task (``release_deferred_messages``) and is never dropped.
    deferral = limits.take_volume(conf, channel=channel, merchant=merchant)
    if deferral is not None:
        reason = _with_deferral(reason, deferral)
    log = _log(
        **common,
        channel=channel,
        address=address,
        status=MessageStatus.QUEUED,
        reason=reason,
        template=text.template,
        template_version=text.version,
        payload=payload,
        deferred_until=deferral.until if deferral else None,
    )
    if deferral is None:
        _dispatch(log.pk)
    return log


def record_not_sent(
    event: str,
    recipient: Recipient,
    *,
    channel: str,
    reason: str,
    merchant: Merchant | None = None,
) -> CommunicationLog:
    """Log a message a feature refused before it reached ``send`` (the one-time code
    switch is off, say): the admin's log shows it as suppressed, with the reason."""
    return _log(
        event=event,
        requested=channel,
        channel=channel,
        address=recipient.address(channel),
        status=MessageStatus.SUPPRESSED,
        reason=reason,
        user=recipient.user,
        merchant=merchant,
    )


def deliver(log_id: int, *, final_attempt: bool, retry_in: int = 0) -> str:
    """Hand one queued message to its backend. Returns ``sent``, ``retry`` (due again in
    ``retry_in`` seconds), ``failed``, ``suppressed`` (its channel, or the one-time code
    switch, was turned off after it was queued) or ``skipped`` (not queued any more,
    another worker holds it, or it is deferred: only ``release_deferred_messages`` lets a
    deferred message go).

    The switches are read from the database here, just before the backend is called. The
    limits are not counted again: the message was counted when it was handed to a worker.
    """
    waiting = CommunicationLog.objects.filter(
        pk=log_id, status=MessageStatus.QUEUED, claimed_at__isnull=True, deferred_until__isnull=True
    )
    found = waiting.values("channel", "event", "payload", "merchant_id").first()
    if found is None:
        return "skipped"
    conf = communication_settings()
    stopped = _switched_off_since(conf, found["channel"], found["event"])
    if stopped:
        # The same conditions as a claim: a message another worker took is left to it.
        if not waiting.update(status=MessageStatus.SUPPRESSED, reason=stopped, payload=""):
            return "skipped"
        logger.info("message_suppressed_at_delivery", log_id=log_id, channel=found["channel"])
        if found["event"] != OTP_CODE or conf.otp_enabled:
            _resend_by_fallback(conf, log_id, found, stopped)
        return "suppressed"
    now = timezone.now()
    if not waiting.update(claimed_at=now, attempts=F("attempts") + 1):
        return "skipped"
    log = CommunicationLog.objects.get(pk=log_id)
    final_attempt = final_attempt or log.attempts >= MAX_ATTEMPTS
    message = crypto.unseal(log.payload)
    outgoing = OutgoingMessage(
        channel=log.channel,
        to=message["to"],
        subject=message["subject"],
        text=message["text"],
        html=message["html"],
        log_id=log.pk,
        inline_images={
            content_id: base64.b64decode(data)
            for content_id, data in message.get("inline_images", {}).items()
        },
    )
    try:
        receipt = backend_for(log.channel).send(outgoing)
    except (TransientError, PermanentError, Exception) as exc:
        transient = not isinstance(exc, PermanentError)
        if transient and not final_attempt:
            CommunicationLog.objects.filter(pk=log_id).update(
                claimed_at=None,
                error=str(exc)[:2000],
                next_attempt_at=now + timedelta(seconds=retry_in),
                dispatched_at=now,
            )
            logger.warning(
                "message_retry", log_id=log_id, channel=log.channel, error=type(exc).__name__
            )
            return "retry"
        _finish(log_id, status=MessageStatus.FAILED, error=str(exc)[:2000], failed_at=now)
        logger.warning(
            "message_failed", log_id=log_id, channel=log.channel, error=type(exc).__name__
        )
        return "failed"
    _finish(
        log_id,
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        provider=receipt.provider,
        provider_message_id=receipt.message_id,
        cost=receipt.cost,
        cost_currency=receipt.cost_currency,
        error="",
    )
    return "sent"


def _switched_off_since(conf: CommunicationSettings, channel: str, event: str) -> str:
    """Why a queued message must not go now, or ``""``."""
    if event == OTP_CODE and not conf.otp_enabled:
        return "one-time codes were switched off after it was queued"
    if conf.is_enabled(channel):
        return ""
    return f"{channel} was switched off after it was queued"


def _fallback_data(
    event: str,
    recipient: Recipient,
    context: dict[str, Any],
    merchant: Merchant | None,
    inline_images: dict[str, bytes],
    taken: set[str],
) -> dict[str, Any] | None:
    """What it takes to write this message again for another channel, sealed with it, so
    a channel switched off after the message was queued can hand it to its fallback.
    None when the context is not plain data (nothing could be written from it then)."""
    try:
        json.dumps(context)
    except (TypeError, ValueError):
        return None
    return {
        "event": event,
        "context": context,
        "email": recipient.email,
        "phone": recipient.phone,
        "push": list(recipient.push_subscriptions),
        "user_id": recipient.user.pk if recipient.user is not None else None,
        "merchant_id": merchant.pk if merchant is not None else None,
        "taken": sorted(taken),
        "images": {
            cid: base64.b64encode(data).decode("ascii") for cid, data in inline_images.items()
        },
    }


def _resend_by_fallback(
    conf: CommunicationSettings, log_id: int, found: Mapping[str, Any], stopped: str
) -> None:
    """Send a message suppressed at delivery by the fallback of its channel, through
    ``send`` (its switch, address and limits apply, and it gets a log row of its own), and
    say on the suppressed row what became of it."""
    chain = _fallback_chain(conf, found["channel"])
    if not chain or not conf.is_enabled(chain[-1]):
        return
    fallback = chain[-1]
    data = crypto.unseal(found["payload"]).get("fallback") if found["payload"] else None
    if not data:
        note = f"; its fallback, {fallback}, cannot take a message written for {found['channel']}"
    elif fallback in data["taken"]:
        note = f"; its fallback, {fallback}, already carries this message"
    else:
        user = User.objects.filter(pk=data["user_id"]).first() if data["user_id"] else None
        merchant = (
            Merchant.objects.filter(pk=data["merchant_id"]).first() if data["merchant_id"] else None
        )
        [log] = send(
            data["event"],
            Recipient(
                email=data["email"],
                phone=data["phone"],
                push_subscriptions=tuple(data["push"]),
                user=user,
            ),
            data["context"],
            channels=[fallback],
            merchant=merchant,
            inline_images={cid: base64.b64decode(b64) for cid, b64 in data["images"].items()},
        )
        note = f"; handed to its fallback, {fallback} (message {log.pk}: {log.status})"
    CommunicationLog.objects.filter(pk=log_id).update(reason=(stopped + note)[:300])


RELEASE_BATCH = 200


def release_deferred_messages(*, batch_size: int = RELEASE_BATCH) -> int:
    """Hand the deferred messages whose hour has come to workers, oldest first, in
    batches; returns how many went. Each counts against the window it goes in, so one
    over a limit again waits for the next hour (with the new reason).

    Each batch is locked skipping rows another worker holds, and a released row loses its
    ``deferred_until`` in the transaction that dispatches it on commit: two releases at
    once never send or count a message twice, and a retry of a released message is
    never counted again. Messages on a channel that is switched off stay deferred until
    it is switched on again (a disabled channel never sends; nothing is dropped)."""
    released = 0
    while True:
        seen, sent = _release_batch(batch_size)
        released += sent
        # Every row seen left the due set (released, or deferred to a later hour).
        if seen < batch_size:
            break
    if released:
        logger.info("deferred_messages_released", count=released)
    return released


def _release_batch(batch_size: int) -> tuple[int, int]:
    conf = communication_settings()
    channels = [channel for channel in Channel if conf.is_enabled(channel)]
    sent = 0
    with transaction.atomic():
        due = list(lock_deferred_messages(now=timezone.now(), channels=channels, limit=batch_size))
        for log in due:
            deferral = limits.take_volume(conf, channel=log.channel, merchant=log.merchant)
            if deferral is not None:
                CommunicationLog.objects.filter(pk=log.pk).update(
                    deferred_until=deferral.until, reason=_with_deferral(log.reason, deferral)
                )
                continue
            now = timezone.now()
            CommunicationLog.objects.filter(pk=log.pk).update(
                deferred_until=None, next_attempt_at=now, dispatched_at=now
            )
            _dispatch(log.pk)
            sent += 1
    return len(due), sent


def _with_deferral(reason: str, deferral: limits.Deferral) -> str:
    """``reason`` (a fallback note, say) with the deferral's reason in place of any
    earlier one."""
    kept = reason.partition("deferred: ")[0].rstrip("; ")
    return (f"{kept}; {deferral.reason}" if kept else deferral.reason)[:300]


SWEEP_BATCH = 200


@dataclass(frozen=True)
class SweepResult:
    released: int = 0  # claims of dead workers released, the message queued again
    redispatched: int = 0  # messages whose task was lost, queued again
    failed: int = 0  # out of attempts: the worker died during each of them


def sweep_stalled_messages(*, batch_size: int = SWEEP_BATCH) -> SweepResult:
    """Every minute: repair what a crash left behind, so each message reaches a final state.

    * A claim older than the claim timeout belongs to a worker that died while sending
      (the task's hard time limit is shorter, so no live worker still holds it). The claim
      is released and the message queued again; its attempt was counted when it was
      claimed, and one out of attempts fails with the reason.
    * A queued message whose attempt is overdue by ``redispatch_after`` (and that was not
      queued again within that time) lost its task, e.g. with a broker restarted without
      its data, and is queued again.

    Rows are taken in batches under ``SKIP LOCKED`` and changed so that they leave the
    swept set in the same transaction: two sweeps at once never queue one message twice.
    A message queued twice anyway (a slow worker) is still sent once: ``deliver`` claims
    it before sending."""
    now = timezone.now()
    released = redispatched = failed = 0
    while True:
        seen, again, dead = _release_claims_batch(now=now, batch_size=batch_size)
        released += again
        failed += dead
        if seen < batch_size:
            break
    while True:
        seen = _redispatch_batch(now=now, batch_size=batch_size)
        redispatched += seen
        if seen < batch_size:
            break
    result = SweepResult(released=released, redispatched=redispatched, failed=failed)
    if released or redispatched or failed:
        logger.warning(
            "stalled_messages_swept", released=released, redispatched=redispatched, failed=failed
        )
    return result


def _release_claims_batch(*, now: datetime, batch_size: int) -> tuple[int, int, int]:
    again: list[int] = []
    dead = 0
    with transaction.atomic():
        stale = list(lock_abandoned_claims(claimed_before=now - claim_timeout(), limit=batch_size))
        for log in stale:
            if log.attempts >= MAX_ATTEMPTS:
                _finish(
                    log.pk,
                    status=MessageStatus.FAILED,
                    failed_at=now,
                    error=f"The worker sending it stopped during each of {log.attempts} "
                    "attempts; not tried again.",
                )
                dead += 1
                continue
            CommunicationLog.objects.filter(pk=log.pk).update(
                claimed_at=None,
                next_attempt_at=now,
                dispatched_at=now,
                error=f"The worker sending it stopped during attempt {log.attempts}; queued again.",
            )
            again.append(log.pk)
    # Dispatched once the rows are released, never from inside the locked batch.
    for log_id in again:
        _dispatch(log_id)
    return len(stale), len(again), dead


def _redispatch_batch(*, now: datetime, batch_size: int) -> int:
    with transaction.atomic():
        lost = list(
            lock_lost_dispatches(
                overdue_before=now - redispatch_after(), limit=batch_size
            ).values_list("pk", flat=True)
        )
        CommunicationLog.objects.filter(pk__in=lost).update(dispatched_at=now)
    for log_id in lost:
        _dispatch(log_id)
    return len(lost)


def _finish(log_id: int, **fields: Any) -> None:
    # The payload holds the rendered message (codes included): gone once it is sent or dead.
    CommunicationLog.objects.filter(pk=log_id).update(payload="", **fields)


def record_delivery_status(
    *,
    provider_message_id: str,
    delivered: bool,
    error: str = "",
    at: datetime | None = None,
    cost: int | None = None,
    cost_currency: str = "",
) -> int:
    """A provider's callback: the message reached the recipient, or did not."""
    when = at or timezone.now()
    fields: dict[str, Any] = (
        {"status": MessageStatus.DELIVERED, "delivered_at": when}
        if delivered
        else {"status": MessageStatus.FAILED, "failed_at": when, "error": error[:2000]}
    )
    if cost is not None:
        fields.update(cost=cost, cost_currency=cost_currency)
    return CommunicationLog.objects.filter(
        provider_message_id=provider_message_id,
        status__in=[MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.QUEUED],
    ).update(**fields)


def record_outcome(
    *,
    channel: str,
    provider_message_id: str,
    delivered: bool,
    error: str = "",
    at: datetime | None = None,
    cost: int | None = None,
    cost_currency: str = "",
) -> int:
    """Record a provider's verdict on one message, at most once.

    The rows are locked first and those already showing this outcome are left alone, so
    two copies of one callback arriving together update the row once.
    """
    if not provider_message_id:
        return 0
    target = MessageStatus.DELIVERED if delivered else MessageStatus.FAILED
    with transaction.atomic():
        pending = list(
            CommunicationLog.objects.select_for_update()
            .filter(channel=channel, provider_message_id=provider_message_id)
            .exclude(status=target)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not pending:
            return 0
        return record_delivery_status(
            provider_message_id=provider_message_id,
            delivered=delivered,
            error=error,
            at=at,
            cost=cost,
            cost_currency=cost_currency,
        )


def send_test_message(
    *, channel: str, recipient: Recipient, recipient_masked: str, actor: User
) -> CommunicationLog:
    """An admin's test message on exactly one channel, and the audit line saying who sent
    it where (the address masked). The row is read back: with eager tasks delivery may
    already have happened, and the row says how it went."""
    now = timezone.localtime()
    [log] = send(
        TEST_MESSAGE,
        recipient,
        {"channel": channel, "sent_at": f"{now.day} {now:%b %Y %H:%M %Z}"},
        channels=[channel],
    )
    log.refresh_from_db()
    logger.info(
        "test_message_sent",
        actor_id=actor.pk,
        channel=channel,
        recipient=recipient_masked,
        log_id=log.pk,
        status=log.status,
    )
    return log


@transaction.atomic
def settings_update(*, actor: User | None, **changes: Any) -> CommunicationSettings:
    """Change the switches and limits on the locked row (two changes at once to different
    settings both stay). Every process reads the row afresh, so the change applies to the
    next message everywhere, however many processes there are."""
    conf = lock_settings()
    for name, value in changes.items():
        # A name that is not a setting (a renamed one, say) must not pass silently.
        CommunicationSettings._meta.get_field(name)
        setattr(conf, name, value)
    conf.updated_by = actor
    conf.full_clean()
    _save_with_history(conf, actor=actor)
    logger.info(
        "communication_settings_changed",
        actor_id=actor.pk if actor is not None else None,
        changed=sorted(changes),
    )
    return conf


def _save_with_history(conf: CommunicationSettings, *, actor: User | None) -> None:
    """Save the settings and, in the same transaction, each value that changed: old -> new
    (the settings page shows them)."""
    stored = dict(CommunicationSettings.objects.filter(pk=conf.pk).values().first() or {})
    changes = {
        field.name: [stored.get(field.attname), getattr(conf, field.attname)]
        for field in CommunicationSettings._meta.concrete_fields
        if field.editable
        and field.name not in ("id", "updated_by")
        and stored.get(field.attname) != getattr(conf, field.attname)
    }
    with transaction.atomic():
        conf.save()
        if changes:
            CommunicationSettingsChange.objects.create(changes=changes, actor=actor)
