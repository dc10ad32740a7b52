"""Email over real SMTP (CM-8): a server on 127.0.0.1 receives what ``send`` rendered, and
a server that says "try later" is retried, then the message fails."""

from __future__ import annotations

import pytest

from communications.models import Event, MessageStatus
from communications.services import Recipient, send
from tests.smtp import Mailbox, free_port

pytestmark = pytest.mark.django_db

RESET = {
    "user_email": "ana@example.com",
    "password_reset_url": "https://gifts.example.com/accounts/password/reset/key/1-abc/",
}


@pytest.fixture
def smtp(settings, smtp_server: Mailbox, monkeypatch) -> Mailbox:
    settings.DEFAULT_FROM_EMAIL = "Giftwell <no-reply@gifts.example.com>"
    settings.COMMUNICATIONS_MESSAGE_ID_DOMAIN = "gifts.example.com"
    monkeypatch.setattr("communications.tasks.backoff", lambda retries: 0)
    return smtp_server


def test_the_rendered_email_reaches_a_real_smtp_server(smtp: Mailbox) -> None:
    [log] = send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET)
    log.refresh_from_db()
    assert (log.status, log.attempts, log.provider) == (MessageStatus.SENT, 1, "EmailBackend")

    [(mail_from, rcpt_tos, message)] = smtp.received
    assert mail_from == "no-reply@gifts.example.com"
    assert rcpt_tos == ["ana@example.com"]
    assert message["To"] == "ana@example.com"
    assert "password" in message["Subject"].lower()
    assert message["Message-ID"] == f"<{log.provider_message_id}>"
    assert log.provider_message_id.endswith("@gifts.example.com")
    assert message["X-Giftwell-Log"] == str(log.pk)
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert RESET["password_reset_url"] in text.get_content()
    assert RESET["password_reset_url"] in html.get_content()
    assert "<" in html.get_content()  # real markup, not the text part again


def test_a_server_that_says_try_later_is_retried_then_the_message_fails(smtp: Mailbox) -> None:
    smtp.reply = "451 4.3.0 Try again later"
    [log] = send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET)
    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.FAILED, 6)  # first try + 5 retries
    assert smtp.attempts == 6
    assert "451" in log.error
    assert smtp.received == []
    assert log.payload == ""  # the reset link does not stay behind in the log


def test_a_server_that_recovers_gets_the_message_once(smtp: Mailbox, monkeypatch) -> None:
    replies = iter(["451 4.3.0 Try again later", "250 OK"])
    original = Mailbox.handle_DATA

    async def recovering(self, server, session, envelope):
        self.reply = next(replies)
        return await original(self, server, session, envelope)

    monkeypatch.setattr(Mailbox, "handle_DATA", recovering)
    [log] = send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET)
    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.SENT, 2)
    assert len(smtp.received) == 1


def test_a_refused_message_fails_at_once(smtp: Mailbox) -> None:
    smtp.reply = "554 5.7.1 Message rejected"
    [log] = send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET)
    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.FAILED, 1)
    assert "554" in log.error
    assert smtp.attempts == 1


def test_a_server_that_is_not_there_is_retried_then_failed(settings, smtp: Mailbox) -> None:
    settings.EMAIL_PORT = free_port()  # nothing listens there
    [log] = send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET)
    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.FAILED, 6)
    assert "ConnectionRefusedError" in log.error
    assert smtp.attempts == 0
