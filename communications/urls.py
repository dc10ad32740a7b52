"""Provider callbacks (delivery status)."""

from django.urls import URLPattern

app_name = "communications"

urlpatterns: list[URLPattern] = []
