"""The message log's admin pages: analytics (CM-6) and sending a test message (CM-7)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import User
from communications.backends.push import InMemoryPushBackend
from communications.models import CommunicationLog, MessageStatus, PushSubscription
from communications.services import settings_update
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ANALYTICS = reverse("admin:communications_communicationlog_analytics")
TEST_MESSAGE = reverse("admin:communications_communicationlog_test_message")
CHANGELIST = reverse("admin:communications_communicationlog_changelist")
PHONE = "+447700900456"


def at_noon(days_ago: int) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(12)))


def logged(channel: str, status: str, *, days_ago: int = 0, **fields: Any) -> CommunicationLog:
    created = at_noon(days_ago)
    handed_over = status in (MessageStatus.SENT, MessageStatus.DELIVERED)
    return CommunicationLog.objects.create(
        channel=channel,
        requested_channel=channel,
        event=fields.pop("event", "test_message"),
        recipient_masked=fields.pop("recipient_masked", "a***@example.com"),
        recipient_digest="d" * 64,
        status=status,
        created_at=created,
        sent_at=fields.pop("sent_at", created if handed_over else None),
        **fields,
    )


def seed() -> dict[str, CommunicationLog]:
    """Email: 5 handed over (1 delivered, 1 failed afterwards). SMS: 2 delivered, 1 failed
    before sending, 1 suppressed, 1 rate limited. Push: 1 queued. One old email."""
    for days_ago in (0, 0, 1):
        logged("email", "sent", days_ago=days_ago)
    logged("email", "delivered", days_ago=2, cost=2550, cost_currency="EUR")
    bounced = logged(
        "email",
        "failed",
        days_ago=1,
        sent_at=at_noon(1),
        reason="bounced",
        error="550 mailbox unavailable",
        recipient_masked="b***@example.org",
    )
    logged("sms", "delivered", cost=8, cost_currency="USD")
    logged("sms", "delivered", days_ago=3, cost=8, cost_currency="USD")
    unrendered = logged("sms", "failed", days_ago=3, reason="template error")
    logged("sms", "suppressed", reason="sms is switched off and no fallback is set")
    logged(
        "sms",
        "rate_limited",
        reason="limit of 10 text messages an hour to one recipient reached; "
        "more can go to this recipient after 14:00 UTC",
    )
    logged("push", "queued")
    old = logged("email", "failed", days_ago=40, reason="too old to show")
    return {"bounced": bounced, "unrendered": unrendered, "old": old}


def html_of(response: Any) -> str:
    return response.content.decode()


def table(html: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert found, f"no table {table_id}"
    return found.group(1)


def row_cells(html: str, table_id: str, label: str) -> list[str]:
    """The text of each cell of the row whose header is ``label``."""
    for row in re.findall(r"<tr>(.*?)</tr>", table(html, table_id), re.S):
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label} in {table_id}")


@pytest.fixture
def admin_client_(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def staff_with(*codenames: str) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="communications", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


# --- Analytics --------------------------------------------------------------------------


def test_analytics_shows_totals_and_rates_per_channel(admin_client_: Client) -> None:
    seed()
    response = admin_client_.get(ANALYTICS)
    assert response.status_code == 200
    html = html_of(response)
    # Messages, sent, delivered, failed, suppressed, rate limited, queued, rates.
    assert row_cells(html, "totals", "Email") == [
        "5", "5", "1", "1", "0", "0", "0", "20.0%", "20.0%",
    ]  # fmt: skip
    assert row_cells(html, "totals", "SMS") == [
        "5", "2", "2", "1", "1", "1", "0", "100.0%", "33.3%",
    ]  # fmt: skip
    assert row_cells(html, "totals", "Push") == ["1", "0", "0", "0", "0", "0", "1", "n/a", "n/a"]
    assert row_cells(html, "totals", "All channels")[:2] == ["11", "7"]


def test_analytics_shows_costs_as_money_per_channel_and_day(admin_client_: Client) -> None:
    seed()
    html = html_of(admin_client_.get(ANALYTICS))
    assert row_cells(html, "costs", "Email") == ["EUR", "1", "€25.50"]
    assert row_cells(html, "costs", "SMS") == ["USD", "2", "$0.16"]
    today = timezone.localdate()
    today_label = f"{today.day} {today:%b %Y}"
    assert row_cells(html, "per-day-sms", today_label)[-1] == "$0.08"
    assert row_cells(html, "per-day-sms", "Whole period")[-1] == "$0.16"
    assert row_cells(html, "per-day-all", "Whole period")[-1] == "€25.50, $0.16"


def test_analytics_lists_failed_messages_with_a_link_to_each(admin_client_: Client) -> None:
    rows = seed()
    html = html_of(admin_client_.get(ANALYTICS))
    failed = table(html, "failed")
    bounced_url = reverse("admin:communications_communicationlog_change", args=[rows["bounced"].pk])
    assert f'href="{bounced_url}"' in failed
    assert "550 mailbox unavailable" in failed
    assert "b***@example.org" in failed
    assert "template error" in failed
    assert "too old to show" not in failed  # outside the last 30 days


def test_analytics_draws_an_accessible_svg_chart(admin_client_: Client) -> None:
    seed()
    html = html_of(admin_client_.get(ANALYTICS, {"days": "7"}))
    svg = re.search(r"<svg[^>]*role=\"img\"[^>]*>(.*?)</svg>", html, re.S)
    assert svg, "no chart"
    assert 'aria-label="Messages per day, all channels"' in html
    assert "<title>Messages per day, all channels</title>" in svg.group(1)
    assert "<desc" in svg.group(1)
    assert ">Day</text>" in svg.group(1)
    assert ">Messages</text>" in svg.group(1)
    assert len(re.findall(r"<rect ", svg.group(1))) >= 5  # stacked segments on 4 days
    # The chart's numbers are also in a table: 11 messages, 7 sent in all.
    assert row_cells(html, "per-day-all", "Whole period")[:2] == ["11", "7"]
    assert "<script" not in html.split('id="content-main"')[1]


def test_analytics_filters_by_channel_and_dates(admin_client_: Client) -> None:
    seed()
    today = timezone.localdate()
    response = admin_client_.get(
        ANALYTICS,
        {"channel": "sms", "start": str(today - timedelta(days=1)), "end": str(today)},
    )
    html = html_of(response)
    assert row_cells(html, "totals", "SMS")[:4] == ["3", "1", "1", "0"]
    assert "per-day-email" not in html
    assert 'aria-label="Messages per day, SMS"' in html


def test_analytics_reads_one_time_code_figures(admin_client_: Client, monkeypatch) -> None:
    since_seen = []

    def usage(*, since):
        since_seen.append(since)
        return {"issued": 8, "verified": 6, "failed": 1, "expired": 1}

    monkeypatch.setattr("otp.selectors.otp_usage", usage)
    html = html_of(admin_client_.get(ANALYTICS, {"days": "7"}))
    assert re.sub(r"\s+", "", table(html, "otp")).count("<td>") == 5
    cells = re.findall(r"<td>(.*?)</td>", table(html, "otp"))
    assert cells == ["8", "6", "1", "1", "75.0%"]
    assert since_seen[0].date() == timezone.localdate() - timedelta(days=6)


@pytest.mark.parametrize(
    ("query", "field_error"),
    [
        ({"start": "2026-01-10", "end": "2026-01-01"}, "on or after the start date"),
        ({"start": "2024-01-01", "end": "2025-06-01"}, "at most 366 days"),
        ({"start": "2026-01-10"}, "Give an end date as well"),
        ({"start": "yesterday", "end": "2026-01-01"}, "Enter a valid date"),
        ({"days": "9999"}, "Select a valid choice"),
        ({"channel": "fax"}, "Select a valid choice"),
    ],
)
def test_an_invalid_period_is_a_form_error(admin_client_: Client, query, field_error) -> None:
    seed()
    response = admin_client_.get(ANALYTICS, query)
    assert response.status_code == 200
    assertContains(response, field_error)
    assertContains(response, 'class="errornote"')
    assertNotContains(response, 'id="totals"')


def test_a_full_year_is_accepted(admin_client_: Client) -> None:
    response = admin_client_.get(ANALYTICS, {"start": "2025-01-01", "end": "2026-01-01"})
    assertContains(response, 'id="totals"')
    assertContains(response, "(366 days)")


def test_analytics_runs_a_small_fixed_number_of_queries(
    admin_client_: Client, django_assert_max_num_queries
) -> None:
    seed()
    with django_assert_max_num_queries(9):
        assert admin_client_.get(ANALYTICS, {"days": "90"}).status_code == 200
    with CaptureQueriesContext(connection) as few:
        admin_client_.get(ANALYTICS, {"days": "90"})
    for days_ago in range(60):
        logged("email", "failed", days_ago=days_ago, reason="more")
        logged("sms", "sent", days_ago=days_ago, cost=8, cost_currency="USD")
    with CaptureQueriesContext(connection) as many:
        admin_client_.get(ANALYTICS, {"days": "90"})
    assert len(many) == len(few)


def test_analytics_needs_staff(client: Client) -> None:
    client.force_login(UserFactory())
    response = client.get(ANALYTICS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_analytics_needs_the_view_permission() -> None:
    assert staff_with().get(ANALYTICS).status_code == 403
    assert staff_with("view_communicationlog").get(ANALYTICS).status_code == 200


def test_analytics_is_read_only(admin_client_: Client) -> None:
    assert admin_client_.post(ANALYTICS).status_code == 405


def test_the_log_list_links_to_both_pages(admin_client_: Client) -> None:
    response = admin_client_.get(CHANGELIST)
    assertContains(response, f'<a href="{ANALYTICS}">Analytics</a>', html=True)
    assertContains(response, f'<a href="{TEST_MESSAGE}">Send a test message</a>', html=True)
    response = admin_client_.get(reverse("admin:app_list", args=["communications"]))
    assertContains(response, ANALYTICS)


def test_the_log_list_offers_a_test_message_only_with_the_permission() -> None:
    response = staff_with("view_communicationlog").get(CHANGELIST)
    assertContains(response, f'href="{ANALYTICS}"')
    assertNotContains(response, f'href="{TEST_MESSAGE}"')


# --- Test message -----------------------------------------------------------------------


def test_a_test_sms_is_sent_and_its_outcome_shown(admin_client_: Client, sms_outbox) -> None:
    response = admin_client_.post(
        TEST_MESSAGE, {"channel": "sms", "recipient": "+44 7700 900456"}, follow=True
    )
    assert response.status_code == 200
    log = CommunicationLog.objects.get()
    assert (log.event, log.channel, log.status) == ("test_message", "sms", "sent")
    [sms] = sms_outbox
    assert sms.to == PHONE
    assert "This is a test sms message" in sms.text
    html = html_of(response)
    outcome = table(html, "outcome-table")
    assert "<strong>Sent</strong>" in outcome
    assert log.provider_message_id in outcome
    assert "+44*****56" in outcome
    assert PHONE not in html
    change_url = reverse("admin:communications_communicationlog_change", args=[log.pk])
    assertContains(response, f'href="{change_url}"')


def test_a_test_email_is_sent(admin_client_: Client) -> None:
    admin_client_.post(TEST_MESSAGE, {"channel": "email", "recipient": "Ops@Example.COM"})
    log = CommunicationLog.objects.get()
    assert (log.channel, log.status, log.recipient_masked) == ("email", "sent", "o***@example.com")
    assert mail.outbox[0].to == ["ops@example.com"]


def test_a_switched_off_channel_is_reported_as_suppressed(
    admin_client_: Client, sms_outbox
) -> None:
    settings_update(actor=None, sms_enabled=False, sms_fallback="")
    response = admin_client_.post(TEST_MESSAGE, {"channel": "sms", "recipient": PHONE}, follow=True)
    log = CommunicationLog.objects.get()
    assert log.status == "suppressed"
    assert sms_outbox == []
    assert mail.outbox == []
    outcome = table(html_of(response), "outcome-table")
    assert "<strong>Suppressed</strong>" in outcome
    assert "sms is switched off and no fallback is set" in outcome
    assertContains(response, "the SMS channel is switched off")


def test_a_test_message_held_back_by_the_hourly_volume_says_it_waits(
    admin_client_: Client,
) -> None:
    settings_update(actor=None, email_platform_hourly_limit=1)
    admin_client_.post(TEST_MESSAGE, {"channel": "email", "recipient": "ops@example.com"})
    response = admin_client_.post(
        TEST_MESSAGE, {"channel": "email", "recipient": "ops@example.com"}, follow=True
    )
    held = CommunicationLog.objects.order_by("pk").last()
    assert held is not None
    assert (held.status, held.deferred_until is not None) == ("queued", True)
    assert len(mail.outbox) == 1
    assertContains(response, "Waiting: an hourly sending limit holds it back")
    outcome = table(html_of(response), "outcome-table")
    assert "deferred: the platform&#x27;s own messages (no merchant) reached their 1 email" in (
        outcome
    )


def test_a_switched_off_channel_never_falls_back_to_another_address(
    admin_client_: Client, sms_outbox
) -> None:
    settings_update(actor=None, sms_enabled=False, sms_fallback="email")
    admin_client_.post(TEST_MESSAGE, {"channel": "sms", "recipient": PHONE})
    log = CommunicationLog.objects.get()
    assert log.status == "suppressed"
    assert mail.outbox == []
    assert sms_outbox == []


@pytest.mark.parametrize(
    ("channel", "recipient", "error"),
    [
        ("sms", "07700 900123", "international format"),
        ("sms", "ana@example.com", "international format"),
        ("email", "not-an-address", "Enter a valid email address"),
        ("push", "nobody@example.com", "No account has this email address"),
        ("fax", "+447700900123", "Select a valid choice"),
        ("sms", "", "This field is required"),
    ],
)
def test_an_invalid_recipient_sends_nothing(
    admin_client_: Client, sms_outbox, channel, recipient, error
) -> None:
    response = admin_client_.post(TEST_MESSAGE, {"channel": channel, "recipient": recipient})
    assert response.status_code == 200
    assertContains(response, error)
    assertContains(response, "Nothing was sent")
    assert not CommunicationLog.objects.exists()
    assert sms_outbox == []
    assert mail.outbox == []


def test_push_needs_a_person_with_a_subscription(admin_client_: Client) -> None:
    UserFactory(email="nopush@example.com")
    response = admin_client_.post(
        TEST_MESSAGE, {"channel": "push", "recipient": "nopush@example.com"}
    )
    assertContains(response, "has not allowed push notifications")
    assert not CommunicationLog.objects.exists()
    assert InMemoryPushBackend.outbox == []


def test_a_test_push_goes_to_the_persons_browsers(admin_client_: Client) -> None:
    settings_update(actor=None, push_enabled=True)
    person = UserFactory(email="pushy@example.com")
    PushSubscription.objects.create(
        user=person,
        endpoint="https://fcm.googleapis.com/fcm/send/abc",
        p256dh="BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        auth="tBHItJI5svbpez7KI4CCXg",
    )
    admin_client_.post(TEST_MESSAGE, {"channel": "push", "recipient": "Pushy@example.com"})
    log = CommunicationLog.objects.get()
    assert (log.channel, log.status, log.user) == ("push", "sent", person)
    assert len(InMemoryPushBackend.outbox) == 1


def test_the_test_message_page_needs_its_permission(sms_outbox) -> None:
    viewer = staff_with("view_communicationlog")
    assert viewer.get(TEST_MESSAGE).status_code == 403
    assert viewer.post(TEST_MESSAGE, {"channel": "sms", "recipient": PHONE}).status_code == 403
    assert not CommunicationLog.objects.exists()
    assert sms_outbox == []
    assert staff_with("send_test_message").get(TEST_MESSAGE).status_code == 200


def test_the_test_message_page_needs_staff(client: Client, sms_outbox) -> None:
    client.force_login(UserFactory())
    response = client.post(TEST_MESSAGE, {"channel": "sms", "recipient": PHONE})
    assert response.status_code == 302
    assert not CommunicationLog.objects.exists()
    assert sms_outbox == []


def test_sending_needs_a_csrf_token(admin_user: User, sms_outbox) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(TEST_MESSAGE, {"channel": "sms", "recipient": PHONE})
    assert response.status_code == 403
    assert sms_outbox == []
    assert not CommunicationLog.objects.exists()


def test_the_audit_line_masks_the_recipient(admin_client_: Client, sms_outbox) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as lines:
        admin_client_.post(TEST_MESSAGE, {"channel": "sms", "recipient": PHONE})
    [line] = [entry for entry in lines if entry["event"] == "test_message_sent"]
    assert line["recipient"] == "+44*****56"
    assert line["status"] == "sent"
    assert PHONE not in repr(lines)


def test_the_outcome_shows_only_test_messages(admin_client_: Client) -> None:
    other = logged("email", "sent", event="password_reset")
    response = admin_client_.get(TEST_MESSAGE, {"sent": other.pk})
    assertNotContains(response, 'id="outcome-table"')


def test_the_default_period_is_shown_as_chosen(admin_client_: Client) -> None:
    response = admin_client_.get(ANALYTICS, {"channel": "sms"})
    assertContains(response, '<option value="30" selected>Last 30 days</option>', html=True)
    today = timezone.localdate()
    assertContains(response, f"{(today - timedelta(days=29)).day} ")
