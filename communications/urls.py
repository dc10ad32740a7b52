"""Provider callbacks (delivery status) and the browser's Web Push endpoints, at /hooks/."""

from django.urls import URLPattern, path

from communications import webhooks

app_name = "communications"

urlpatterns: list[URLPattern] = [
    path("twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("anymail/<slug:esp>/tracking/", webhooks.anymail_tracking, name="anymail-tracking"),
    path("push/vapid-public-key/", webhooks.vapid_public_key, name="push-vapid-public-key"),
    path("push/subscribe/", webhooks.push_subscription, name="push-subscribe"),
]
