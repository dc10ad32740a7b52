"""Inline images in email (SF-5): a card's QR code travels inside the message, in a
multipart/related part next to the HTML that shows it by ``cid:``; sealed with the rest
of the message while queued and wiped once sent; other channels leave it out. Plus the
data migration that gives installs still on the shipped gift card email the QR code."""

from __future__ import annotations

import base64
import importlib
import io
from email import message_from_bytes, policy
from email.message import Message

import pytest
from django.apps import apps
from django.core import mail
from PIL import Image

from communications import crypto
from communications.defaults import shipped_default, upgrade_shipped_default
from communications.models import (
    CommunicationLog,
    CommunicationTemplate,
    Event,
    MessageStatus,
    TemplateVersion,
)
from communications.services import Recipient, deliver, send
from communications.template_services import template_version_create
from giftcards.messages import GIFT_CARD_EMAIL_V1
from tests.smtp import Mailbox

pytestmark = pytest.mark.django_db

ANA = Recipient(email="ana@example.com", phone="+447700900123")
CARD = {
    "recipient_name": "Ana",
    "sender_name": "Ben",
    "merchant_name": "Bluebird",
    "amount": "€25.00",
    "code": "7KQ2-M9XD-4HTR-ZB6W",
    "message": "Enjoy!",
    "card_url": "https://gifts.example.com/gift/t/abc/",
    "expires_on": "1 Jan 2030",
}
CHANGED = {"user_email": "ana@example.com"}  # password_changed: a text-only email


def png(colour: str = "red", size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, "PNG")
    return buffer.getvalue()


def tree(part: Message) -> object:
    """The MIME structure as nested (content type, children) tuples."""
    if part.is_multipart():
        return (part.get_content_type(), [tree(child) for child in part.get_payload()])
    return part.get_content_type()


def parts(message: Message) -> dict[str, Message]:
    return {part.get_content_type(): part for part in message.walk()}


def test_the_image_sits_in_a_related_part_with_the_html_that_shows_it() -> None:
    image = png()
    [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD, inline_images={"card-qr": image})
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT

    [email] = mail.outbox
    built = email.message()
    assert tree(built) == (
        "multipart/alternative",
        ["text/plain", ("multipart/related", ["text/html", "image/png"])],
    )
    found = parts(built)
    related, picture = found["multipart/related"], found["image/png"]
    assert related.get_param("type") == "text/html"
    assert picture["Content-ID"] == "<card-qr>"
    assert picture.get_content_disposition() == "inline"
    assert picture.get_payload(decode=True) == image
    html = found["text/html"].get_payload(decode=True).decode()
    assert '<img src="cid:card-qr" alt="QR code of your card" width="160" height="160">' in html
    assert "cid:" not in email.body  # the text alternative has no image to point at
    # The whole message survives a round trip through bytes, as a client would read it.
    reread = message_from_bytes(built.as_bytes(), policy=policy.default)
    assert parts(reread)["image/png"].get_content() == image


def test_the_image_is_sealed_while_queued_and_wiped_once_sent(settings) -> None:
    settings.COMMUNICATIONS_DISPATCH_ON_COMMIT = True  # nothing is sent before commit
    image = png("blue")
    [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD, inline_images={"card-qr": image})
    queued = CommunicationLog.objects.get(pk=log.pk)
    assert queued.status == MessageStatus.QUEUED
    assert base64.b64encode(image).decode() not in queued.payload  # encrypted, not encoded
    sealed = crypto.unseal(queued.payload)
    assert base64.b64decode(sealed["inline_images"]["card-qr"]) == image

    assert deliver(log.pk, final_attempt=False) == "sent"
    log.refresh_from_db()
    assert (log.status, log.payload) == (MessageStatus.SENT, "")
    assert parts(mail.outbox[0].message())["image/png"].get_payload(decode=True) == image


def test_sms_ignores_inline_images(sms_outbox) -> None:
    image = png()
    email_log, sms_log = send(
        Event.GIFT_CARD_DELIVERED,
        ANA,
        CARD,
        channels=["email", "sms"],
        inline_images={"card-qr": image},
    )
    email_log.refresh_from_db()
    sms_log.refresh_from_db()
    assert (email_log.status, sms_log.status) == ("sent", "sent")
    assert (email_log.payload, sms_log.payload) == ("", "")
    [text] = sms_outbox
    assert dict(text.inline_images) == {}
    assert "cid:" not in text.text
    [email] = mail.outbox
    assert parts(email.message())["image/png"]["Content-ID"] == "<card-qr>"


def test_a_text_only_email_goes_without_the_images() -> None:
    [log] = send(Event.PASSWORD_CHANGED, ANA, CHANGED, inline_images={"card-qr": png()})
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    [email] = mail.outbox
    assert email.attachments == []
    assert tree(email.message()) == "text/plain"


def test_an_email_without_images_keeps_its_plain_alternative_structure() -> None:
    send(Event.GIFT_CARD_DELIVERED, ANA, CARD)
    assert tree(mail.outbox[0].message()) == ("multipart/alternative", ["text/plain", "text/html"])


@pytest.mark.parametrize(
    ("images", "problem"),
    [
        ({"card qr": png()}, "content id"),
        ({"<card-qr>": png()}, "content id"),
        ({"card-qr": b"GIF89a not a png"}, "not a PNG"),
    ],
)
def test_unusable_images_are_refused_before_anything_is_logged(images, problem) -> None:
    with pytest.raises(ValueError, match=problem):
        send(Event.GIFT_CARD_DELIVERED, ANA, CARD, inline_images=images)
    assert CommunicationLog.objects.count() == 0
    assert mail.outbox == []


# --- Over real SMTP -----------------------------------------------------------------------


@pytest.fixture
def smtp(smtp_server: Mailbox, monkeypatch) -> Mailbox:
    monkeypatch.setattr("communications.tasks.backoff", lambda retries: 0)
    return smtp_server


def test_the_image_reaches_a_real_smtp_server_inline(smtp: Mailbox) -> None:
    image = png("green", size=16)
    [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD, inline_images={"card-qr": image})
    log.refresh_from_db()
    assert (log.status, log.payload) == (MessageStatus.SENT, "")

    [(_, rcpt_tos, message)] = smtp.received
    assert rcpt_tos == ["ana@example.com"]
    assert tree(message) == (
        "multipart/alternative",
        ["text/plain", ("multipart/related", ["text/html", "image/png"])],
    )
    found = parts(message)
    picture = found["image/png"]
    assert picture["Content-ID"] == "<card-qr>"
    assert picture.get_content_disposition() == "inline"
    assert picture.get_content() == image
    assert Image.open(io.BytesIO(picture.get_content())).size == (16, 16)
    assert 'src="cid:card-qr"' in found["text/html"].get_content()
    assert CARD["code"] in found["text/html"].get_content()


# --- The data migration: the QR code for installs still on the shipped email ----------------


def gift_card_email() -> CommunicationTemplate:
    return CommunicationTemplate.objects.select_related("active_version").get(
        event=Event.GIFT_CARD_DELIVERED, channel="email"
    )


def as_first_shipped() -> CommunicationTemplate:
    """The gift card email of an install made before the QR code: version 1 as shipped."""
    template = gift_card_email()
    TemplateVersion.objects.filter(template=template).update(
        subject=GIFT_CARD_EMAIL_V1["subject"],
        body_text=GIFT_CARD_EMAIL_V1["text"],
        body_html=GIFT_CARD_EMAIL_V1["html"],
    )
    return gift_card_email()


def upgrade() -> bool:
    return upgrade_shipped_default(
        CommunicationTemplate,
        TemplateVersion,
        event="gift_card_delivered",
        channel="email",
        previous=GIFT_CARD_EMAIL_V1,
    )


def test_a_fresh_install_ships_the_email_with_the_qr_code() -> None:
    template = gift_card_email()
    assert template.active_version is not None
    assert template.active_version.number == 1
    assert 'src="cid:card-qr"' in template.active_version.body_html
    assert upgrade() is False  # already current: no second version
    assert template.versions.count() == 1


def test_an_untouched_first_version_gets_a_second_with_the_qr_code() -> None:
    template = as_first_shipped()
    assert "cid:" not in template.active_version.body_html

    assert upgrade() is True

    template = gift_card_email()
    active = template.active_version
    assert active.number == 2
    assert active.body_html == shipped_default("gift_card_delivered", "email")["html"]
    assert '<img src="cid:card-qr" alt="QR code of your card"' in active.body_html
    assert (active.subject, active.body_text) == (
        GIFT_CARD_EMAIL_V1["subject"],
        GIFT_CARD_EMAIL_V1["text"],
    )
    first = template.versions.get(number=1)
    assert first.body_html == GIFT_CARD_EMAIL_V1["html"]  # history kept: a rollback works
    assert upgrade() is False  # running again adds nothing


def test_an_admin_edited_template_is_left_alone(admin_user) -> None:
    template = as_first_shipped()
    mine = template_version_create(
        template=template,
        subject="A gift from {{ sender_name }}",
        body_text="Your code: {{ code }}",
        body_html="<p>Your code: {{ code }}</p>",
        note="Ours",
        actor=admin_user,
    )

    assert upgrade() is False

    template = gift_card_email()
    assert template.active_version_id == mine.pk
    assert template.versions.count() == 2


def test_an_edited_first_version_is_left_alone() -> None:
    template = as_first_shipped()
    TemplateVersion.objects.filter(template=template, number=1).update(
        body_html=GIFT_CARD_EMAIL_V1["html"] + "<p>Thank you for shopping local.</p>"
    )

    assert upgrade() is False
    assert gift_card_email().versions.count() == 1


def test_the_migration_runs_the_upgrade() -> None:
    as_first_shipped()
    migration = importlib.import_module("communications.migrations.0005_gift_card_email_qr_code")

    migration.forwards(apps, None)

    assert gift_card_email().active_version.number == 2
    assert "cid:card-qr" in gift_card_email().active_version.body_html
