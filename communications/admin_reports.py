"""The message log's extra admin pages: analytics (CM-6) and "send a test message" (CM-7).

Analytics shows the report built by ``communications.reports`` (a fixed handful of
grouped queries, whatever the period), with its chart drawn by ``communications.charts``
as inline SVG on the server and the same figures in tables for people who cannot see the
chart. The test message goes through ``communications.services.send`` like every other
message, so a switched-off channel is suppressed here too, and the page says so.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from accounts.http import signed_in_user
from communications.forms_reports import DEFAULT_DAYS, AnalyticsFilterForm, TestMessageForm
from communications.models import Channel, CommunicationLog, Event, MessageStatus
from communications.reports import analytics_report
from communications.selectors import communication_settings
from communications.services import send_test_message

TEST_MESSAGE_PERMISSION = "communications.send_test_message"

STATUS_EXPLANATIONS = {
    MessageStatus.QUEUED: (
        "Waiting for a worker to hand it to the provider. Reload this page to see the outcome."
    ),
    MessageStatus.SENT: (
        "Handed to the provider. Delivery is confirmed later, when the provider reports it."
    ),
    MessageStatus.DELIVERED: "The provider confirmed delivery.",
    MessageStatus.FAILED: "Not delivered: the provider refused it or sending failed.",
    MessageStatus.SUPPRESSED: (
        "Not sent: the platform suppressed it, as it does for every message in this case."
    ),
    MessageStatus.RATE_LIMITED: "Not sent: the hourly limit per recipient was reached.",
}
DEFERRED_EXPLANATION = (
    "Waiting: an hourly sending limit holds it back (the reason says which). It goes out "
    "when the next hour has room; nothing is lost."
)
OUTCOME_LEVELS = {
    MessageStatus.QUEUED: messages.INFO,
    MessageStatus.SENT: messages.SUCCESS,
    MessageStatus.DELIVERED: messages.SUCCESS,
    MessageStatus.FAILED: messages.ERROR,
    MessageStatus.SUPPRESSED: messages.WARNING,
    MessageStatus.RATE_LIMITED: messages.WARNING,
}


class MessageReportsMixin(admin.ModelAdmin[CommunicationLog]):
    """Adds the analytics and test-message pages under the message log's admin URLs."""

    change_list_template = "admin/communications/communicationlog/change_list.html"
    analytics_template = "admin/communications/communicationlog/analytics.html"
    test_message_template = "admin/communications/communicationlog/test_message.html"

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own: list[Any] = [
            path(
                "analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name=f"{prefix}_analytics",
            ),
            path(
                "test/",
                self.admin_site.admin_view(self.test_message_view),
                name=f"{prefix}_test_message",
            ),
        ]
        # Before the model's own URLs, whose "<object_id>/" would take these paths.
        urls: list[Any] = super().get_urls()
        return own + urls

    def _url(self, page: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{page}",
            args=args,
            current_app=self.admin_site.name,
        )

    def _can_send_test(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(TEST_MESSAGE_PERMISSION))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "analytics_url": self._url("analytics"),
            "test_message_url": self._url("test_message") if self._can_send_test(request) else "",
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def _page_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "changelist_url": self._url("changelist"),
            "analytics_url": self._url("analytics"),
            "test_message_url": self._url("test_message") if self._can_send_test(request) else "",
        }

    def analytics_view(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        data = request.GET.copy()
        if not data.get("days"):
            data["days"] = DEFAULT_DAYS  # what the page shows when no preset is chosen
        form = AnalyticsFilterForm(data)
        report = None
        if form.is_valid():
            report = analytics_report(
                period=form.period(),
                channel=form.channel_value(),
                log_url=lambda log: self._url("change", log.pk),
            )
        context = {
            **self._page_context(request, "Message analytics"),
            "form": form,
            "report": report,
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(request, self.analytics_template, context)

    def test_message_view(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        if not self._can_send_test(request):
            raise PermissionDenied
        if request.method == "POST":
            form = TestMessageForm(request.POST)
            if form.is_valid():
                log = self._send_test(request, form)
                self.message_user(
                    request,
                    f"Test message by {log.get_channel_display()}: {log.get_status_display()}.",
                    level=OUTCOME_LEVELS.get(MessageStatus(log.status), messages.INFO),
                )
                return HttpResponseRedirect(f"{self._url('test_message')}?sent={log.pk}")
        outcome = self._outcome(request)
        if request.method != "POST":
            # Ready to try again on the same channel, e.g. after switching it back on.
            last = outcome["log"].requested_channel if outcome else Channel.EMAIL
            form = TestMessageForm(initial={"channel": last})
        context = {
            **self._page_context(request, "Send a test message"),
            "form": form,
            "outcome": outcome,
        }
        return TemplateResponse(request, self.test_message_template, context)

    def _send_test(self, request: HttpRequest, form: TestMessageForm) -> CommunicationLog:
        target = form.target()
        return send_test_message(
            channel=target.channel,
            recipient=target.recipient,
            recipient_masked=target.address_masked,
            actor=signed_in_user(request),
        )

    def _outcome(self, request: HttpRequest) -> dict[str, Any] | None:
        """The test message named in ``?sent=``, read afresh (it may have been queued)."""
        raw = request.GET.get("sent", "")
        if not raw.isdigit():
            return None
        log = CommunicationLog.objects.filter(pk=int(raw), event=Event.TEST_MESSAGE).first()
        if log is None:
            return None
        status = MessageStatus(log.status)
        switched_off = (
            status == MessageStatus.SUPPRESSED
            and not communication_settings().is_enabled(log.requested_channel)
        )
        return {
            "log": log,
            "explanation": (
                DEFERRED_EXPLANATION if log.deferred_until else STATUS_EXPLANATIONS[status]
            ),
            "switched_off": switched_off,
            "settings_url": reverse(
                "admin:communications_communicationsettings_changelist",
                current_app=self.admin_site.name,
            ),
            "not_sent": status in (MessageStatus.SUPPRESSED, MessageStatus.RATE_LIMITED),
            "failed": status == MessageStatus.FAILED,
            "log_url": self._url("change", log.pk) if self.has_view_permission(request) else "",
        }
