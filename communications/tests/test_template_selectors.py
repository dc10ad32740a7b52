"""A message whose active text fails goes out with the last good text (CM-4): the
versions active before, by the activation history, then the shipped text; the log row
says which and why, and never quotes a value of the message."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core import mail

from accounts.models import User
from communications.models import (
    CommunicationTemplate,
    Event,
    MessageStatus,
    TemplateActivation,
    TemplateVersion,
)
from communications.services import Recipient, send
from communications.template_services import (
    template_version_activate,
    template_version_create,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ANA = Recipient(email="ana@example.com")
GIFT = {
    "recipient_name": "Ana",
    "sender_name": "Ben",
    "merchant_name": "Bluebird",
    "amount": "€25.00",
    "code": "7KQ2-M9XD-4HTR-ZB6W",
    "message": "",  # a gift without a message
    "card_url": "https://gifts.example.com/gift/t/abc/",
    "expires_on": "1 Jan 2030",
}


@pytest.fixture
def editor() -> User:
    return UserFactory(email="editor@example.com", is_staff=True)


def gift_card_email() -> CommunicationTemplate:
    return CommunicationTemplate.objects.select_related("active_version").get(
        event=Event.GIFT_CARD_DELIVERED, channel="email"
    )


def publish(template: CommunicationTemplate, subject: str, actor: User) -> TemplateVersion:
    assert template.active_version is not None
    return template_version_create(
        template=template,
        subject=subject,
        body_text=template.active_version.body_text,
        body_html=template.active_version.body_html,
        note="",
        actor=actor,
    )


def saved_by_an_older_release(template: CommunicationTemplate, **parts: str) -> TemplateVersion:
    """A version an older release accepted (before the empty and absent checks), active."""
    assert template.active_version is not None
    active = template.active_version
    version = TemplateVersion.objects.create(
        template=template,
        number=template.versions.count() + 1,
        subject=parts.get("subject", active.subject),
        body_text=parts.get("body_text", active.body_text),
        body_html=parts.get("body_html", active.body_html),
    )
    template.active_version = version
    template.save(update_fields=["active_version"])
    return version


def send_gift(django_capture_on_commit_callbacks: Any, **changes: Any) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        [log] = send(Event.GIFT_CARD_DELIVERED, ANA, {**GIFT, **changes})
    log.refresh_from_db()
    return log


def test_a_text_failing_for_a_gift_without_a_message_falls_back_to_the_last_good_one(
    django_capture_on_commit_callbacks: Any, editor: User
) -> None:
    template = gift_card_email()
    good = publish(template, "A gift from {{ sender_name }}", editor)
    failing = saved_by_an_older_release(template, body_text="{{ message[3] }}")

    log = send_gift(django_capture_on_commit_callbacks)

    assert log.status == MessageStatus.SENT
    assert log.template_version == good.number
    assert log.reason == (
        f"sent with v{good.number}, the last good version: v{failing.number} did not render "
        "(Text body: could not be rendered: str object has no element 3)"
    )
    [email] = mail.outbox
    assert email.subject == "A gift from Ben"


def test_the_last_good_version_follows_the_history_not_the_numbers(
    django_capture_on_commit_callbacks: Any, editor: User
) -> None:
    template = gift_card_email()
    shipped = template.active_version
    assert shipped is not None
    publish(template, "Version two", editor)
    publish(template, "Version three", editor)
    template_version_activate(version=shipped, actor=editor)  # v3 was rolled back
    saved_by_an_older_release(template, body_text="{{ message[3] }}")

    log = send_gift(django_capture_on_commit_callbacks)

    assert log.status == MessageStatus.SENT
    assert log.template_version == shipped.number  # active before, not the newest number
    assert mail.outbox[0].subject == "Ben sent you a €25.00 gift card for Bluebird"


def test_a_draft_is_never_sent_in_place_of_a_failing_text(
    django_capture_on_commit_callbacks: Any, editor: User
) -> None:
    template = gift_card_email()
    shipped = template.active_version
    assert shipped is not None
    draft = template_version_create(
        template=template,
        subject="Draft subject",
        body_text=shipped.body_text,
        body_html=shipped.body_html,
        note="",
        actor=editor,
        publish=False,
    )
    template.refresh_from_db()
    assert template.active_version == shipped
    saved_by_an_older_release(template, body_text="{{ message[3] }}")

    log = send_gift(django_capture_on_commit_callbacks)

    assert log.template_version == shipped.number
    assert log.template_version != draft.number
    assert mail.outbox[0].subject != "Draft subject"


def test_the_shipped_text_is_used_when_no_earlier_version_renders(
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = gift_card_email()
    TemplateVersion.objects.filter(template=template).update(body_text="{{ message[3] }}")

    log = send_gift(django_capture_on_commit_callbacks)

    assert log.status == MessageStatus.SENT
    assert log.template_version is None
    assert log.reason.startswith("sent with the shipped default text: v1 did not render")
    assert "Your code: 7KQ2-M9XD-4HTR-ZB6W" in mail.outbox[0].body


def test_the_fallback_never_quotes_a_value_of_the_message(
    django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    template = gift_card_email()
    # A lookup that fails names its key: here the card's code.
    saved_by_an_older_release(template, body_text="{{ {}[code] }}")
    caplog.set_level(logging.INFO)

    log = send_gift(django_capture_on_commit_callbacks)

    assert log.status == MessageStatus.SENT
    assert "did not render" in log.reason
    assert "[value]" in log.reason
    assert GIFT["code"] not in log.reason + log.error
    assert "template_fallback" in caplog.text
    assert GIFT["code"] not in caplog.text


def test_every_published_version_and_rollback_is_in_the_history(editor: User) -> None:
    template = gift_card_email()
    shipped = template.active_version
    assert shipped is not None
    second = publish(template, "Version two", editor)
    template_version_activate(version=shipped, actor=editor)
    template_version_activate(version=second, actor=editor)

    history = list(
        TemplateActivation.objects.filter(template=template)
        .order_by("-created_at", "-id")
        .values_list("kind", "version__number", "previous__number", "actor__email")[:3]
    )

    assert history == [
        ("activated", 2, 1, "editor@example.com"),
        ("rolled_back", 1, 2, "editor@example.com"),
        ("published", 2, 1, "editor@example.com"),
    ]
