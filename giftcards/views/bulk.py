"""Dashboard pages: bulk."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
